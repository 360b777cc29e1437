/**
 * The pipeline's ApprovalStarter: store the held request (so the agent's very first poll finds
 * it), then start its orchestration, named after the request id.
 */
import { BrokerError } from '../../errors.js';
import type { ApprovalStarter, PendingApproval } from '../../broker/types.js';
import type { Clock } from '../../broker/ports.js';
import type { Logger } from '../../log.js';
import { updateRequest, type RequestStore } from '../store/request-store.js';
import type { ApprovalOrchestrationInput, ApprovalRequestRecord, DecisionEvent, RequesterInfo } from '../types.js';

/** How the approval flow talks to its orchestrations: the Durable client in Azure, the in-process runner locally. */
export interface OrchestrationClient {
  start(requestId: string, input: ApprovalOrchestrationInput): Promise<void>;
  raiseDecision(requestId: string, event: DecisionEvent): Promise<void>;
}

export interface ApprovalStarterDeps {
  store: RequestStore;
  client: OrchestrationClient;
  clock: Clock;
  log: Logger;
  /** how long approvers have; default the profile's `approval.expiresAfterMinutes` (tests shorten it) */
  expiresAfterMs?: (pending: PendingApproval) => number;
  /** the review page of a request on the broker's public URL, returned to the agent as `approvalUrl` */
  reviewUrl?: (requestId: string) => string;
}

function requesterOf(pending: PendingApproval): RequesterInfo {
  const p = pending.principal;
  const r: RequesterInfo = { oid: p.oid, sub: p.sub, roles: [...p.roles], groups: [...p.groups], idtyp: p.idtyp };
  if (p.tid) r.tid = p.tid;
  if (p.appId) r.appId = p.appId;
  if (p.name) r.name = p.name;
  return r;
}

export function createApprovalStarter(deps: ApprovalStarterDeps): ApprovalStarter {
  return {
    async start(pending) {
      const expiresAfterMs = deps.expiresAfterMs?.(pending) ?? pending.expiresAfterMinutes * 60_000;
      const now = deps.clock.now();
      const expiresAt = new Date(now.getTime() + expiresAfterMs).toISOString();
      const record: ApprovalRequestRecord = {
        v: 1,
        requestId: pending.requestId,
        sessionId: pending.sessionId,
        state: 'pending_approval',
        sqlHash: pending.sqlHash,
        sql: pending.sql,
        params: pending.params,
        reasons: pending.reasons.map((r) => ({ code: r.code, message: r.message })),
        requester: requesterOf(pending),
        connection: pending.connection,
        profile: pending.profileName,
        createdAt: now.toISOString(),
        expiresAt,
        updatedAt: now.toISOString(),
      };
      if (pending.estimatedRows !== undefined) record.estimatedRows = pending.estimatedRows;
      if (pending.reason !== undefined) record.reason = pending.reason;
      await deps.store.create(record);
      try {
        await deps.client.start(pending.requestId, { requestId: pending.requestId, expiresAfterMs });
      } catch (e) {
        deps.log.error('approval orchestration did not start', { requestId: pending.requestId, error: e instanceof Error ? e.message : String(e) });
        await updateRequest(deps.store, pending.requestId, (r) => ({
          ...r,
          state: 'failed',
          error: { code: 'dependency_unavailable', message: 'The approval workflow could not be started; nothing will run. Ask again later.' },
          updatedAt: deps.clock.now().toISOString(),
        })).catch(() => undefined);
        throw new BrokerError('dependency_unavailable', 'The approval workflow cannot be started right now; nothing was executed. Retry in a moment.', { cause: e });
      }
      return deps.reviewUrl ? { expiresAt, approvalUrl: deps.reviewUrl(pending.requestId) } : { expiresAt };
    },
  };
}
