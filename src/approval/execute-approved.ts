/**
 * Run exactly what was approved: the stored SQL, whose SHA-256 must equal both the hash the
 * request was held with and the hash the approver echoed, with the stored parameters, under a
 * just-in-time role when the connection has admin credentials (else the profile's write pool),
 * masked for the requester exactly as an allowed statement would be.
 */
import { BrokerError } from '../errors.js';
import { sqlHash } from '../sql/analyze.js';
import { analyzeSql } from '../sql/analyze.js';
import { planMasking } from '../masking/index.js';
import type { Broker } from '../broker/pipeline.js';
import type { SecretProvider } from '../broker/ports.js';
import type { EntraTokenFunction } from '../db/credentials.js';
import type { Principal } from '../identity/principal.js';
import type { Logger } from '../log.js';
import { actorOfRequester } from './audit-events.js';
import { withJitPool } from './jit-pool.js';
import type { ApprovalRequestRecord, ApprovalResult, RequesterInfo } from './types.js';

export interface ExecuteApprovedDeps {
  broker: Broker;
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  log: Logger;
}

/** The binding between what the approver saw and what runs; throws `conflict` when it is broken. */
export function assertApprovedText(record: ApprovalRequestRecord): void {
  const decision = record.decision;
  if (record.state !== 'approved' || decision?.outcome !== 'approved') {
    throw new BrokerError('conflict', `The request ${record.requestId} is ${record.state}, not approved; nothing was executed.`);
  }
  const actual = sqlHash(record.sql);
  if (actual !== record.sqlHash || decision.sqlHash !== record.sqlHash) {
    throw new BrokerError('conflict', 'The statement no longer matches the SQL hash that was approved; nothing was executed.', {
      reasons: [{ code: 'sql_hash_mismatch', message: 'The approved SQL hash and the stored statement differ.' }],
    });
  }
}

function principalOf(r: RequesterInfo): Principal {
  const p: Principal = { oid: r.oid, sub: r.sub, roles: r.roles, groups: r.groups, idtyp: r.idtyp, exp: 0 };
  if (r.tid) p.tid = r.tid;
  if (r.appId) p.appId = r.appId;
  if (r.name) p.name = r.name;
  return p;
}

export async function executeApproved(record: ApprovalRequestRecord, deps: ExecuteApprovedDeps): Promise<ApprovalResult> {
  assertApprovedText(record);
  const { broker } = deps;
  const policy = broker.deps.policy;
  const profile = policy.profiles[record.profile];
  const connection = policy.connections[record.connection];
  if (!profile || !connection || !profile.connections.includes(record.connection)) {
    throw new BrokerError('policy_denied', `The policy no longer lets profile "${record.profile}" use connection "${record.connection}"; nothing was executed.`);
  }
  const analysis = analyzeSql(record.sql, { maxLength: policy.limits.maxSqlLength });
  const plan = await planMasking(analysis, broker.maskingInput(principalOf(record.requester)), broker.deps.connections.columnCatalog(record.connection));
  const mode = analysis.kind === 'read' ? 'read' : 'write';
  const request = {
    requestId: record.requestId,
    sessionId: record.sessionId,
    actor: actorOfRequester(record.requester),
    connection: record.connection,
    profileName: record.profile,
    profile,
    analysis,
    plan,
    sql: record.sql,
    params: record.params,
    maxRows: undefined,
    // approval.decided is already in the chain: that is this statement's decision event.
    decisionEvents: [],
    signal: undefined,
  };
  if (connection.admin) {
    const jitOptions = {
      connectionName: record.connection,
      connection,
      profile,
      mode,
      requestId: record.requestId,
      secrets: deps.secrets,
      log: deps.log,
      ...(deps.entraToken ? { entraToken: deps.entraToken } : {}),
    } as const;
    return await withJitPool(jitOptions, (handle) => broker.executeAndMask({ ...request, handle }));
  }
  return await broker.executeAndMask(request);
}
