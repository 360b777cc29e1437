/**
 * Taking a decision on a held request. The rules: the approver holds the profile's approver
 * claims, is a person (not an application), is not the requester, names the SQL hash they were shown, decides while the request is
 * pending and before it expires, and only once (the store's conditional write picks exactly one
 * winner). Every attempt is recorded in the requester's session chain: the granted one as
 * approval.decided, every refused one as approval.attempt_refused; refusals of callers without a
 * verified identity are throttled (see refusal-throttle.ts) and counted in the next recorded one.
 */
import { BrokerError, type ErrorCode } from '../../errors.js';
import type { AuditActor, AuditLog, Clock } from '../../broker/ports.js';
import type { Principal } from '../../identity/principal.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { Logger } from '../../log.js';
import { actorFromPrincipal } from '../../audit/events.js';
import { recordDecided, recordRefused } from './audit-events.js';
import { RefusalThrottle } from './refusal-throttle.js';
import { updateRequest, type RequestStore } from '../store/request-store.js';
import type { OrchestrationClient } from './start.js';
import { effectiveState, isApproverOf } from '../review/view.js';
import type { ApprovalRequestRecord } from '../types.js';

export interface DecisionInput {
  decision: 'approve' | 'reject';
  sqlHash: string;
  comment?: string;
}

export interface ApprovalDecisionsDeps {
  store: RequestStore;
  audit: AuditLog;
  policy: PolicyConfig;
  client: OrchestrationClient;
  clock: Clock;
  log: Logger;
  /** limits the recorded refusals of unverified callers; default: 5 per request and 30 per address a minute */
  refusalThrottle?: RefusalThrottle;
}

/** Where an attempt came from, as the host (not the caller) tells it. */
export interface AttemptOrigin {
  /** the socket's remote address, when the host exposes it */
  clientAddress?: string;
}

/** The actor oid of an attempt whose identity could not be established. */
export const UNVERIFIED_OID = 'unverified';

/** A refusal with its stable reason code (what the audit record and the error's reasons carry). */
export function refusal(status: Extract<ErrorCode, 'forbidden' | 'conflict' | 'invalid_token' | 'not_found'>, code: string, message: string): BrokerError {
  return new BrokerError(status, message, { reasons: [{ code, message }] });
}

/** The actor recorded for an attempt whose identity could not be established. */
export function unverifiedActor(claimed?: string): AuditActor {
  return claimed ? { oid: UNVERIFIED_OID, name: `claimed ${claimed}` } : { oid: UNVERIFIED_OID };
}

export interface ApprovalDecisions {
  /** the stored request; BrokerError('not_found') when there is none */
  load(requestId: string): Promise<ApprovalRequestRecord>;
  /**
   * Record a refused attempt, then hand back the error to answer with. An unverified actor's
   * refusal may be counted instead of recorded (throttled per request and per client address).
   */
  refuse(record: ApprovalRequestRecord, actor: AuditActor, error: BrokerError, origin?: AttemptOrigin): Promise<BrokerError>;
  /** apply the rules and, when they hold, decide; throws the recorded refusal otherwise */
  decide(record: ApprovalRequestRecord, principal: Principal, input: DecisionInput): Promise<ApprovalRequestRecord>;
}

export function createApprovalDecisions(deps: ApprovalDecisionsDeps): ApprovalDecisions {
  const { store, audit, clock, log } = deps;
  const throttle = deps.refusalThrottle ?? new RefusalThrottle({ now: () => clock.now().getTime() });

  async function refuse(record: ApprovalRequestRecord, actor: AuditActor, error: BrokerError, origin: AttemptOrigin = {}): Promise<BrokerError> {
    const code = error.reasons[0]?.code ?? error.code;
    let suppressed = 0;
    // Verified callers are limited per identity before they get here; anonymous ones are not.
    if (actor.oid === UNVERIFIED_OID) {
      const admission = throttle.admit(record.requestId, origin.clientAddress);
      if (!admission.record) {
        if (admission.first) log.warn('refused approval attempts throttled: further ones are counted, not recorded', { requestId: record.requestId, code });
        return error;
      }
      suppressed = admission.suppressed;
    }
    try {
      await recordRefused(audit, record, actor, code, error.message, suppressed);
    } catch (e) {
      // The refusal stands either way; the log says the record is missing.
      log.error('refused approval attempt could not be recorded', { requestId: record.requestId, code, error: e instanceof Error ? e.message : String(e) });
    }
    return error;
  }

  /** The first rule the attempt breaks, or undefined when it may decide. */
  function broken(record: ApprovalRequestRecord, principal: Principal, input: DecisionInput): BrokerError | undefined {
    if (principal.oid === record.requester.oid) {
      return refusal('forbidden', 'self_approval', 'You asked for this statement; someone else must approve it.');
    }
    if (!isApproverOf(deps.policy, principal, record)) {
      return refusal('forbidden', 'not_an_approver', `You are not an approver for profile "${record.profile}" on connection "${record.connection}".`);
    }
    // "A human approves": an application (an agent) holding the approver role still may not.
    if (principal.idtyp !== 'user') {
      return refusal('forbidden', 'approver_not_a_person', 'Approvals are decided by people: sign in as a user, not with an application token.');
    }
    if (input.sqlHash !== record.sqlHash) {
      return refusal('conflict', 'sql_hash_mismatch', 'The sqlHash does not match the statement held for approval. Reload the review page and decide on what it shows.');
    }
    const state = effectiveState(record, clock.now());
    if (state === 'expired') return refusal('conflict', 'expired', `The request expired at ${record.expiresAt}; nothing will run. The agent must ask again.`);
    if (state !== 'pending_approval') return refusal('conflict', 'already_decided', `The request is already ${state}; it is decided once.`);
    return undefined;
  }

  return {
    async load(requestId) {
      const stored = await store.get(requestId);
      if (!stored) throw new BrokerError('not_found', 'No such request, or it is not yours to see.');
      return stored.record;
    },

    refuse,

    async decide(record, principal, input) {
      const actor = actorFromPrincipal(principal);
      const rule = broken(record, principal, input);
      if (rule) throw await refuse(record, actor, rule);

      const outcome = input.decision === 'approve' ? 'approved' : 'rejected';
      const comment = input.comment?.trim() ? input.comment.trim() : undefined;
      let lost: BrokerError | undefined;
      const { record: decided, changed } = await updateRequest(store, record.requestId, (current) => {
        // Re-checked on the version being replaced: a concurrent approver or the timer may have won.
        lost = broken(current, principal, input);
        if (lost) return undefined;
        const time = clock.now().toISOString();
        return {
          ...current,
          state: outcome,
          decision: { outcome, approver: actor, time, sqlHash: input.sqlHash, ...(comment ? { comment } : {}) },
          ...(outcome === 'rejected' ? { finishedAt: time } : {}),
          updatedAt: time,
        };
      });
      if (!changed) throw await refuse(decided, actor, lost ?? refusal('conflict', 'already_decided', 'The request is already decided.'));

      try {
        await recordDecided(audit, decided, outcome, actor, comment);
      } catch (e) {
        // Nothing may run on a decision the audit log does not hold.
        await updateRequest(store, record.requestId, (r) =>
          r.state === outcome
            ? { ...r, state: 'failed', error: { code: 'dependency_unavailable', message: 'The decision could not be recorded, so it was not applied. Ask again.' }, updatedAt: clock.now().toISOString() }
            : undefined,
        ).catch(() => undefined);
        throw new BrokerError('dependency_unavailable', 'The audit store cannot be reached, so the decision was not applied. Retry later.', { cause: e });
      }

      try {
        await deps.client.raiseDecision(record.requestId, { outcome });
      } catch (e) {
        // The stored decision stands; the orchestration also reads it when its timer fires.
        log.error('decision event not delivered', { requestId: record.requestId, error: e instanceof Error ? e.message : String(e) });
      }
      return decided;
    },
  };
}
