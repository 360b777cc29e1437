/**
 * The orchestration's activities: every side effect of the approval flow happens here (store,
 * audit log, notification, database), never in the orchestrator. Each is safe to run again:
 * the stored state decides what is left to do, and a statement that may already have started
 * is never started a second time.
 */
import { impactLine } from '../review/impact.js';
import { BrokerError, isBrokerError } from '../../errors.js';
import { RequestError, type ApprovalExecutor } from '../../broker/types.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { AuditLog, Clock, SecretProvider } from '../../broker/ports.js';
import type { EntraTokenFunction } from '../../db/credentials.js';
import type { Logger } from '../../log.js';
import { recordDecided, recordFailed, recordRequested } from './audit-events.js';
import { executeApproved } from './execute-approved.js';
import { notificationOf, type ApprovalNotifier } from '../notify/notification.js';
import { updateRequest, type RequestStore } from '../store/request-store.js';
import {
  ACTIVITY,
  FINAL_STATES,
  type ApprovalRequestRecord,
  type ExecuteActivityInput,
  type RequestState,
  type RequestedActivityInput,
  type SettleActivityInput,
} from '../types.js';

export interface ApprovalActivityDeps {
  store: RequestStore;
  audit: AuditLog;
  notifier: ApprovalNotifier;
  /** the pipeline's Executor port (the pipeline is built after the approval wiring, hence a function) */
  executor: () => ApprovalExecutor | Promise<ApprovalExecutor>;
  policy: PolicyConfig;
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  clock: Clock;
  log: Logger;
  /** absolute URL of a request's review page */
  reviewUrl: (requestId: string) => string;
}

export type ApprovalActivities = {
  [ACTIVITY.requested]: (input: RequestedActivityInput) => Promise<null>;
  [ACTIVITY.settle]: (input: SettleActivityInput) => Promise<RequestState>;
  [ACTIVITY.execute]: (input: ExecuteActivityInput) => Promise<RequestState>;
};

function errorOf(e: unknown): BrokerError {
  if (e instanceof RequestError) return e.error;
  if (isBrokerError(e)) return e;
  return new BrokerError('internal_error', 'The approved statement failed unexpectedly.', { cause: e });
}

export function createApprovalActivities(deps: ApprovalActivityDeps): ApprovalActivities {
  const { store, audit, clock, log } = deps;
  const now = () => clock.now().toISOString();

  async function load(requestId: string): Promise<ApprovalRequestRecord> {
    const stored = await store.get(requestId);
    if (!stored) throw new BrokerError('not_found', `No request ${requestId}.`);
    return stored.record;
  }

  /** Move to `failed` unless already final; record why (once, by whoever changed the state). */
  async function fail(requestId: string, code: string, message: string): Promise<RequestState> {
    const { record, changed } = await updateRequest(store, requestId, (r) =>
      FINAL_STATES.has(r.state) ? undefined : { ...r, state: 'failed', error: { code, message }, finishedAt: now(), updatedAt: now() },
    );
    if (changed) await recordFailed(audit, record, code, message);
    return record.state;
  }

  return {
    async [ACTIVITY.requested]({ requestId }) {
      const record = await load(requestId);
      await recordRequested(audit, record);
      try {
        const notification = notificationOf(record, deps.reviewUrl(requestId));
        const impact = await impactLine({ executor: deps.executor, policy: deps.policy }, record).catch(() => undefined);
        if (impact !== undefined) notification.impact = impact;
        await deps.notifier.notify(notification);
      } catch (e) {
        // The request stands and is visible at its status URL; only the message did not go out.
        log.warn('approval notification failed', { requestId, error: e instanceof Error ? e.message : String(e) });
      }
      return null;
    },

    async [ACTIVITY.settle]({ requestId, cause, message }) {
      if (cause === 'failure') return await fail(requestId, 'approval_failed', `The approval could not proceed: ${message ?? 'unknown error'}`);
      if (cause === 'decision') return (await load(requestId)).state;
      // The timer fired: pending turns expired; a decision that got in first still stands.
      const { record, changed } = await updateRequest(store, requestId, (r) =>
        r.state === 'pending_approval' ? { ...r, state: 'expired', finishedAt: now(), updatedAt: now() } : undefined,
      );
      if (changed) await recordDecided(audit, record, 'expired', null);
      return record.state;
    },

    async [ACTIVITY.execute]({ requestId }) {
      let interrupted = false;
      const claimed = await updateRequest(store, requestId, (r) => {
        if (r.state !== 'approved') return undefined;
        if (r.executionStartedAt !== undefined) {
          interrupted = true;
          return undefined;
        }
        return { ...r, executionStartedAt: now(), updatedAt: now() };
      });
      if (interrupted) {
        // A previous attempt may have run it: never run a write twice, say so instead.
        return await fail(requestId, 'execution_interrupted', 'The approved statement was started once and its outcome was not recorded; it was not run again. Check the database before asking again.');
      }
      if (!claimed.changed) return claimed.record.state;

      let result;
      try {
        result = await executeApproved(claimed.record, {
          executor: await deps.executor(),
          policy: deps.policy,
          secrets: deps.secrets,
          log,
          ...(deps.entraToken ? { entraToken: deps.entraToken } : {}),
        });
      } catch (e) {
        const error = errorOf(e);
        // The pipeline records database failures itself (RequestError); anything else is recorded here.
        const alreadyRecorded = e instanceof RequestError;
        const { record, changed } = await updateRequest(store, requestId, (r) =>
          FINAL_STATES.has(r.state) ? undefined : { ...r, state: 'failed', error: { code: error.code, message: error.message }, finishedAt: now(), updatedAt: now() },
        );
        if (changed && !alreadyRecorded) await recordFailed(audit, record, error.code, error.message);
        log.warn('approved statement failed', { requestId, code: error.code });
        return record.state;
      }
      const { record } = await updateRequest(store, requestId, (r) => ({ ...r, state: 'executed', result, finishedAt: now(), updatedAt: now() }));
      return record.state;
    },
  };
}
