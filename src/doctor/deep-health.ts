/**
 * GET /api/health?deep=1: the doctor's checks, run by the deployed app itself (its own identity,
 * network and settings), for operators and auditors only (the policy's `auditors`). The answer
 * names dependencies and fixes, never secrets; everyone else keeps the plain liveness answer.
 */
import { BrokerError } from '../errors.js';
import type { IdentityVerifier } from '../broker/ports.js';
import type { PolicyConfig } from '../policy/schema.js';
import { isAuditor } from '../policy/profiles.js';
import { runDoctor, type DoctorDeps, type DoctorLine } from './checks.js';

export interface DeepHealthAnswer {
  status: 'ok' | 'degraded';
  checks: DoctorLine[];
}

export type DeepHealth = (authorization: string | undefined) => Promise<{ httpStatus: 200 | 503; body: DeepHealthAnswer }>;

export function createDeepHealth(options: { policy: PolicyConfig; verifier: IdentityVerifier; doctor: () => Promise<{ deps: DoctorDeps; close: () => Promise<void> }> }): DeepHealth {
  return async (authorization) => {
    if (!authorization) throw new BrokerError('invalid_token', 'The deep health check is for operators and auditors: send `Authorization: Bearer <access token>` with an auditor role.');
    const principal = await options.verifier.verify(authorization);
    if (!isAuditor(options.policy, principal)) {
      throw new BrokerError('forbidden', 'The deep health check is for operators and auditors (the policy\'s `auditors`). Use GET /api/health without `deep` for liveness.');
    }
    const { deps, close } = await options.doctor();
    let checks: DoctorLine[];
    try {
      checks = await runDoctor(deps);
    } finally {
      await close();
    }
    const ok = checks.every((l) => l.status !== 'fail');
    return { httpStatus: ok ? 200 : 503, body: { status: ok ? 'ok' : 'degraded', checks } };
  };
}
