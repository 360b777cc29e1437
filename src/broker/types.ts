/**
 * The types of the query pipeline (pipeline.ts): what it is asked, what it answers, and the ports
 * through which the approval workflow holds a statement and later runs it.
 */
import { BrokerError, type Reason } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { MaskPlan, ResultColumn } from '../masking/index.js';
import type { AuditActor } from './ports.js';
import type { ProfileConfig } from '../policy/schema.js';
import type { ExecutionMode } from '../db/pools.js';
import type { AnyEngine, EngineAnalysis, EngineCatalog, EngineHandle } from '../engine/types.js';
import type { Decision } from '../policy/decide.js';

export interface QueryRequest {
  connection: string;
  sql: string;
  params: unknown[];
  sessionId?: string;
  maxRows?: number;
  dryRun: boolean;
  reason?: string;
}

export type ColumnOut = ResultColumn;

export type QueryOutcome =
  | {
      decision: 'allowed';
      requestId: string;
      sessionId: string;
      executed: true;
      columns: ColumnOut[];
      rows: unknown[][];
      rowCount: number;
      truncated: boolean;
      durationMs: number;
    }
  | { decision: 'allowed'; requestId: string; sessionId: string; executed: false; reasons: Reason[]; estimatedRows?: number; statementKind: string }
  /** a dry run of a statement that would be held for a human: nothing was held, no request exists */
  | { decision: 'would_need_approval'; sessionId: string; executed: false; reasons: Reason[]; estimatedRows?: number; statementKind: string; sqlHash: string }
  | { decision: 'pending_approval'; requestId: string; sessionId: string; sqlHash: string; reasons: Reason[]; expiresAt: string; estimatedRows?: number; approvalUrl?: string };

/** Raised for refusals after a request id exists, so the HTTP layer can echo it. */
export class RequestError extends Error {
  constructor(
    readonly requestId: string,
    readonly sessionId: string,
    readonly error: BrokerError,
  ) {
    super(error.message);
    this.name = 'RequestError';
  }
}

/** What the approval workflow needs to hold a statement until a human decides. */
export interface PendingApproval {
  requestId: string;
  sessionId: string;
  principal: Principal;
  connection: string;
  profileName: string;
  sql: string;
  params: unknown[];
  sqlHash: string;
  reasons: Reason[];
  estimatedRows?: number;
  expiresAfterMinutes: number;
  reason?: string;
}

export interface ApprovalStarter {
  /** `approvalUrl`: the review page on the broker's public URL, for the agent to hand to a human */
  start(pending: PendingApproval): Promise<{ expiresAt: string; approvalUrl?: string }>;
}


/** A statement's masked result as the pipeline returns it. */
export interface ExecutionResult {
  columns: ColumnOut[];
  rows: unknown[][];
  rowCount: number;
  truncated: boolean;
  durationMs: number;
}

/** An approved statement to run: its decision (approval.decided) is already in the session's chain. */
export interface ApprovedExecution {
  requestId: string;
  sessionId: string;
  /** the requester, whose session the outcome is recorded in */
  actor: AuditActor;
  connection: string;
  profileName: string;
  sql: string;
  params: unknown[];
  analysis: EngineAnalysis;
  /** the masking of the stored result (approval/execute-approved.ts chooses it) */
  plan: MaskPlan;
  /** a pool other than the profile's own (a just-in-time role), the connection engine's own handle */
  handle?: unknown;
  /** the approver's object id, visible to the database as qb.approved_by */
  approvedBy?: string;
}

/** The Executor port of the approval workflow: masking plans and execution of approved statements. */
export interface ApprovalExecutor {
  /** The masking plan of `analysis` on the connection for `viewer`; `asExempt: false` plans as for a viewer who is not exempt. */
  planMasking(analysis: EngineAnalysis, viewer: Principal, target: { connection: string; dbRole: string | undefined }, options?: { asExempt?: false }): Promise<MaskPlan>;
  /** Run an approved statement, mask and record its outcome (not its decision, already recorded). */
  executeApproved(x: ApprovedExecution): Promise<ExecutionResult>;
  /** The profile's read-only pool on a connection, as its engine's handle (the approver's impact preview). */
  readPool(connection: string, profileName: string): Promise<EngineHandle>;
  /**
   * How the policy judges `analysis` as a read on the profile, as it would an agent's read: the
   * calls off the allow-list (volatile functions on PostgreSQL, non-allow-listed built-ins on
   * MySQL) and decide() (the impact preview runs only what an agent could read).
   */
  readDecision(analysis: EngineAnalysis, connection: string, profileName: string): Promise<Decision>;
  /** The engine of a configured connection (the approval workflow analyses the held statement with it). */
  engine(connection: string): AnyEngine;
}

/** Where statements run: a warm pool per connection, profile and mode (the profile's role and limits applied). */
export interface Executor {
  /** the engine of a configured connection: it analyses, plans, runs and explains that connection's statements */
  engine(connection: string): AnyEngine;
  /** the engine's own handle of a warm pool */
  pool(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode): Promise<unknown>;
}

/** What the database says about its objects, per connection and role (names resolve as that role resolves them). */
export interface Catalog {
  /** the engine's catalog of a connection as a role sees it */
  catalog(connection: string, dbRole?: string): EngineCatalog;
  /** forget what is cached about a connection (after DDL the broker ran) */
  invalidateCatalogs(connection: string): void;
}
