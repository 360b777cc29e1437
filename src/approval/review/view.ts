/**
 * Who may see a held request, and what they see. The requester, the approvers of its profile and
 * the auditors; to anyone else the request does not exist (404, so ids cannot be probed).
 */
import type { Principal } from '../../identity/principal.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { isAuditor, matchesClaims } from '../../policy/profiles.js';
import type { ApprovalRequestRecord, ApprovalResult, RequestState } from '../types.js';
import type { Reason } from '../../errors.js';

export type ViewerRole = 'requester' | 'approver' | 'auditor';

export function isApproverOf(policy: PolicyConfig, principal: Principal, record: ApprovalRequestRecord): boolean {
  const approval = policy.profiles[record.profile]?.approval;
  return approval !== undefined && matchesClaims(principal, approval.approvers);
}

/** The strongest reason this principal may see the request, or undefined. */
export function viewerRole(policy: PolicyConfig, principal: Principal, record: ApprovalRequestRecord): ViewerRole | undefined {
  if (principal.oid === record.requester.oid) return 'requester';
  if (isApproverOf(policy, principal, record)) return 'approver';
  if (isAuditor(policy, principal)) return 'auditor';
  return undefined;
}

/** A pending request past its expiry reads as expired even before the timer has settled it. */
export function effectiveState(record: ApprovalRequestRecord, now: Date): RequestState {
  return record.state === 'pending_approval' && now.getTime() >= Date.parse(record.expiresAt) ? 'expired' : record.state;
}

export interface RequestView {
  requestId: string;
  sessionId: string;
  state: RequestState;
  sqlHash: string;
  sql: string;
  /** the bound parameters: shown to the requester and the approvers (auditors see the count) */
  params?: unknown[];
  paramCount: number;
  reasons: Reason[];
  connection: string;
  profile: string;
  requester: { oid: string; name?: string };
  estimatedRows?: number;
  reason?: string;
  createdAt: string;
  expiresAt: string;
  decision?: { outcome: 'approved' | 'rejected'; approver: { oid: string; name?: string }; time: string; comment?: string };
  result?: ApprovalResult;
  error?: { code: string; message: string };
}

export function requestView(record: ApprovalRequestRecord, role: ViewerRole, now: Date): RequestView {
  const view: RequestView = {
    requestId: record.requestId,
    sessionId: record.sessionId,
    state: effectiveState(record, now),
    sqlHash: record.sqlHash,
    sql: record.sql,
    paramCount: record.params.length,
    reasons: record.reasons,
    connection: record.connection,
    profile: record.profile,
    requester: record.requester.name ? { oid: record.requester.oid, name: record.requester.name } : { oid: record.requester.oid },
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
  if (role !== 'auditor') view.params = record.params;
  if (record.estimatedRows !== undefined) view.estimatedRows = record.estimatedRows;
  if (record.reason !== undefined) view.reason = record.reason;
  if (record.decision) {
    const d = record.decision;
    view.decision = {
      outcome: d.outcome,
      approver: d.approver.name ? { oid: d.approver.oid, name: d.approver.name } : { oid: d.approver.oid },
      time: d.time,
      ...(d.comment ? { comment: d.comment } : {}),
    };
  }
  if (record.result) view.result = record.result;
  if (record.error) view.error = record.error;
  return view;
}
