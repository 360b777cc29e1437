/**
 * Typed bodies of the audit events, one builder per event type, so every host records the same
 * fields. What they keep is chosen for an auditor months later; what they leave out is chosen so
 * the record itself never becomes a copy of the data it protects:
 *  - statement parameters are not stored, only their count and SHA-256 digest (they are where
 *    agents put e-mail addresses and ids; the digest still lets an auditor confirm a claimed value);
 *  - rows are not stored, only the SHA-256 digest of exactly what was returned and a short sample
 *    of the rows as returned, i.e. after masking (the caller must pass the returned rows);
 *  - error messages must already be sanitized by the caller; they are also capped here.
 */
import type { AuditActor, AuditEventInput, AuditEventType, Principal } from '../broker/ports.js';
import type { Reason } from '../errors.js';
import { canonicalJson, digestOf, sha256Hex } from './canonical-json.js';

export const SAMPLE_ROWS = 5;
const MAX_SAMPLE_CELL_CHARS = 200;
const MAX_MESSAGE_CHARS = 500;
const MAX_COMMENT_CHARS = 1000;

export type RequestReceivedData = {
  connection: string;
  sql: string;
  /** SHA-256 (hex) of the SQL text exactly as received; approvals name it */
  sqlHash: string;
  paramsCount: number;
  /** SHA-256 of the canonical JSON of the params; null without params */
  paramsDigest: string | null;
  reason?: string;
  dryRun?: boolean;
  maxRows?: number;
};

export type DecisionData = {
  outcome: 'allowed' | 'denied' | 'pending_approval';
  reasons: Reason[];
  /** the connection profile that applied; null when none matched */
  profile: string | null;
  sqlHash: string;
  statementKind?: string;
  tables?: string[];
  estimatedRows?: number;
};

export type ExecutedColumn = { name: string; type: string; masked: false | string };

export type ExecutedData = {
  columns: ExecutedColumn[];
  rowCount: number;
  truncated: boolean;
  /** names of the columns a masker rewrote */
  maskedColumns: string[];
  /** SHA-256 of the canonical JSON of the rows returned to the caller */
  rowsDigest: string;
  /** the first rows exactly as returned (masked); long cells clipped */
  sample: unknown[][];
  durationMs?: number;
};

export type FailedData = {
  /** BrokerError code, e.g. query_failed, query_timeout, dependency_unavailable */
  code: string;
  /** sanitized message (no values from the database) */
  message: string;
};

export type ApprovalRequestedData = {
  sqlHash: string;
  reasons: Reason[];
  connection: string;
  profile: string;
  expiresAt: string;
  estimatedRows?: number;
  /** the agent's justification, when it gave one */
  reason?: string;
};

export type ApprovalDecidedData = {
  decision: 'approved' | 'rejected' | 'expired';
  /** who decided; null when the approval expired */
  approver: AuditActor | null;
  sqlHash: string;
  comment?: string;
};

export type ApprovalAttemptRefusedData = {
  approver: AuditActor;
  /** why the attempt was refused, e.g. self_approval, not_an_approver, sql_hash_mismatch, already_decided, expired */
  code: string;
  message: string;
};

export type AuditEventData = {
  'request.received': RequestReceivedData;
  decision: DecisionData;
  'approval.requested': ApprovalRequestedData;
  'approval.decided': ApprovalDecidedData;
  'approval.attempt_refused': ApprovalAttemptRefusedData;
  executed: ExecutedData;
  failed: FailedData;
};

/** An event ready for `AuditLog.append`, its body checked against its type. */
export function auditEvent<T extends AuditEventType>(type: T, requestId: string, actor: AuditActor, data: AuditEventData[T]): AuditEventInput {
  return { type, requestId, actor, data };
}

/** The identity fields recorded with every event. */
export function actorFromPrincipal(p: Pick<Principal, 'oid' | 'tid' | 'appId' | 'name'>): AuditActor {
  const actor: AuditActor = { oid: p.oid };
  if (p.tid !== undefined) actor.tid = p.tid;
  if (p.appId !== undefined) actor.appId = p.appId;
  if (p.name !== undefined) actor.name = p.name;
  return actor;
}

export function sqlHashOf(sql: string): string {
  return sha256Hex(sql);
}

export function requestReceivedData(input: {
  connection: string;
  sql: string;
  /** the hash of `sql` when the caller already has it (the analysis made it) */
  sqlHash?: string;
  params: readonly unknown[];
  reason?: string;
  dryRun?: boolean;
  maxRows?: number;
}): RequestReceivedData {
  const data: RequestReceivedData = {
    connection: input.connection,
    sql: input.sql,
    sqlHash: input.sqlHash ?? sqlHashOf(input.sql),
    paramsCount: input.params.length,
    paramsDigest: input.params.length === 0 ? null : digestOf(input.params),
  };
  if (input.reason !== undefined) data.reason = input.reason;
  if (input.dryRun !== undefined) data.dryRun = input.dryRun;
  if (input.maxRows !== undefined) data.maxRows = input.maxRows;
  return data;
}

export function decisionData(input: DecisionData): DecisionData {
  return { ...input, reasons: input.reasons.map((r) => ({ code: r.code, message: r.message })) };
}

/** `rows` must be the rows returned to the caller, after masking: they are digested and sampled. */
export function executedData(input: {
  columns: readonly ExecutedColumn[];
  rows: readonly (readonly unknown[])[];
  rowCount: number;
  truncated: boolean;
  durationMs?: number;
}): ExecutedData {
  const columns = input.columns.map((c) => ({ name: c.name, type: c.type, masked: c.masked }));
  const data: ExecutedData = {
    columns,
    rowCount: input.rowCount,
    truncated: input.truncated,
    maskedColumns: columns.filter((c) => c.masked !== false).map((c) => c.name),
    rowsDigest: digestOf(input.rows),
    sample: input.rows.slice(0, SAMPLE_ROWS).map((row) => row.map(clipCell)),
  };
  if (input.durationMs !== undefined) data.durationMs = input.durationMs;
  return data;
}

export function failedData(input: { code: string; message: string }): FailedData {
  return { code: input.code, message: clip(input.message, MAX_MESSAGE_CHARS) };
}

export function approvalRequestedData(input: ApprovalRequestedData): ApprovalRequestedData {
  return { ...input, reasons: input.reasons.map((r) => ({ code: r.code, message: r.message })) };
}

export function approvalDecidedData(input: ApprovalDecidedData): ApprovalDecidedData {
  const data: ApprovalDecidedData = { decision: input.decision, approver: input.approver, sqlHash: input.sqlHash };
  if (input.comment !== undefined && input.comment !== '') data.comment = clip(input.comment, MAX_COMMENT_CHARS);
  return data;
}

export function approvalAttemptRefusedData(input: ApprovalAttemptRefusedData): ApprovalAttemptRefusedData {
  return { approver: input.approver, code: input.code, message: clip(input.message, MAX_MESSAGE_CHARS) };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** A sample cell as returned, unless it is long: then the start of its JSON text. */
function clipCell(value: unknown): unknown {
  if (typeof value === 'string') return clip(value, MAX_SAMPLE_CELL_CHARS);
  if (value !== null && typeof value === 'object') {
    const json = canonicalJson(value);
    return json.length <= MAX_SAMPLE_CELL_CHARS ? value : clip(json, MAX_SAMPLE_CELL_CHARS);
  }
  return value;
}
