/**
 * The one place that orders the stages of a query: authorize → analyze → decide → record →
 * execute → mask → record → respond. Each stage lives in its own module; this file only composes.
 */
import { BrokerError, isBrokerError, type Reason } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { AuditActor, AuditEventInput, AuditLog, Clock } from './ports.js';
import { RequestError, type ApprovalStarter, type Catalog, type Executor, type ApprovedExecution, type ApprovalExecutor, type ColumnOut, type ExecutionResult, type PendingApproval, type QueryOutcome, type QueryRequest } from './types.js';
import type { PolicyConfig, ProfileConfig } from '../policy/schema.js';
import { resolveProfile, profilesFor, isExemptFromMasking, type ResolvedProfile } from '../policy/profiles.js';
import { decide, type Decision } from '../policy/decide.js';
import { checkReason } from '../policy/require-reason.js';
import type { QualifiedName } from '../sql/types.js';
import { applyMasking, describeDatabaseError, sqlstateWords, type MaskPlan, type MaskingPolicyInput } from '../masking/index.js';
import { checkSqlText } from '../sql/placeholders.js';
import type { DatabaseErrorInfo } from '../db/types.js';
import { capBytes, DatabaseFailure, AffectedRowsOverLimit } from '../db/execute.js';
import { toJsonRows } from '../db/values.js';
import { identityOf } from '../db/identity.js';
import type { AnyEngine, EngineAnalysis, EngineHandle } from '../engine/types.js';
import { newRequestId, SESSION_ID_PATTERN } from './ids.js';
import { DefaultSessions } from './default-sessions.js';
import type { Logger } from '../log.js';
import { actorFromPrincipal, auditEvent, decisionData, executedData, failedData, requestReceivedData, sqlHashOf } from '../audit/events.js';

export interface BrokerDeps {
  policy: PolicyConfig;
  audit: AuditLog;
  /** pooled execution (ConnectionRuntime in both hosts) */
  executor: Executor;
  /** the catalogs the analysis and masking consult */
  catalog: Catalog;
  clock: Clock;
  /** HMAC key of the `hash` masker */
  hashKey?: Uint8Array;
  /** without it, statements that need approval are refused with `approval_required` */
  approvals?: ApprovalStarter;
}

/** A refused statement as `query_failed`: the SQLSTATE in words, and the server's text when it is safe. */
function databaseRefusal(raw: DatabaseErrorInfo, plan: MaskPlan | undefined, sql: string | undefined, cause: unknown): BrokerError {
  const { info, withheld } = describeDatabaseError(raw, plan, sql);
  const details = { sqlstate: info.sqlstate };
  if (withheld) return new BrokerError('query_failed', `The database refused the statement. ${info.message}`, { details: { ...details, serverMessageWithheld: true }, cause });
  const text = [info.message, info.detail ? `Detail: ${info.detail}` : '', info.hint ? `Hint: ${info.hint}` : ''].filter(Boolean).join(' ');
  return new BrokerError('query_failed', `The database refused the statement (${sqlstateWords(info.sqlstate)}, SQLSTATE ${info.sqlstate ?? 'unknown'}): ${text}`, { details, cause });
}

/** A failure while gathering facts for the decision, as the error the agent sees. */
function asFactError(engine: AnyEngine, e: unknown, plan?: MaskPlan, sql?: string): BrokerError {
  if (isBrokerError(e)) return e;
  const info = engine.databaseError(e);
  // The database refused to plan it (e.g. EXPLAIN of an unknown table): the same answer as at execution.
  if (info && !engine.isUnavailable(info)) return databaseRefusal(info, plan, sql, e);
  return new BrokerError('dependency_unavailable', 'The database cannot be reached to check this statement; nothing was executed. Retry in a moment.', { cause: e });
}

export class Broker implements ApprovalExecutor {
  /** default sessions this broker just started, until their first record is written */
  private readonly newSessions = new Set<string>();
  /** per identity, the session of requests that name none (see default-sessions.ts) */
  private readonly defaultSessions = new DefaultSessions();

  constructor(private readonly deps: BrokerDeps) {}

  maskingInput(principal: Principal): MaskingPolicyInput {
    const m = this.deps.policy.masking;
    const input: MaskingPolicyInput = { rules: m.rules, detectors: m.detectors, exempt: isExemptFromMasking(this.deps.policy, principal) };
    if (this.deps.hashKey) input.hashKey = this.deps.hashKey;
    return input;
  }

  async query(principal: Principal, req: QueryRequest, signal?: AbortSignal): Promise<QueryOutcome> {
    const requestId = newRequestId();
    if (req.sessionId !== undefined && !SESSION_ID_PATTERN.test(req.sessionId)) {
      throw new RequestError(requestId, req.sessionId, new BrokerError('invalid_request', 'sessionId must be 8–64 characters of letters, digits, "_" or "-".'));
    }
    const sessionId = req.sessionId ?? this.generateSessionId(principal);
    try {
      return await this.queryInSession(principal, req, requestId, sessionId, signal);
    } finally {
      this.newSessions.delete(sessionId);
    }
  }

  /**
   * The session of a request that named none: the identity's default session on this instance and
   * UTC day. A newly started one is unknown to the store, which then creates it without a read.
   */
  private generateSessionId(principal: Principal): string {
    const { sessionId, started } = this.defaultSessions.take(principal.oid, this.deps.clock.now());
    if (started) this.newSessions.add(sessionId);
    return sessionId;
  }

  private async queryInSession(principal: Principal, req: QueryRequest, requestId: string, sessionId: string, signal: AbortSignal | undefined): Promise<QueryOutcome> {
    const actor = actorFromPrincipal(principal);
    // The SQL is hashed once per request: by the analysis (none at all when the analysis is cached),
    // or here when the statement was refused before it was analysed.
    const receivedEvent = (sqlHash: string) =>
      auditEvent('request.received', requestId, actor, requestReceivedData({ connection: req.connection, sql: req.sql, sqlHash, params: req.params, dryRun: req.dryRun, ...(req.reason === undefined ? {} : { reason: req.reason }), ...(req.maxRows === undefined ? {} : { maxRows: req.maxRows }) }));

    let resolved: ResolvedProfile | undefined;
    let analysis: EngineAnalysis | undefined;
    let decision: Decision;
    let plan: MaskPlan;
    let estimatedRows: number | undefined;
    try {
      checkSqlText(req.sql);
      resolved = this.resolveOrList(principal, req.connection);
      const engine = this.deps.executor.engine(req.connection);
      try {
        analysis = engine.analyze(req.sql, { maxLength: this.deps.policy.limits.maxSqlLength });
        engine.checkParams(req.sql, req.params);
      } catch (e) {
        throw inDialect(e, engine.dialect);
      }
      checkReason(resolved.profile, resolved.name, analysis.kind, req.reason);
      ({ decision, plan, estimatedRows } = await this.decideWithFacts(engine, req, resolved, analysis, principal));
    } catch (e) {
      if (!isBrokerError(e)) throw e;
      // Refusals before a decision are recorded too: nothing leaves unrecorded.
      const reasons = e.reasons.length ? e.reasons : [{ code: e.code, message: e.message }];
      const sqlHash = analysis?.sqlHash ?? sqlHashOf(req.sql);
      await this.recordOrUnavailable(requestId, sessionId, receivedEvent(sqlHash), auditEvent('decision', requestId, actor, decisionData({ outcome: 'denied', reasons, profile: resolved?.name ?? null, sqlHash })));
      throw new RequestError(requestId, sessionId, e);
    }

    // Assigned in the try above, which rethrows on any failure.
    const a: EngineAnalysis = analysis!;
    const sqlHash = a.sqlHash;
    const received = receivedEvent(sqlHash);
    const profileName = resolved.name;
    const decided = decisionData({
      outcome: decision.outcome === 'allow' ? 'allowed' : decision.outcome === 'deny' ? 'denied' : 'pending_approval',
      reasons: decision.reasons,
      profile: profileName,
      sqlHash,
      statementKind: a.kind,
      tables: [...a.tablesRead, ...a.tablesWritten].map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)),
      ...(estimatedRows === undefined ? {} : { estimatedRows }),
    });
    const decisionEvents = [received, auditEvent('decision', requestId, actor, decided)];

    if (decision.outcome === 'deny') {
      await this.recordOrUnavailable(requestId, sessionId, ...decisionEvents);
      throw new RequestError(requestId, sessionId, new BrokerError('policy_denied', decision.reasons[0]?.message ?? 'The policy refuses this statement.', { reasons: decision.reasons }));
    }

    if (decision.outcome === 'needs_approval') {
      await this.recordOrUnavailable(requestId, sessionId, ...decisionEvents);
      if (req.dryRun) {
        // A dry run holds nothing: no request is created, nobody is asked.
        return { decision: 'would_need_approval', sessionId, executed: false, reasons: decision.reasons, statementKind: a.kind, sqlHash: a.sqlHash, ...(estimatedRows === undefined ? {} : { estimatedRows }) };
      }
      return await this.holdForApproval(pendingApproval(requestId, sessionId, principal, req, resolved, a.sqlHash, decision.reasons, estimatedRows), resolved.profile);
    }

    if (req.dryRun) {
      await this.recordOrUnavailable(requestId, sessionId, ...decisionEvents);
      return { decision: 'allowed', requestId, sessionId, executed: false, reasons: decision.reasons, statementKind: a.kind, ...(estimatedRows === undefined ? {} : { estimatedRows }) };
    }

    // A bulk write that the planner estimated under the threshold still may not change more rows
    // than the threshold without a human: it runs in a transaction that is rolled back when it does.
    const threshold = resolved.profile.approval?.estimatedRowsOver;
    const maxAffectedRows = a.needsRowEstimate === true && threshold !== undefined ? threshold : undefined;
    try {
      const result = await this.executeAndMask({ requestId, sessionId, actor, connection: req.connection, profileName, profile: resolved.profile, analysis: a, plan, sql: req.sql, params: req.params, maxRows: req.maxRows, decisionEvents, signal, ...(maxAffectedRows === undefined ? {} : { maxAffectedRows }) });
      return { decision: 'allowed', requestId, sessionId, executed: true, ...result };
    } catch (e) {
      if (!(e instanceof AffectedRowsOverLimit)) throw e;
      const reasons: Reason[] = [
        {
          code: 'affected_rows_over_threshold',
          message: `The statement would change ${e.affectedRows} rows, more than this profile may change without approval (${e.limit}). It was rolled back and held for a human; poll the status URL, or narrow the WHERE clause.`,
        },
      ];
      const held = auditEvent('decision', requestId, actor, decisionData({ outcome: 'pending_approval', reasons, profile: profileName, sqlHash, statementKind: a.kind, estimatedRows: e.affectedRows }));
      await this.recordOrUnavailable(requestId, sessionId, held);
      return await this.holdForApproval(pendingApproval(requestId, sessionId, principal, req, resolved, a.sqlHash, reasons, e.affectedRows), resolved.profile);
    }
  }

  /** Start the approval workflow for a recorded `needs approval` decision (or say why it cannot). */
  private async holdForApproval(pending: PendingApproval, profile: ProfileConfig): Promise<QueryOutcome> {
    const { requestId, sessionId, sqlHash, reasons } = pending;
    const estimate = pending.estimatedRows === undefined ? {} : { estimatedRows: pending.estimatedRows };
    if (!this.deps.approvals || !profile.approval) {
      throw new RequestError(
        requestId,
        sessionId,
        new BrokerError('approval_required', 'This statement needs a human approval, and this profile has no approvers configured. Ask an administrator, or narrow the statement.', { reasons, details: { approvalRequired: true } }),
      );
    }
    const { expiresAt, approvalUrl } = await this.deps.approvals.start(pending);
    return { decision: 'pending_approval', requestId, sessionId, sqlHash, reasons, expiresAt, ...estimate, ...(approvalUrl === undefined ? {} : { approvalUrl }) };
  }

  /**
   * Decide with the facts only the database knows: function volatility and the masking plan first
   * (in parallel), then — only when every other rule lets the statement through — the row estimate
   * of a bulk write, planned by EXPLAIN in a read-only transaction. A masking refusal comes after the
   * guardrail reasons, so the agent learns the most fundamental problem first.
   */
  private async decideWithFacts(engine: AnyEngine, req: QueryRequest, resolved: ResolvedProfile, analysis: EngineAnalysis, principal: Principal): Promise<{ decision: Decision; plan: MaskPlan; estimatedRows?: number }> {
    const { catalog, executor, policy } = this.deps;
    const connectionCatalog = catalog.catalog(req.connection, resolved.profile.dbRole);
    const allow = [...policy.functions.allowVolatile, ...resolved.profile.allowVolatile];
    const [planResult, volatileResult] = await Promise.allSettled([
      engine.planMasking(analysis, this.maskingInput(principal), connectionCatalog),
      engine.disallowedCalls(connectionCatalog, analysis, allow),
    ]);
    if (volatileResult.status === 'rejected') throw asFactError(engine, volatileResult.reason, undefined, req.sql);
    const input = { analysis, profile: resolved.profile, policy, volatileFunctions: volatileResult.value };
    let decision = decide(input);
    // Refused only as volatile: if a function does not exist at all, say that instead.
    if (decision.outcome === 'deny' && decision.reasons.every((r) => r.code === 'volatile_function')) {
      await this.refuseUnknownFunctions(engine, req, resolved, volatileResult.value);
    }
    if (planResult.status === 'rejected') {
      const maskingError = asFactError(engine, planResult.reason, undefined, req.sql);
      if (decision.outcome === 'deny') {
        throw new BrokerError('policy_denied', decision.reasons[0]?.message ?? 'The policy refuses this statement.', { reasons: [...decision.reasons, ...maskingError.reasons] });
      }
      throw maskingError;
    }
    const plan = planResult.value;
    if (decision.outcome === 'deny' || analysis.needsRowEstimate !== true || resolved.profile.access === 'read') {
      return { decision, plan };
    }
    let estimatedRows: number;
    try {
      const handle = await executor.pool(req.connection, resolved.name, resolved.profile, 'read');
      estimatedRows = await engine.estimateAffectedRows(handle, analysis, req.sql, req.params);
    } catch (e) {
      throw asFactError(engine, e, plan, req.sql);
    }
    // Without WHERE the statement already needs a human; the estimate (the table's rows) is for them.
    if (analysis.hasWhere !== false) decision = decide({ ...input, estimatedRows });
    return { decision, plan, estimatedRows };
  }

  /**
   * Append events to the session's chain (issued together, so the audit log can store them in one
   * block); a store that cannot be reached turns into 503, never a silent skip.
   */
  private async recordOrUnavailable(requestId: string, sessionId: string, ...events: AuditEventInput[]): Promise<void> {
    // The first record of a session this broker just generated: the store need not look for it.
    const options = this.newSessions.delete(sessionId) ? { newSession: true } : undefined;
    try {
      await Promise.all(events.map((e) => this.deps.audit.append(sessionId, e, options)));
    } catch (e) {
      throw new RequestError(requestId, sessionId, isBrokerError(e) ? e : new BrokerError('dependency_unavailable', 'The audit store cannot be reached; nothing was executed. Retry later.', { cause: e }));
    }
  }

  async planMasking(analysis: EngineAnalysis, viewer: Principal, target: { connection: string; dbRole: string | undefined }, options?: { asExempt?: false }): Promise<MaskPlan> {
    const input = this.maskingInput(viewer);
    if (options?.asExempt === false) input.exempt = false;
    return await this.deps.executor.engine(target.connection).planMasking(analysis, input, this.deps.catalog.catalog(target.connection, target.dbRole));
  }

  engine(connection: string): AnyEngine {
    return this.deps.executor.engine(connection);
  }

  async readPool(connection: string, profileName: string): Promise<EngineHandle> {
    const profile = this.profileOrRefuse(profileName);
    return { engine: this.deps.executor.engine(connection), handle: await this.deps.executor.pool(connection, profileName, profile, 'read') };
  }

  async readDecision(analysis: EngineAnalysis, connection: string, profileName: string): Promise<Decision> {
    const profile = this.profileOrRefuse(profileName);
    const { catalog, executor, policy } = this.deps;
    const allow = [...policy.functions.allowVolatile, ...profile.allowVolatile];
    const volatileFunctions = await executor.engine(connection).disallowedCalls(catalog.catalog(connection, profile.dbRole), analysis, allow);
    const decision = decide({ analysis, profile, policy, volatileFunctions });
    if (analysis.kind === 'read' || decision.outcome === 'deny') return decision;
    return { outcome: 'deny', reasons: [{ code: 'not_a_read', message: 'The statement is not a read.' }, ...decision.reasons] };
  }

  private profileOrRefuse(profileName: string): ProfileConfig {
    const profile = this.deps.policy.profiles[profileName];
    if (!profile) throw new BrokerError('policy_denied', `The policy no longer has profile "${profileName}".`);
    return profile;
  }

  async executeApproved(x: ApprovedExecution): Promise<ExecutionResult> {
    const profile = this.deps.policy.profiles[x.profileName];
    if (!profile) throw new BrokerError('policy_denied', `The policy no longer has profile "${x.profileName}"; nothing was executed.`);
    // approval.decided is already in the chain: that is this statement's decision event.
    return await this.executeAndMask({ ...x, profile, maxRows: undefined, decisionEvents: [], signal: undefined });
  }

  /**
   * Execute an allowed statement and mask its result; nothing is returned before the decision and
   * the outcome are recorded.
   */
  private async executeAndMask(x: {
    requestId: string;
    sessionId: string;
    actor: AuditActor;
    connection: string;
    profileName: string;
    profile: ProfileConfig;
    analysis: EngineAnalysis;
    plan: MaskPlan;
    sql: string;
    params: unknown[];
    maxRows: number | undefined;
    /** recorded before (writes) or while (reads) the statement runs */
    decisionEvents: AuditEventInput[];
    signal: AbortSignal | undefined;
    /** writes: roll back and throw AffectedRowsOverLimit when more rows than this change */
    maxAffectedRows?: number;
    /** run on a pool other than the profile's own (approved work under a JIT role): the engine's own handle */
    handle?: unknown;
    /** approved work: the approver's object id, visible to the database as qb.approved_by */
    approvedBy?: string;
  }): Promise<ExecutionResult> {
    const { requestId, sessionId, actor, analysis } = x;
    const mode = analysis.kind === 'read' ? 'read' : 'write';
    const started = performance.now();
    const maxRows = Math.min(x.maxRows ?? x.profile.maxRows, x.profile.maxRows);
    const engine = this.deps.executor.engine(x.connection);
    // The requester's identity for the database's own policies and logs (db/identity.ts).
    const identity = identityOf(actor, requestId, sessionId, x.approvedBy);
    const run = async () => {
      const handle = x.handle ?? (await this.deps.executor.pool(x.connection, x.profileName, x.profile, mode));
      // The result's byte cap is applied below, to what the agent receives: masked cells at their masked size.
      return await engine.execute(handle, { sql: x.sql, params: x.params, maxRows, maxRowBytes: x.profile.maxResultBytes + ROW_FRAMING_ALLOWANCE, mode, identity, ...(x.signal ? { signal: x.signal } : {}), ...(x.maxAffectedRows === undefined ? {} : { maxAffectedRows: x.maxAffectedRows }) }, analysis);
    };

    // A read changes nothing, so its decision is stored together with its outcome in one append
    // after the query — and the result is returned only once that append landed. A write runs only
    // after its decision is stored.
    const deferred = mode === 'read' ? x.decisionEvents : [];
    let execution;
    try {
      if (mode !== 'read' && x.decisionEvents.length) await this.recordOrUnavailable(requestId, sessionId, ...x.decisionEvents);
      execution = await run();
    } catch (e) {
      if (e instanceof RequestError) {
        if (deferred.length) await this.recordOrUnavailable(requestId, sessionId, ...deferred);
        throw e;
      }
      if (e instanceof AffectedRowsOverLimit) throw e;
      const error = this.failureToError(e, x.plan, x.sql, x.profile.statementTimeoutMs);
      await this.recordOrUnavailable(requestId, sessionId, ...deferred, auditEvent('failed', requestId, actor, failedData({ code: error.code, message: error.message })));
      throw new RequestError(requestId, sessionId, error);
    }

    let masked;
    try {
      await engine.prepareOrigins(x.plan, execution.fields);
      masked = applyMasking(x.plan, execution.fields, execution.rows);
    } catch (e) {
      // The statement ran but its result cannot be masked (origins unknown, a result shape the plan
      // does not have): nothing is returned, and that is recorded with the decision.
      const error = isBrokerError(e) ? e : new BrokerError('internal_error', 'The result could not be masked; nothing was returned.', { cause: e });
      await this.recordOrUnavailable(requestId, sessionId, ...deferred, auditEvent('failed', requestId, actor, failedData({ code: error.code, message: error.message })));
      throw new RequestError(requestId, sessionId, error);
    }
    const byBytes = capBytes(masked.rows, x.profile.maxResultBytes);
    masked.rows = byBytes.rows;
    const truncated = execution.truncated || byBytes.cut;
    const rowCount = mode === 'read' ? byBytes.rows.length : execution.rowCount;
    const columns: ColumnOut[] = masked.columns;
    const rows = toJsonRows(masked.rows, execution.fields.map((f) => f.dataTypeID), columns.map((c) => c.masked !== false));
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (analysis.kind === 'ddl') {
      // The shape of the database changed: forget cached columns and functions of this connection.
      this.deps.catalog.invalidateCatalogs(x.connection);
    }
    // An exempt principal received clear values; its record keeps the digest but no sample of them.
    const recorded = executedData({ columns, rows: x.plan.exempt ? [] : rows, rowCount, truncated, durationMs });
    if (x.plan.exempt) recorded.rowsDigest = executedData({ columns, rows, rowCount: 0, truncated: false }).rowsDigest;
    await this.recordOrUnavailable(requestId, sessionId, ...deferred, auditEvent('executed', requestId, actor, recorded));
    return { columns, rows, rowCount, truncated, durationMs };
  }

  private failureToError(e: unknown, plan: MaskPlan | undefined, sql: string, timeoutMs: number): BrokerError {
    if (isBrokerError(e)) return e;
    if (e instanceof DatabaseFailure) {
      const { sqlstate, kind } = e.info;
      if (kind === 'timeout' || sqlstate === '57014') {
        return new BrokerError('query_timeout', `The statement ran past this profile's time limit of ${timeoutMs} ms and was cancelled. Narrow it (WHERE on indexed columns, LIMIT) and retry.`, { details: { sqlstate, timeoutMs } });
      }
      if (kind === 'read_only' || sqlstate === '25006') {
        return new BrokerError('policy_denied', 'The database refused a write in a read-only transaction.', { reasons: [{ code: 'read_only_transaction', message: 'Reads run read-only. Use a write profile for changes.' }], details: { sqlstate } });
      }
      return databaseRefusal(e.info, plan, sql, e);
    }
    return new BrokerError('internal_error', 'The statement failed unexpectedly; nothing was returned.', { cause: e });
  }

  /** The profile for this connection; an unknown connection's refusal lists the ones this identity may use. */
  private resolveOrList(principal: Principal, connection: string): ResolvedProfile {
    try {
      return resolveProfile(this.deps.policy, principal, connection);
    } catch (e) {
      if (!isBrokerError(e) || e.reasons[0]?.code !== 'unknown_connection') throw e;
      const usable = Object.keys(this.deps.policy.connections).filter((name) => profilesFor(this.deps.policy, principal, name).length > 0);
      const list = usable.length ? `You may use: ${usable.join(', ')}.` : 'This identity may use no connection.';
      const reasons = e.reasons.map((r) => (r.code === 'unknown_connection' ? { code: r.code, message: `No connection ${JSON.stringify(connection)} is configured. ${list}` } : r));
      throw new BrokerError(e.code, `There is no connection named ${JSON.stringify(connection)}. ${list}`, { reasons, details: { ...e.details, connections: usable } });
    }
  }

  /**
   * A call of a function no schema defines is not a volatility question: the statement cannot run.
   * Refused as `query_failed` (undefined function) with close names from the catalog.
   */
  private async refuseUnknownFunctions(engine: AnyEngine, req: QueryRequest, resolved: ResolvedProfile, candidates: QualifiedName[]): Promise<void> {
    let unknown;
    try {
      const handle = await this.deps.executor.pool(req.connection, resolved.name, resolved.profile, 'read');
      unknown = await engine.unknownFunctions(handle, candidates);
    } catch (e) {
      throw asFactError(engine, e, undefined, req.sql);
    }
    if (unknown.length === 0) return;
    const parts = unknown.map((u) => `${u.name}() does not exist${u.suggestions.length ? ` (did you mean ${u.suggestions.map((n) => `${n}()`).join(', ')}?)` : ''}`);
    const message = `The function ${parts.join('; ')}.`;
    throw new BrokerError('query_failed', `The statement calls a function that does not exist (undefined function, SQLSTATE 42883): ${parts.join('; ')}. Check the spelling.`, {
      reasons: [{ code: 'unknown_function', message }],
      details: { sqlstate: '42883', suggestions: Object.fromEntries(unknown.map((u) => [u.name, u.suggestions])) },
    });
  }
}

/** The request the approval workflow holds: the statement as asked, and why it needs a human. */
function pendingApproval(requestId: string, sessionId: string, principal: Principal, req: QueryRequest, resolved: ResolvedProfile, sqlHash: string, reasons: Reason[], estimatedRows: number | undefined): PendingApproval {
  const pending: PendingApproval = {
    requestId,
    sessionId,
    principal,
    connection: req.connection,
    profileName: resolved.name,
    sql: req.sql,
    params: req.params,
    sqlHash,
    reasons,
    expiresAfterMinutes: resolved.profile.approval?.expiresAfterMinutes ?? 60,
  };
  if (estimatedRows !== undefined) pending.estimatedRows = estimatedRows;
  if (req.reason !== undefined) pending.reason = req.reason;
  return pending;
}

/**
 * Room on top of the result byte cap for one row's wire framing (a length per field): the cap
 * counts cell text, the row guard counts DataRow bytes. The guard is there for rows of hundreds of
 * megabytes, not to cut at the exact cap.
 */
const ROW_FRAMING_ALLOWANCE = 64 * 1024;

/**
 * A statement the engine could not read says which dialect it expects (`error.dialect`), so the
 * hint can name it: an agent that wrote PostgreSQL for a MySQL connection learns what to write.
 */
function inDialect(e: unknown, dialect: string): unknown {
  if (!isBrokerError(e) || e.details['dialect'] !== undefined) return e;
  const aboutText = e.code === 'sql_parse_error' || e.code === 'multiple_statements' || e.reasons.some((r) => r.code === 'param_count_mismatch');
  if (!aboutText) return e;
  return new BrokerError(e.code, e.message, { reasons: e.reasons, details: { ...e.details, dialect }, cause: e.cause });
}
