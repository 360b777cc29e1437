/**
 * The state of one request held for a human approval, as it is stored (one JSON document per
 * request id) and as the orchestration and the HTTP routes read it.
 */
import type { AuditActor, Reason } from '../broker/ports.js';
import type { Principal } from '../identity/principal.js';
import type { ColumnOut } from '../broker/types.js';

export type RequestState = 'pending_approval' | 'approved' | 'rejected' | 'expired' | 'executed' | 'failed';

export const FINAL_STATES: ReadonlySet<RequestState> = new Set(['rejected', 'expired', 'executed', 'failed']);

/** The requester as the token described them when they asked (masking follows these claims). */
export type RequesterInfo = Omit<Principal, 'exp'>;

export interface ApprovalDecision {
  outcome: 'approved' | 'rejected';
  approver: AuditActor;
  time: string;
  /** the SQL hash the approver echoed: the text they saw is the text that runs */
  sqlHash: string;
  comment?: string;
}

/**
 * The result an approved statement produced, masked for a viewer who is not exempt from masking
 * (the requester, the approvers and the auditors all read this one copy).
 */
export interface ApprovalResult {
  columns: ColumnOut[];
  rows: unknown[][];
  rowCount: number;
  truncated: boolean;
  durationMs: number;
  /** set when the rows could not be masked for such a viewer and were not stored: why */
  rowsWithheld?: string;
}

export interface ApprovalRequestRecord {
  v: 1;
  requestId: string;
  sessionId: string;
  state: RequestState;
  /** SHA-256 (hex) of `sql` */
  sqlHash: string;
  sql: string;
  params: unknown[];
  reasons: Reason[];
  requester: RequesterInfo;
  connection: string;
  profile: string;
  estimatedRows?: number;
  /** the agent's own words on why it asks */
  reason?: string;
  createdAt: string;
  expiresAt: string;
  updatedAt: string;
  decision?: ApprovalDecision;
  /** set once, before the statement runs: a retried activity must never run it a second time */
  executionStartedAt?: string;
  finishedAt?: string;
  result?: ApprovalResult;
  error?: { code: string; message: string };
}

/** What the orchestration is started with (its history keeps it; no SQL, no parameters). */
export interface ApprovalOrchestrationInput {
  requestId: string;
  /** how long approvers have, from the orchestration's start */
  expiresAfterMs: number;
}

/** Body of the `decision` external event; the stored record, not this, is the authority. */
export interface DecisionEvent {
  outcome: 'approved' | 'rejected';
}

export const ORCHESTRATION_NAME = 'approval';
export const DECISION_EVENT = 'decision';

/** Activity function names (unique in the Function App). */
export const ACTIVITY = {
  requested: 'approvalRequested',
  settle: 'approvalSettle',
  execute: 'approvalExecute',
} as const;

export interface RequestedActivityInput {
  requestId: string;
}

export interface SettleActivityInput {
  requestId: string;
  /** what ended the wait: a decision event, the expiry timer, or a failure of the orchestration */
  cause: 'decision' | 'timer' | 'failure';
  /** for `failure`: what went wrong (no SQL, no values) */
  message?: string;
}

export interface ExecuteActivityInput {
  requestId: string;
}

/** Request ids as the pipeline makes them (see src/broker/ids.ts); anything else is never a blob name. */
export const REQUEST_ID_PATTERN = /^r_[A-Za-z0-9_-]{8,64}$/;
