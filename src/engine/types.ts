/**
 * The seam a database engine plugs into. Everything the broker asks of "the database" goes through
 * these four capabilities; the policy, masking rules, approvals and audit above them are
 * engine-neutral.
 *
 * - analyze: one statement's text → one analysis (hash, kind, names, risks, parse tree), or a
 *   400-class refusal. The tree is the engine's own (libpg-query JSON for PostgreSQL; node-sql-parser
 *   AST for MySQL); only the engine's own stages (masking lineage, estimates) read it.
 * - catalog: one ConnectionCatalog per connection and role (db/catalog): function volatility,
 *   relations and columns, view definitions, keys, row estimates, the schema listing; one cache,
 *   one invalidation.
 * - execute: run one statement on a pooled connection with row, byte and time caps, the session
 *   reset, and the affected-rows guard for writes.
 * - errors: a driver error as the SQLSTATE-style info the masking stage sanitizes, and whether it
 *   means "the database cannot be reached" (503) rather than "the database refused this" (400).
 *
 * The pipeline (broker/pipeline.ts) asks the connection's engine for every one of these; it never
 * imports a parser, a driver or a catalog itself. What differs on MySQL (src/engine/mysql/):
 * - placeholders are `?`, not `$n` (`checkParams`); identifiers are quoted with backquotes
 *   (`quoteIdent`); there is one statement per request on both.
 * - MySQL errors carry `errno` and a SQLSTATE (`sqlState`); `databaseError` maps both, the errno
 *   in `vendorCode`.
 * - "role": MySQL 8 roles (SET ROLE) stand where a PostgreSQL profile's `dbRole` does; schemas are
 *   databases. The catalog's answers keep their shape (QualifiedName.schema = the database).
 * - volatility: MySQL routines declare DETERMINISTIC / NO SQL / READS SQL DATA instead of
 *   provolatile; FunctionCatalog answers the same question (may this call change or depend on state).
 * - row estimates: EXPLAIN FORMAT=JSON gives `rows_examined_per_scan`; `estimateAffectedRows` keeps
 *   its contract (planned, never executed).
 */
import type { Analysis, QualifiedName } from '../sql/types.js';
import type { DatabaseErrorInfo, ExecutionResult, ResultField } from '../db/types.js';
import type { SchemaRelation } from '../db/catalog/schema.js';
import type { StatementRequest } from '../db/execute.js';
import type { ExecutionMode } from '../db/pools.js';
import type { ConnectionCredentials } from '../db/credentials.js';
import type { ConnectionConfig, ProfileConfig } from '../policy/schema.js';
import type { MaskPlan, MaskingPolicyInput } from '../masking/index.js';
import type { UnknownFunction } from '../sql/function-names.js';
import type { SecretProvider } from '../broker/ports.js';
import type { EntraTokenFunction } from '../db/credentials.js';
import type { Logger } from '../log.js';

export type EngineName = 'postgres' | 'mysql';

/** The part of an analysis every engine provides (the policy decides on it alone). */
export type EngineAnalysis = Omit<Analysis, 'stmt' | 'root'> & { root: unknown };

export interface EngineErrorInfo extends DatabaseErrorInfo {
  /** the engine's own error number when it has one besides the SQLSTATE (MySQL errno) */
  vendorCode?: string;
  /**
   * What the refusal means, when the engine's codes say it and the SQLSTATE alone does not
   * (MySQL: 3024/1969 the statement time limit, 1792 a write in a read-only transaction).
   */
  kind?: 'timeout' | 'read_only';
}

/** What every engine's catalog offers the engine-neutral parts (schema discovery, invalidation after DDL). */
export interface EngineCatalog {
  /** The schema listing (cached for the current generation; a failed read is not kept). */
  schema(): Promise<readonly SchemaRelation[]>;
  /** Forget every cached answer (after DDL). */
  invalidate(): void;
  /** Changes whenever answers may change. */
  readonly generation: number;
}

/** What an engine needs to run one approved statement under a just-in-time login. */
export interface ApprovedHandleOptions {
  connectionName: string;
  connection: ConnectionConfig;
  profile: ProfileConfig;
  mode: ExecutionMode;
  requestId: string;
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  log: Logger;
}

/** Warm pools of one engine: one per connection, profile and mode, created on first use. */
export interface EnginePools<Handle> {
  /** `maxConnections` caps this pool below the connection's pool size (the catalog pools need few). */
  get(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode, maxConnections?: number): Promise<Handle>;
  closeAll(): Promise<void>;
}

export interface Engine<A extends EngineAnalysis = Analysis, Handle = unknown, Cat extends EngineCatalog = EngineCatalog> {
  readonly name: EngineName;
  /** The SQL dialect agents must write, as a person names it ("PostgreSQL", "MySQL"): said in parse errors. */
  readonly dialect: string;

  /** Load what analysis needs (a WASM parser) once, at start-up. */
  ready(): Promise<void>;
  /**
   * Parse and classify exactly one statement. Throws BrokerError `sql_too_long`, `sql_parse_error`
   * or `multiple_statements`. The result may be shared between callers of the same text: frozen.
   */
  analyze(sql: string, options?: { maxLength?: number }): A;
  /** Refuse a parameter count that does not match the statement's placeholders (`invalid_request`). */
  checkParams(sql: string, params: readonly unknown[]): void;

  /** The engine's pools, fed with each connection's credentials, pool size and configuration. */
  createPools(credentialsFor: (connection: string) => ConnectionCredentials, poolSize: (connection: string) => number, config: (connection: string) => ConnectionConfig | undefined): EnginePools<Handle>;
  /**
   * The catalog of one connection as one role sees it (`role` null: the login role). Built once per
   * connection and role by the connection runtime; look-ups run on `pools`.
   */
  createCatalog(pools: EnginePools<Handle>, connection: string, role: string | null): Cat;

  /**
   * The calls a statement may not make without being listed in `allow` (volatile functions on
   * PostgreSQL, everything off the read allow-list on MySQL), reached by name, operators or the DBA's code.
   */
  disallowedCalls(catalog: Cat, analysis: A, allow: readonly string[]): Promise<QualifiedName[]>;
  /** Among `candidates`, the functions that do not exist at all (the statement cannot run). */
  unknownFunctions(handle: Handle, candidates: readonly QualifiedName[]): Promise<UnknownFunction[]>;
  /** The masking plan of a statement: the lineage of each output column (masking/). */
  planMasking(analysis: A, input: MaskingPolicyInput, catalog: Cat): Promise<MaskPlan>;
  /** After execution: the lineage of each result column's server origin, into `plan.origins`. */
  prepareOrigins(plan: MaskPlan, fields: readonly ResultField[]): Promise<void>;
  /** The masked columns of a listed relation, as a query would mask them (schema discovery's flags). */
  maskedColumns(relation: SchemaRelation, input: MaskingPolicyInput, catalog: Cat): Promise<{ name: string; masked: false | string }[]>;

  /** The planner's estimate of the rows a write changes, without running it (read-only connection). */
  estimateAffectedRows(handle: Handle, analysis: A, sql: string, params: unknown[]): Promise<number>;
  /** Run one statement (caps, session reset, write guard); refusals as DatabaseFailure. */
  execute(handle: Handle, request: StatementRequest, analysis: A): Promise<ExecutionResult>;
  /**
   * For a connection with `admin` credentials: a handle logged in as a just-in-time login that holds
   * exactly the profile's `dbRole`, created by the admin credential for this one approved statement
   * and always dropped after `run` (PostgreSQL: db/jit.ts roles; MySQL: engine/mysql/jit.ts users).
   * The admin credential itself never runs the statement.
   */
  withApprovedHandle<T>(options: ApprovedHandleOptions, run: (handle: Handle) => Promise<T>): Promise<T>;

  /** A driver error as the info the sanitizer reads; undefined when it is not the server's refusal. */
  databaseError(e: unknown): EngineErrorInfo | undefined;
  /** Whether an error with this info means the database cannot be reached (retry later). */
  isUnavailable(info: DatabaseErrorInfo): boolean;

  /** An identifier quoted for this engine's SQL. */
  quoteIdent(name: string): string;
  /** A (schema-)qualified name quoted for this engine's SQL. */
  quoteQualified(name: QualifiedName): string;
}

/** An engine as the engine-neutral parts hold it: analysis, handle and catalog opaque to them. */
export type AnyEngine = Engine<EngineAnalysis, unknown, EngineCatalog>;

/**
 * A warm pool of one connection as its engine's own handle, with that engine: whoever holds it
 * runs statements through `engine.execute(handle, …)` without knowing which engine it is.
 */
export interface EngineHandle {
  engine: AnyEngine;
  handle: unknown;
}
