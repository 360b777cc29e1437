/**
 * What approvers are told about a held request, and the port that tells them. Locally the
 * notifier posts to Teams in-process; in Azure the activity only enqueues the notification on a
 * Service Bus queue and functions/notifier.ts posts it, so a Teams outage neither blocks the
 * orchestration nor loses the message (Service Bus redelivers, then dead-letters).
 */
import type { Reason } from '../../errors.js';
import type { ApprovalRequestRecord } from '../types.js';

export interface ApprovalNotification {
  requestId: string;
  requester: { oid: string; name?: string };
  connection: string;
  profile: string;
  sql: string;
  sqlHash: string;
  reasons: Reason[];
  estimatedRows?: number;
  expiresAt: string;
  /** the agent's justification, when it gave one */
  reason?: string;
  /** UPDATE/DELETE: one line on the rows it would touch, computed when the request was held */
  impact?: string;
  /** absolute URL of the review page */
  reviewUrl: string;
}

export interface ApprovalNotifier {
  /** throws when the notification could not be handed over (the caller logs it; the request stands) */
  notify(notification: ApprovalNotification): Promise<void>;
}

export function notificationOf(record: ApprovalRequestRecord, reviewUrl: string): ApprovalNotification {
  const n: ApprovalNotification = {
    requestId: record.requestId,
    requester: record.requester.name ? { oid: record.requester.oid, name: record.requester.name } : { oid: record.requester.oid },
    connection: record.connection,
    profile: record.profile,
    sql: record.sql,
    sqlHash: record.sqlHash,
    reasons: record.reasons.map((r) => ({ code: r.code, message: r.message })),
    expiresAt: record.expiresAt,
    reviewUrl,
  };
  if (record.estimatedRows !== undefined) n.estimatedRows = record.estimatedRows;
  if (record.reason !== undefined) n.reason = record.reason;
  return n;
}

/** `<base>/api/approvals/<id>` with an optional pre-selected choice (a GET never decides anything). */
export function reviewUrlOf(publicBaseUrl: string, requestId: string, decision?: 'approve' | 'reject'): string {
  const url = new URL(`/api/approvals/${encodeURIComponent(requestId)}`, publicBaseUrl.replace(/\/+$/, '') + '/');
  if (decision) url.searchParams.set('decision', decision);
  return url.toString();
}

/** Checks the shape of a notification read back from a queue message. */
export function isApprovalNotification(v: unknown): v is ApprovalNotification {
  if (typeof v !== 'object' || v === null) return false;
  const n = v as Record<string, unknown>;
  return (
    typeof n.requestId === 'string' &&
    typeof n.sql === 'string' &&
    typeof n.sqlHash === 'string' &&
    typeof n.connection === 'string' &&
    typeof n.reviewUrl === 'string' &&
    typeof n.expiresAt === 'string' &&
    Array.isArray(n.reasons) &&
    typeof n.requester === 'object' &&
    n.requester !== null
  );
}
