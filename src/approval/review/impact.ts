/**
 * What an approver sees before deciding. An UPDATE or DELETE: the exact number of rows it would
 * touch now and the first 10 of them, masked as the approver's own reads would be (a TRUNCATE,
 * DROP or ALTER TABLE: its objects' row estimates and sizes, object-impact.ts). Computed
 * read-only, never by running the write: a SELECT built from the statement's target and its
 * WHERE / USING / FROM clauses on the parsed tree and deparsed (pgsql-deparser), run on the
 * profile's read pool (its role, read-only transaction, statement timeout) with the requester's
 * identity, so row-level security selects what the write would.
 *
 * MySQL connections (`engine: mysql`): the same row preview of a single-table UPDATE or DELETE,
 * its SELECTs built on node-sql-parser's tree (engine/mysql/preview.ts), judged as an agent's read
 * on the profile would be (readDecision), masked with the MySQL origins and run through the
 * engine on the profile's MySQL read pool (read-only transaction, limits). Multi-table statements
 * and anything not built with certainty: `unavailable` with a sentence.
 */
import { deparse } from 'pgsql-deparser';
import type { Node } from '@pgsql/types';
import { isBrokerError } from '../../errors.js';
import type { ApprovalExecutor, ColumnOut } from '../../broker/types.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { Principal } from '../../identity/principal.js';
import { analyzeSql } from '../../sql/analyze.js';
import { visitObjects } from '../../sql/walk.js';
import { prepareOrigins, applyMasking } from '../../masking/index.js';
import { executeStatement } from '../../db/execute.js';
import { identityOf } from '../../db/identity.js';
import { toJsonRows } from '../../db/values.js';
import { actorOfRequester } from '../workflow/audit-events.js';
import type { ApprovalRequestRecord } from '../types.js';
import type { Analysis } from '../../sql/types.js';
import { isPoolHandle } from '../../db/pools.js';
import type { AnyEngine, EngineAnalysis } from '../../engine/types.js';
import { MYSQL_TABLE_SIZE_SQL, mysqlObjectTargets, mysqlPreviewQueries } from '../../engine/mysql/preview.js';
import type { MysqlAnalysis } from '../../engine/mysql/types.js';
import { computeObjectsImpact, dependentsSummary, objectSummary, objectTargets, statementLabel, type ObjectImpact, type ObjectsPreview, type ReadContext } from './object-impact.js';

export const PREVIEW_ROWS = 10;

export type ImpactPreview =
  | { kind: 'rows'; computedAt: string; rowCount: number; columns: ColumnOut[]; rows: unknown[][] }
  | ObjectsPreview
  | { kind: 'unavailable'; computedAt: string; message: string };

type AnyNode = Record<string, unknown>;

const WRITES = /"(InsertStmt|UpdateStmt|DeleteStmt|MergeStmt)"/;

/** Functions whose value is the session's (its settings, its backend, its transaction), not the data's. */
const PG_SESSION_FUNCTIONS: ReadonlySet<string> = new Set(['current_setting', 'pg_backend_pid', 'inet_client_addr', 'inet_client_port', 'txid_current_if_assigned', 'pg_current_xact_id_if_assigned', 'pg_trigger_depth']);
const PG_SESSION_VALUES: ReadonlySet<string> = new Set(['SVFOP_CURRENT_ROLE', 'SVFOP_CURRENT_USER', 'SVFOP_USER', 'SVFOP_SESSION_USER']);

/**
 * The first read of session state in a subtree (`current_setting(…)`, `current_user`, a pg_catalog
 * or information_schema relation such as pg_settings), or undefined. The preview runs in a
 * read-only transaction on the read pool and the approved write in another session, perhaps as a
 * just-in-time role: such a value differs between the two, so the rows counted would not be the
 * rows written.
 */
function pgSessionState(root: unknown): string | undefined {
  let found: string | undefined;
  visitObjects(root, (n) => {
    const call = n.FuncCall as AnyNode | undefined;
    if (call && Array.isArray(call.funcname)) {
      const last = (call.funcname[call.funcname.length - 1] as AnyNode | undefined)?.String as AnyNode | undefined;
      const name = typeof last?.sval === 'string' ? last.sval.toLowerCase() : undefined;
      if (name !== undefined && PG_SESSION_FUNCTIONS.has(name)) found = `${name}()`;
    }
    const value = n.SQLValueFunction as AnyNode | undefined;
    if (found === undefined && value && typeof value.op === 'string' && PG_SESSION_VALUES.has(value.op)) found = value.op.slice('SVFOP_'.length).toLowerCase();
    const rel = n.RangeVar as AnyNode | undefined;
    if (found === undefined && rel && typeof rel.relname === 'string') {
      const schema = typeof rel.schemaname === 'string' ? rel.schemaname.toLowerCase() : undefined;
      if (schema === 'pg_catalog' || schema === 'information_schema' || (schema === undefined && rel.relname.toLowerCase().startsWith('pg_'))) found = schema === undefined ? rel.relname : `${schema}.${rel.relname}`;
    }
    return found !== undefined;
  });
  return found;
}

/** The two SELECTs (count, first rows) of an UPDATE/DELETE, or why they cannot be built. */
export async function previewQueries(stmt: unknown): Promise<{ count: string; rows: string } | { error: string }> {
  const node = stmt as AnyNode;
  const update = node.UpdateStmt as AnyNode | undefined;
  const del = node.DeleteStmt as AnyNode | undefined;
  const s = update ?? del;
  if (!s) return { error: 'Only UPDATE and DELETE get a row preview.' };
  if (s.withClause !== undefined && WRITES.test(JSON.stringify(s.withClause))) return { error: 'The statement has a data-modifying WITH clause; its rows cannot be previewed without running it.' };
  const relation = s.relation as AnyNode;
  const name = ((relation.alias as AnyNode | undefined)?.aliasname as string | undefined) ?? (relation.relname as string);
  const extra = ((update ? s.fromClause : s.usingClause) as Node[] | undefined) ?? [];
  const session = pgSessionState([s.withClause, s.whereClause, extra]);
  if (session !== undefined) {
    return { error: `The statement reads the session's own state (${session}), which differs between the read-only session of a preview and the session the approved statement runs in; its rows are not previewed.` };
  }
  const from = [{ RangeVar: relation }, ...extra];
  const target = (field: AnyNode) => ({ ColumnRef: { fields: [{ String: { sval: name } }, field] } });
  const common = { fromClause: from, ...(s.whereClause ? { whereClause: s.whereClause } : {}), ...(s.withClause ? { withClause: s.withClause } : {}), op: 'SETOP_NONE' };
  // With USING/FROM a target row can match several times; it is changed once: count it once.
  const countCall = extra.length
    ? { FuncCall: { funcname: [{ String: { sval: 'count' } }], args: [target({ String: { sval: 'ctid' } })], agg_distinct: true, funcformat: 'COERCE_EXPLICIT_CALL' } }
    : { FuncCall: { funcname: [{ String: { sval: 'count' } }], agg_star: true, funcformat: 'COERCE_EXPLICIT_CALL' } };
  const count = { SelectStmt: { targetList: [{ ResTarget: { name: 'count', val: countCall } }], limitOption: 'LIMIT_OPTION_DEFAULT', ...common } };
  const rows = {
    SelectStmt: {
      ...(extra.length ? { distinctClause: [target({ String: { sval: 'ctid' } })] } : {}),
      targetList: [{ ResTarget: { val: target({ A_Star: {} }) } }],
      limitCount: { A_Const: { ival: { ival: PREVIEW_ROWS } } },
      limitOption: 'LIMIT_OPTION_COUNT',
      ...common,
    },
  };
  try {
    return { count: await deparse(count as never), rows: await deparse(rows as never) };
  } catch {
    return { error: 'The statement could not be turned into a preview query.' };
  }
}

/** What the preview needs: the policy and the pipeline's Executor port (masking plans, a read pool). */
export interface ImpactDeps {
  executor: () => ApprovalExecutor | Promise<ApprovalExecutor>;
  policy: PolicyConfig;
}

/** The preview function the review page calls. */
export function impactOf(deps: ImpactDeps): (record: ApprovalRequestRecord, approver: Principal) => Promise<ImpactPreview | undefined> {
  return (record, approver) => computeImpact(deps, record, approver);
}

/** Compute the preview for this approver now; failures become an `unavailable` preview, never a guess. */
export async function computeImpact(deps: ImpactDeps, record: ApprovalRequestRecord, approver: Principal): Promise<ImpactPreview | undefined> {
  const computedAt = new Date().toISOString();
  const unavailable = (message: string): ImpactPreview => ({ kind: 'unavailable', computedAt, message });
  const profile = deps.policy.profiles[record.profile];
  if (!profile) return unavailable('The profile of this request no longer exists.');
  if ((deps.policy.connections[record.connection]?.engine ?? 'postgres') !== 'postgres') {
    try {
      const executor = await deps.executor();
      const engine = executor.engine(record.connection);
      if (engine.name === 'mysql') return await mysqlImpact(deps, executor, engine, record, approver, profile, unavailable);
    } catch (e) {
      return unavailable(whyNoPreview(e));
    }
    return unavailable('The impact preview is computed for PostgreSQL and MySQL connections only.');
  }
  // Below: PostgreSQL's own catalog and syntax.
  let analysis: Analysis;
  try {
    analysis = analyzeSql(record.sql, { maxLength: deps.policy.limits.maxSqlLength });
  } catch {
    return unavailable('The statement could not be parsed for a preview.');
  }
  const objects = objectTargets(analysis);
  const rows = analysis.command === 'UpdateStmt' || analysis.command === 'DeleteStmt';
  // A CREATE has no existing object to measure; any other schema change without a preview says so.
  if (!objects && analysis.kind === 'ddl' && !analysis.command.startsWith('Create')) {
    return unavailable(`${statementLabel(analysis)} is not previewed; only TRUNCATE, and DROP or ALTER of a table, view, materialized view, index or sequence (and DROP SCHEMA) are.`);
  }
  if (!objects && !rows) return undefined;
  try {
    if (objects) return await computeObjectsImpact(await readContext(deps, record), objects);
    return await rowsImpact(deps, record, approver, analysis, profile, unavailable);
  } catch (e) {
    return unavailable(whyNoPreview(e));
  }
}

/** The profile's read pool (its role, read-only transaction, statement timeout) under the requester's identity. */
async function readContext(deps: ImpactDeps, record: ApprovalRequestRecord): Promise<ReadContext> {
  const executor = await deps.executor();
  const { handle } = await executor.readPool(record.connection, record.profile);
  if (!isPoolHandle(handle)) throw new Error(`Connection "${record.connection}" is not a PostgreSQL connection.`);
  return { handle, identity: identityOf(actorOfRequester(record.requester), record.requestId, record.sessionId) };
}

function whyNoPreview(e: unknown): string {
  if (isBrokerError(e) && e.code === 'policy_denied') return `The preview would reveal masked values (${e.reasons[0]?.code ?? e.code}); it is not shown.`;
  if (isBrokerError(e) && e.code === 'dependency_unavailable') return 'The database cannot be reached for a preview right now.';
  return 'The database could not compute the preview (it may have timed out); the statement itself is unchanged.';
}

/** UPDATE/DELETE: the exact count and the first rows, masked for this approver. */
async function rowsImpact(
  deps: ImpactDeps,
  record: ApprovalRequestRecord,
  approver: Principal,
  analysis: Analysis,
  profile: PolicyConfig['profiles'][string],
  unavailable: (message: string) => ImpactPreview,
): Promise<ImpactPreview> {
  const built = await previewQueries(analysis.stmt.stmt);
  if ('error' in built) return unavailable(built.error);
  const used = new Set([...built.rows.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  if (record.params.some((_, i) => !used.has(i + 1)) || built.count.match(/\$(\d+)/g)?.some((p) => Number(p.slice(1)) > record.params.length)) {
    return unavailable('Some parameters of the statement are used only in its SET list; the preview cannot bind them.');
  }
  const rowsAnalysis = analyzeSql(built.rows, { maxLength: Number.MAX_SAFE_INTEGER });
  const executor = await deps.executor();
  const plan = await executor.planMasking(rowsAnalysis, approver, { connection: record.connection, dbRole: profile.dbRole });
  const { handle, identity } = await readContext(deps, record);
  const counted = await executeStatement(handle, { sql: built.count, params: record.params, maxRows: 1, mode: 'read', identity });
  const sample = await executeStatement(handle, { sql: built.rows, params: record.params, maxRows: PREVIEW_ROWS, maxRowBytes: profile.maxResultBytes, mode: 'read', identity });
  await prepareOrigins(plan, sample.fields);
  const masked = applyMasking(plan, sample.fields, sample.rows);
  const rows = toJsonRows(masked.rows, sample.fields.map((f) => f.dataTypeID), masked.columns.map((c) => c.masked !== false));
  return { kind: 'rows', computedAt: new Date().toISOString(), rowCount: Number(counted.rows[0]?.[0] ?? 0), columns: masked.columns, rows };
}

/** A MySQL UPDATE/DELETE: the same preview, each step through the connection's engine. */
async function mysqlImpact(
  deps: ImpactDeps,
  executor: ApprovalExecutor,
  engine: AnyEngine,
  record: ApprovalRequestRecord,
  approver: Principal,
  profile: PolicyConfig['profiles'][string],
  unavailable: (message: string) => ImpactPreview,
): Promise<ImpactPreview | undefined> {
  let analysis: EngineAnalysis;
  try {
    analysis = engine.analyze(record.sql, { maxLength: deps.policy.limits.maxSqlLength });
  } catch {
    return unavailable('The statement could not be parsed for a preview.');
  }
  if (analysis.command !== 'update' && analysis.command !== 'delete') {
    const objects = mysqlObjectTargets(analysis as MysqlAnalysis);
    if (objects) return await mysqlObjectsImpact(executor, record, objects);
    if (analysis.kind === 'ddl' && !analysis.command.startsWith('create')) {
      const keyword = (analysis.root as { keyword?: unknown } | null)?.keyword;
      const label = `${analysis.command}${typeof keyword === 'string' ? ` ${keyword}` : ''}`.toUpperCase();
      return unavailable(`${label} is not previewed on MySQL connections; only UPDATE, DELETE, TRUNCATE and DROP TABLE are.`);
    }
    return undefined;
  }
  const built = mysqlPreviewQueries(record.sql, record.params, PREVIEW_ROWS);
  if ('error' in built) return unavailable(built.error);
  // The preview runs only what an agent could read on this profile, masked as the approver's reads.
  for (const a of [built.countAnalysis, built.rowsAnalysis]) {
    const decision = await executor.readDecision(a, record.connection, record.profile);
    if (decision.outcome !== 'allow') return unavailable(`The preview query would not be allowed as a read on this profile (${decision.reasons[0]?.code ?? decision.outcome}); it is not run.`);
  }
  const target = { connection: record.connection, dbRole: profile.dbRole };
  const [, plan] = await Promise.all([executor.planMasking(built.countAnalysis, approver, target), executor.planMasking(built.rowsAnalysis, approver, target)]);
  const { engine: runner, handle } = await executor.readPool(record.connection, record.profile);
  const identity = identityOf(actorOfRequester(record.requester), record.requestId, record.sessionId);
  const counted = await runner.execute(handle, { sql: built.count, params: built.params, maxRows: 1, maxRowBytes: profile.maxResultBytes, mode: 'read', identity }, built.countAnalysis);
  const sample = await runner.execute(handle, { sql: built.rows, params: built.params, maxRows: PREVIEW_ROWS, maxRowBytes: profile.maxResultBytes, mode: 'read', identity }, built.rowsAnalysis);
  await runner.prepareOrigins(plan, sample.fields);
  const masked = applyMasking(plan, sample.fields, sample.rows);
  const rows = toJsonRows(masked.rows, sample.fields.map((f) => f.dataTypeID), masked.columns.map((c) => c.masked !== false));
  return { kind: 'rows', computedAt: new Date().toISOString(), rowCount: Number(counted.rows[0]?.[0] ?? 0), columns: masked.columns, rows };
}

/**
 * A MySQL TRUNCATE or DROP TABLE: each table's row estimate and size from information_schema.TABLES,
 * read on the profile's read pool as its user sees them (a table it cannot see: "does not exist").
 */
async function mysqlObjectsImpact(executor: ApprovalExecutor, record: ApprovalRequestRecord, targets: NonNullable<ReturnType<typeof mysqlObjectTargets>>): Promise<ObjectsPreview> {
  const { engine, handle } = await executor.readPool(record.connection, record.profile);
  const analysis = engine.analyze(MYSQL_TABLE_SIZE_SQL, { maxLength: Number.MAX_SAFE_INTEGER });
  const objects: ObjectImpact[] = [];
  for (const t of targets.tables) {
    const name = t.schema === undefined ? t.name : `${t.schema}.${t.name}`;
    const r = await engine.execute(handle, { sql: MYSQL_TABLE_SIZE_SQL, params: [t.schema ?? null, t.name], maxRows: 1, mode: 'read' }, analysis);
    const row = r.rows[0];
    if (!row) {
      objects.push({ name, exists: false });
      continue;
    }
    const [schema, table, type, rows, bytes] = row.map((c) => (c === null ? null : String(c)));
    const totalBytes = Number(bytes ?? 0);
    objects.push({
      name: `${schema}.${table}`,
      exists: true,
      kind: type === 'VIEW' ? 'view' : 'table',
      ...(rows === null || rows === undefined ? {} : { rowEstimate: Number(rows) }),
      totalBytes,
      totalSize: prettyBytes(totalBytes),
    });
  }
  return { kind: 'objects', computedAt: new Date().toISOString(), statement: targets.statement, cascade: false, objects };
}

/** A size in the style of PostgreSQL's pg_size_pretty (`8192 bytes`, `48 MB`), so both engines' pages read alike. */
function prettyBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  let unit = 0;
  while (unit < units.length - 1 && Math.abs(size) >= 10 * 1024) {
    size = Math.round(size / 1024);
    unit++;
  }
  return `${size} ${units[unit]}`;
}

/** `TRUNCATE public.orders: ~120,000 rows, 48 MB; 1 dependent object(s) would be emptied too (computed …)` */
function objectsLine(p: ObjectsPreview): string {
  const objects = p.objects.map((o) => `${o.name}: ${objectSummary(o)}`).join('; ');
  const dependents = dependentsSummary(p);
  return `${p.statement} ${objects}${dependents ? `; ${dependents}` : ''} (computed ${p.computedAt} UTC)`;
}

/** The card's one line: the count only (no row values leave for Teams), or why there is none. */
export async function impactLine(deps: ImpactDeps, record: ApprovalRequestRecord): Promise<string | undefined> {
  // A viewer with no claims: never exempt from masking (the rows are not used here anyway).
  const nobody: Principal = { oid: 'query-broker:card', sub: 'query-broker:card', roles: [], groups: [], idtyp: 'app', exp: 0 };
  const p = await computeImpact(deps, record, nobody);
  if (!p) return undefined;
  if (p.kind === 'unavailable') return `no preview: ${p.message}`;
  if (p.kind === 'objects') return objectsLine(p);
  return `would touch ${p.rowCount} row(s) (computed ${p.computedAt} UTC)`;
}
