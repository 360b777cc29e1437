/**
 * An approver's inbox: the held requests this principal may decide (approver of the request's
 * profile, not its requester — the same rules as deciding), pending ones first and oldest first,
 * then those decided or expired in the last 24 hours, newest first.
 */
import type { Principal } from '../../identity/principal.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { engineFor, type AnyEngine } from '../../engine/index.js';
import { effectiveState, isApproverOf } from '../review/view.js';
import type { ApprovalRequestRecord, RequestState } from '../types.js';

export const RECENT_MS = 24 * 60 * 60 * 1000;

export interface InboxEntry {
  requestId: string;
  state: RequestState;
  requester: { oid: string; name?: string };
  connection: string;
  profile: string;
  /** the statement's command, e.g. DELETE, UPDATE, ALTER TABLE */
  statementKind: string;
  estimatedRows?: number;
  reason?: string;
  createdAt: string;
  expiresAt: string;
  decision?: { outcome: 'approved' | 'rejected'; approver: { oid: string; name?: string }; time: string };
  /** the review page, relative to the broker */
  reviewPath: string;
}

export interface Inbox {
  pending: InboxEntry[];
  recent: InboxEntry[];
}

/** How far back the store must look: pending requests live up to the longest expiry, plus 24 h of history. */
export function inboxWindowMs(policy: PolicyConfig): number {
  const longest = Math.max(60, ...Object.values(policy.profiles).map((p) => p.approval?.expiresAfterMinutes ?? 60));
  return RECENT_MS + longest * 60_000;
}

/** `DeleteStmt` (PostgreSQL) or `delete` (MySQL) → `DELETE`, `AlterTableStmt` → `ALTER TABLE` */
function statementKind(sql: string, engine: AnyEngine): string {
  try {
    return engine
      .analyze(sql, { maxLength: Number.MAX_SAFE_INTEGER })
      .command.replace(/Stmt$/, '')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toUpperCase();
  } catch {
    return 'unknown';
  }
}

function entryOf(record: ApprovalRequestRecord, now: Date, engine: AnyEngine): InboxEntry {
  const e: InboxEntry = {
    requestId: record.requestId,
    state: effectiveState(record, now),
    requester: record.requester.name ? { oid: record.requester.oid, name: record.requester.name } : { oid: record.requester.oid },
    connection: record.connection,
    profile: record.profile,
    statementKind: statementKind(record.sql, engine),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    reviewPath: `/api/approvals/${encodeURIComponent(record.requestId)}`,
  };
  if (record.estimatedRows !== undefined) e.estimatedRows = record.estimatedRows;
  if (record.reason !== undefined) e.reason = record.reason;
  const d = record.decision;
  if (d && d.outcome !== undefined) {
    const approver = d.approver.name ? { oid: d.approver.oid, name: d.approver.name } : { oid: d.approver.oid };
    e.decision = { outcome: d.outcome, approver, time: d.time };
  }
  return e;
}

/** When a settled request settled: its decision, else its expiry, else its last change. */
function settledAt(e: InboxEntry, record: ApprovalRequestRecord): number {
  if (e.decision) return Date.parse(e.decision.time);
  if (e.state === 'expired') return Date.parse(record.expiresAt);
  return Date.parse(record.updatedAt);
}

export function inboxOf(policy: PolicyConfig, principal: Principal, records: readonly ApprovalRequestRecord[], now: Date): Inbox {
  const mine = records.filter((r) => r.requester.oid !== principal.oid && isApproverOf(policy, principal, r));
  const pending: InboxEntry[] = [];
  const recent: { entry: InboxEntry; at: number }[] = [];
  for (const record of mine) {
    const entry = entryOf(record, now, engineFor(policy.connections[record.connection]?.engine ?? 'postgres'));
    if (entry.state === 'pending_approval') pending.push(entry);
    else {
      const at = settledAt(entry, record);
      if (now.getTime() - at <= RECENT_MS) recent.push({ entry, at });
    }
  }
  pending.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.requestId.localeCompare(b.requestId));
  recent.sort((a, b) => b.at - a.at);
  return { pending, recent: recent.map((r) => r.entry) };
}
