/**
 * The approval's entries in the requester's session chain. Approver events are written on the
 * approver's behalf into a session someone else owns, hence `allowForeignActor`.
 */
import type { AuditActor, AuditLog } from '../../broker/ports.js';
import {
  approvalAttemptRefusedData,
  approvalDecidedData,
  approvalRequestedData,
  auditEvent,
  failedData,
} from '../../audit/events.js';
import type { ApprovalRequestRecord, RequesterInfo } from '../types.js';

/** Who acts when nobody does: the expiry timer. */
export const EXPIRY_ACTOR: AuditActor = { oid: 'query-broker:approval-expiry', name: 'Approval expiry timer' };

export function actorOfRequester(r: RequesterInfo): AuditActor {
  const a: AuditActor = { oid: r.oid };
  if (r.tid) a.tid = r.tid;
  if (r.appId) a.appId = r.appId;
  if (r.name) a.name = r.name;
  return a;
}

export async function recordRequested(audit: AuditLog, record: ApprovalRequestRecord): Promise<void> {
  const data = approvalRequestedData({
    sqlHash: record.sqlHash,
    reasons: record.reasons,
    connection: record.connection,
    profile: record.profile,
    expiresAt: record.expiresAt,
    ...(record.estimatedRows === undefined ? {} : { estimatedRows: record.estimatedRows }),
    ...(record.reason === undefined ? {} : { reason: record.reason }),
  });
  await audit.append(record.sessionId, auditEvent('approval.requested', record.requestId, actorOfRequester(record.requester), data));
}

export async function recordDecided(
  audit: AuditLog,
  record: ApprovalRequestRecord,
  decision: 'approved' | 'rejected' | 'expired',
  approver: AuditActor | null,
  comment?: string,
): Promise<void> {
  const data = approvalDecidedData({ decision, approver, sqlHash: record.sqlHash, ...(comment === undefined ? {} : { comment }) });
  await audit.append(record.sessionId, auditEvent('approval.decided', record.requestId, approver ?? EXPIRY_ACTOR, data), { allowForeignActor: true });
}

/** `suppressed`: refused attempts of this request that were throttled (not recorded) since the last recorded one. */
export async function recordRefused(audit: AuditLog, record: ApprovalRequestRecord, approver: AuditActor, code: string, message: string, suppressed = 0): Promise<void> {
  const refused = approvalAttemptRefusedData({ approver, code, message });
  const data: typeof refused & { suppressed?: number } = suppressed > 0 ? { ...refused, suppressed } : refused;
  await audit.append(record.sessionId, auditEvent('approval.attempt_refused', record.requestId, approver, data), { allowForeignActor: true });
}

export async function recordFailed(audit: AuditLog, record: ApprovalRequestRecord, code: string, message: string): Promise<void> {
  await audit.append(record.sessionId, auditEvent('failed', record.requestId, actorOfRequester(record.requester), failedData({ code, message })));
}
