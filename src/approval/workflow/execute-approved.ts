/**
 * Run exactly what was approved: the stored SQL, whose SHA-256 must equal both the hash the
 * request was held with and the hash the approver echoed, with the stored parameters, under a
 * just-in-time role when the connection has admin credentials (else the profile's write pool).
 *
 * The result is stored on the request, and the approvers and auditors read it there too: so it is
 * masked for a viewer who is NOT exempt from masking, whoever asked. An exempt requester gets no
 * clear values through the approval flow (they can read the rows directly); when the statement
 * could not be masked for a non-exempt viewer at all (it filters on, or writes from, a masked
 * column), its rows and any database error text are withheld from the stored result.
 */
import { BrokerError, isBrokerError } from '../../errors.js';
import { sqlHash } from '../../sql/analyze.js';
import type { MaskPlan } from '../../masking/index.js';
import { RequestError, type ApprovalExecutor, type ApprovedExecution } from '../../broker/types.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { isExemptFromMasking } from '../../policy/profiles.js';
import type { EngineAnalysis as Analysis } from '../../engine/types.js';
import type { SecretProvider } from '../../broker/ports.js';
import type { EntraTokenFunction } from '../../db/credentials.js';
import type { Principal } from '../../identity/principal.js';
import type { Logger } from '../../log.js';
import { actorOfRequester } from './audit-events.js';
import type { ApprovalRequestRecord, ApprovalResult, RequesterInfo } from '../types.js';

export interface ExecuteApprovedDeps {
  /** the pipeline, through its Executor port */
  executor: ApprovalExecutor;
  policy: PolicyConfig;
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
  const { executor, policy } = deps;
  const profile = policy.profiles[record.profile];
  const connection = policy.connections[record.connection];
  if (!profile || !connection || !profile.connections.includes(record.connection)) {
    throw new BrokerError('policy_denied', `The policy no longer lets profile "${record.profile}" use connection "${record.connection}"; nothing was executed.`);
  }
  const analysis = executor.engine(record.connection).analyze(record.sql, { maxLength: policy.limits.maxSqlLength });
  const { plan, withhold } = await storedResultPlan(deps, record, analysis, { connection: record.connection, dbRole: profile.dbRole });
  const mode = analysis.kind === 'read' ? 'read' : 'write';
  const approved: ApprovedExecution = {
    requestId: record.requestId,
    sessionId: record.sessionId,
    actor: actorOfRequester(record.requester),
    connection: record.connection,
    profileName: record.profile,
    sql: record.sql,
    params: record.params,
    analysis,
    plan,
    // The database sees the requester as the principal and the approver as qb.approved_by.
    ...(record.decision?.approver.oid ? { approvedBy: record.decision.approver.oid } : {}),
  };
  const run = async (): Promise<ApprovalResult> => {
    if (!connection.admin) return await executor.executeApproved(approved);

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
    // Each engine makes its own just-in-time login (PostgreSQL role, MySQL user).
    return await executor.engine(record.connection).withApprovedHandle(jitOptions, (handle) => executor.executeApproved({ ...approved, handle }));
  };
  if (!withhold) return await run();
  let result: ApprovalResult;
  try {
    result = await run();
  } catch (e) {
    throw withheldError(e);
  }
  return {
    columns: result.columns.map((c) => ({ ...c, type: 'text', masked: 'withheld' })),
    rows: [],
    rowCount: result.rowCount,
    truncated: result.truncated,
    durationMs: result.durationMs,
    rowsWithheld: WITHHELD_ROWS,
  };
}

const WITHHELD_ROWS =
  'The rows are withheld: this statement uses masked columns in a way that cannot be masked for the approvers and auditors who can read this request. The requester may read the rows directly.';

/**
 * The plan whose masking the stored result (and the `executed` event's sample) gets: the requester's
 * own when they are not exempt (they may see no more than that), else the plan of a non-exempt viewer.
 * `withhold` when a non-exempt viewer could not be given this statement's result at all: then it runs
 * under the requester's exempt plan (whose `executed` event keeps no sample, as in the pipeline) and
 * nothing of its rows is stored.
 */
async function storedResultPlan(deps: ExecuteApprovedDeps, record: ApprovalRequestRecord, analysis: Analysis, target: { connection: string; dbRole: string | undefined }): Promise<{ plan: MaskPlan; withhold: boolean }> {
  const requester = principalOf(record.requester);
  if (!isExemptFromMasking(deps.policy, requester)) return { plan: await deps.executor.planMasking(analysis, requester, target), withhold: false };
  try {
    return { plan: await deps.executor.planMasking(analysis, requester, target, { asExempt: false }), withhold: false };
  } catch (e) {
    // Refused by masking (inference through a predicate, a masked value written elsewhere): the
    // exempt requester may run it, but its rows must not reach anyone else.
    if (!isBrokerError(e) || e.code !== 'policy_denied') throw e;
    return { plan: await deps.executor.planMasking(analysis, requester, target), withhold: true };
  }
}

/** A failure of a withheld statement: the database's text may quote masked values, so only its code is kept. */
function withheldError(e: unknown): unknown {
  if (!(e instanceof RequestError)) return e;
  const sqlstate = e.error.details?.sqlstate;
  const message = `The approved statement failed (${e.error.code}${typeof sqlstate === 'string' ? `, SQLSTATE ${sqlstate}` : ''}). The database's message is withheld because it may quote values masked for approvers and auditors.`;
  return new RequestError(e.requestId, e.sessionId, new BrokerError(e.error.code, message, { ...(typeof sqlstate === 'string' ? { details: { sqlstate } } : {}) }));
}
