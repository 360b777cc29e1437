import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet } from 'jose';
import { createBrokerRuntime, type BrokerRuntime } from '../../src/compose.js';
import { createLocalApprovals, type LocalApprovals } from '../../src/approval/local.js';
import { createBlobAuditLog, createAuditContainerClient } from '../../src/audit/blob-log.js';
import { createInProcessPublisher } from '../../src/events/in-process.js';
import { withEventPublishing } from '../../src/audit/publishing-log.js';
import { createEnvSecretProvider } from '../../src/secrets/env.js';
import { createDevIssuer, type DevIssuer } from '../../src/identity/dev-issuer.js';
import { createTokenVerifier } from '../../src/identity/verify.js';
import { audiencesOf, primaryAudience } from '../../src/identity/audience.js';
import { createJsonLogger } from '../../src/log.js';
import type { AuditLog } from '../../src/broker/ports.js';
import type { ApprovalNotification } from '../../src/approval/notify/notification.js';
import { createDemoSetup, type TestDatabase } from './db.js';

/** The public URL the in-process app believes it is served at (no socket is opened). */
export const APP_BASE = 'http://broker.test';

export interface TestApp {
  runtime: BrokerRuntime;
  approvals: LocalApprovals;
  audit: AuditLog;
  db: TestDatabase;
  devIssuer: DevIssuer;
  logs: string[];
  /** the approval cards the workflow would have posted */
  notifications: ApprovalNotification[];
  /** `app.request` with a bearer token for these roles (none when `roles` is null) */
  request(path: string, init?: RequestInit & { roles?: string[] | null; sub?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * The app as the hosts compose it (src/compose.ts), called in-process through `app.request`: no
 * server, no socket. Its own seeded demo database on the run's PostgreSQL, its own audit and request
 * containers on the run's Azurite; tokens from a dev issuer whose keys the verifier holds in memory.
 */
export async function composeTestApp(options: { policyPatch?: (p: Record<string, any>) => void } = {}): Promise<TestApp> {
  const { db, policy, releaseEnv } = await createDemoSetup(options.policyPatch);
  const logs: string[] = [];
  const log = createJsonLogger((l) => logs.push(l));
  const blobConnectionString = inject('blobConnectionString');
  const suffix = randomBytes(6).toString('hex');
  const audit = withEventPublishing(createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString: blobConnectionString, container: `audit-${suffix}` }) }), createInProcessPublisher(), { logger: log });
  const devIssuer = await createDevIssuer({ issuer: `${APP_BASE}/api/dev`, audience: primaryAudience(policy.audience) });
  const verifier = createTokenVerifier({ audience: audiencesOf(policy.audience), issuers: [devIssuer.issuer], keys: createLocalJWKSet(devIssuer.jwks()) });
  const secrets = createEnvSecretProvider();
  const notifications: ApprovalNotification[] = [];
  const approvals = createLocalApprovals({
    policy,
    audit,
    verifier,
    secrets,
    log,
    devIssuer,
    publicBaseUrl: APP_BASE,
    blobConnectionString,
    requestsContainer: `requests-${suffix}`,
    // Cards are kept for the test to read instead of posted to Teams.
    notifier: { notify: async (n) => void notifications.push(n) },
    executor: () => runtime.broker,
  });
  const runtime = await createBrokerRuntime({ policy, verifier, audit, secrets, log, devIssuer, approvals });
  return {
    runtime,
    approvals,
    audit,
    db,
    devIssuer,
    logs,
    notifications,
    async request(path, init = {}) {
      const { roles = ['Query.Read'], sub = 'app-agent', ...rest } = init;
      const headers = new Headers(rest.headers);
      if (roles) headers.set('authorization', `Bearer ${await devIssuer.issue({ sub, roles, name: `Test ${sub}` })}`);
      const res = await runtime.app.request(`${APP_BASE}${path}`, { ...rest, headers });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep text */
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      await approvals.close();
      await runtime.close();
      await db.drop();
      releaseEnv();
    },
  };
}
