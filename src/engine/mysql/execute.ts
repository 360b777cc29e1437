/**
 * Run one agent statement on MySQL 8 / MariaDB with the guarantees of the PostgreSQL executor.
 *
 * Public surface:
 * - `executeMysql(handle, request)`: one statement on a pre-armed pooled connection (pools.ts: the
 *   profile's limits, role and database already set; a read pool's connection already in a
 *   READ ONLY transaction).
 *   Reads: the statement alone (a `SET sql_select_limit` first only when the row cap differs from
 *   the connection's). At most maxRows + 1 rows are read (the extra one says "truncated"): the
 *   server stops there (`sql_select_limit`) unless the statement's own LIMIT is larger, and then
 *   the executor stops reading and destroys the connection instead of buffering the rest. A row
 *   longer than maxRowBytes ends the connection before it is buffered (a socket guard on the
 *   packet framing, db/row-size-guard.ts). The read-only transaction ends with the session reset.
 *   Writes: START TRANSACTION → statement → affected rows over maxAffectedRows: ROLLBACK and
 *   AffectedRowsOverLimit, else COMMIT (DDL commits implicitly on MySQL: it cannot be rolled back).
 *   After every use the session is reset and armed again after the result is handed over
 *   (recycleMysql), or the connection destroyed.
 * - `estimateMysqlRows(handle, sql, params)`: EXPLAIN of a write (never executed): the rows the
 *   optimizer expects to examine in the table the statement writes.
 * - `bindMysqlParams(sql, params)`: `?` placeholders replaced by escaped literals.
 * - `mysqlResultFields(fields)`: mysql2's column definitions as the engine-neutral ResultField.
 *
 * Cells are the server's text, as on PostgreSQL: text columns decoded as UTF-8 (the session's
 * results charset is utf8mb4), binary strings and blobs (charset `binary`) as PostgreSQL prints
 * bytea: `\x` followed by lower-case hex; BIT as a string of 0 and 1; NULL as null.
 */
import { startsDashComment } from './lexer.js';
import type mysql from 'mysql2';
import { BrokerError } from '../../errors.js';
import { AffectedRowsOverLimit, DatabaseFailure, type StatementRequest } from '../../db/execute.js';
import type { EngineErrorInfo } from '../types.js';
import type { Cell, ExecutionResult, ResultField } from '../../db/types.js';
import { guardRowSize, mysqlFraming, type RowSizeGuard } from '../../db/row-size-guard.js';
import {
  checkOutMysql,
  killMysqlConnection,
  queryRows,
  recycleMysql,
  rememberSelectLimit,
  selectLimitAssignment,
  startMysqlSession,
  type ArmedSession,
  type MysqlHandle,
} from './pools.js';
import { toMysqlFailure } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Parameters

/**
 * Replace the `?` placeholders of `sql` with escaped literals. The statement is sent as text (the
 * server's text protocol gives the cells as the server prints them), so the binding is done here,
 * with a lexer that skips strings, quoted identifiers and comments exactly as the server does under
 * the session's sql_mode (pools.ts SQL_MODE: backslash escapes, double-quoted strings). Only scalars
 * are accepted (a list or object would expand into several values or `col = value` pairs), and each
 * literal is set off by spaces so it cannot merge with a neighbouring token (`x?` → `x'…'` would be
 * a hex literal). mysql2's own binding is not used: its `??` binds an identifier.
 */
export function bindMysqlParams(sql: string, params: readonly unknown[]): string {
  const positions = placeholderPositions(sql);
  if (positions.length !== params.length) {
    throw new BrokerError('invalid_request', `The statement has ${positions.length} ? placeholder(s) but ${params.length} parameter(s) were given; give one value per ?.`);
  }
  if (positions.length === 0) return sql;
  let out = '';
  let from = 0;
  positions.forEach((at, i) => {
    out += `${sql.slice(from, at)} ${literal(params[i], i)} `;
    from = at + 1;
  });
  return out + sql.slice(from);
}

function literal(value: unknown, index: number): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      // Backslash escapes are on (SQL_MODE), so this is mysql2's (sqlstring's) escaping.
      return `'${value.replace(/[\0\b\t\n\r\x1a"'\\]/g, (c) => ESCAPES[c] ?? c)}'`;
    case 'number':
      if (!Number.isFinite(value)) break;
      return String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    default:
      break;
  }
  throw new BrokerError('invalid_request', `Parameter ${index + 1} must be a string, a finite number, a boolean or null.`);
}

const ESCAPES: Record<string, string> = { '\0': '\\0', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z', '"': '\\"', "'": "\\'", '\\': '\\\\' };

/** Offsets of the `?` placeholders outside strings, quoted identifiers and comments. */
export function placeholderPositions(sql: string): number[] {
  const out: number[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n) {
        if (sql[i] === '\\' && c !== '`') {
          i += 2;
          continue;
        }
        if (sql[i] === c) {
          if (sql[i + 1] === c) {
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      i++;
      continue;
    }
    if (c === '#' || (c === '-' && sql[i + 1] === '-' && startsDashComment(sql, i))) {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      // Executable comments (/*! … */, /*M! … */) are code to the server: lex their inside.
      if (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')) {
        i += sql[i + 2] === '!' ? 3 : 4;
        continue;
      }
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (c === '?') out.push(i);
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Result metadata and cells

/** mysql2's column definition (the parts read here). */
export interface MysqlField {
  name: string;
  schema?: string;
  db?: string;
  orgTable: string;
  orgName: string;
  columnType?: number;
  type?: number;
  characterSet?: number;
  flags: number | string[];
  columnLength?: number;
  extendedFormat?: string;
}

const BINARY_CHARSET = 63;
const FLAG_UNSIGNED = 32;
const FLAG_ENUM = 256;
const FLAG_SET = 2048;

/** column type code → [type name, text variant name for blob-like codes] */
const TYPE_NAMES: Record<number, string> = {
  0: 'decimal',
  1: 'tinyint',
  2: 'smallint',
  3: 'int',
  4: 'float',
  5: 'double',
  6: 'null',
  7: 'timestamp',
  8: 'bigint',
  9: 'mediumint',
  10: 'date',
  11: 'time',
  12: 'datetime',
  13: 'year',
  14: 'date',
  15: 'varchar',
  16: 'bit',
  17: 'timestamp',
  18: 'datetime',
  19: 'time',
  242: 'vector',
  245: 'json',
  246: 'decimal',
  247: 'enum',
  248: 'set',
  249: 'tinyblob',
  250: 'mediumblob',
  251: 'longblob',
  252: 'blob',
  253: 'varchar',
  254: 'char',
  255: 'geometry',
};

const TEXT_OF_BLOB: Record<string, string> = { tinyblob: 'tinytext', mediumblob: 'mediumtext', longblob: 'longtext', blob: 'text' };

/** The closest PostgreSQL type OID: the engine-neutral JSON conversion and detectors key on it. */
const PG_OID: Record<string, number> = {
  tinyint: 21,
  smallint: 21,
  mediumint: 23,
  int: 23,
  year: 23,
  bigint: 20,
  decimal: 1700,
  float: 700,
  double: 701,
  json: 114,
  date: 1082,
  datetime: 1114,
  timestamp: 1114,
  time: 1083,
  bit: 1560,
  varchar: 25,
  char: 25,
  text: 25,
  tinytext: 25,
  mediumtext: 25,
  longtext: 25,
  enum: 25,
  set: 25,
  null: 25,
  binary: 17,
  varbinary: 17,
  blob: 17,
  tinyblob: 17,
  mediumblob: 17,
  longblob: 17,
  geometry: 17,
  vector: 17,
};

function flagBits(flags: number | string[]): number {
  return typeof flags === 'number' ? flags : 0;
}

/** The MySQL type name of a result column, lower case (`int`, `varchar`, `decimal`, `json`, `datetime`, `varbinary`…). */
export function mysqlTypeName(f: MysqlField): string {
  const code = f.columnType ?? f.type ?? 253;
  const flags = flagBits(f.flags);
  const binary = f.characterSet === BINARY_CHARSET;
  if (f.extendedFormat === 'json') return 'json';
  if (flags & FLAG_ENUM) return 'enum';
  if (flags & FLAG_SET) return 'set';
  const name = TYPE_NAMES[code] ?? 'varchar';
  if (name === 'varchar' && binary) return 'varbinary';
  if (name === 'char' && binary) return 'binary';
  if (name in TEXT_OF_BLOB && !binary) return TEXT_OF_BLOB[name]!;
  // Integers: an unsigned INT does not fit int4, an unsigned BIGINT not int8; the name keeps it.
  if ((name === 'int' || name === 'bigint') && flags & FLAG_UNSIGNED) return `${name} unsigned`;
  return name;
}

function pgOid(typeName: string): number {
  if (typeName === 'int unsigned') return 20;
  if (typeName === 'bigint unsigned') return 1700;
  return PG_OID[typeName] ?? 25;
}

/**
 * mysql2's column definitions as ResultFields: origin by name when the column comes from a table
 * (orgTable non-empty, aliases do not change it), tableID/columnID numbers local to this result (one
 * per distinct origin table and column, from 1; 0 for expressions).
 */
export function mysqlResultFields(fields: readonly MysqlField[]): ResultField[] {
  const tables = new Map<string, number>();
  const columns = new Map<string, number>();
  return fields.map((f) => {
    const typeName = mysqlTypeName(f);
    const field: ResultField = { name: f.name, dataTypeID: pgOid(typeName), tableID: 0, columnID: 0, typeName };
    if (f.orgTable !== '') {
      const schema = f.schema ?? f.db ?? '';
      const tableKey = `${schema}\u0000${f.orgTable}`;
      let tableID = tables.get(tableKey);
      if (tableID === undefined) tables.set(tableKey, (tableID = tables.size + 1));
      let columnID = columns.get(`${tableKey}\u0000${f.orgName}`);
      if (columnID === undefined) columns.set(`${tableKey}\u0000${f.orgName}`, (columnID = columns.size + 1));
      field.tableID = tableID;
      field.columnID = columnID;
      field.origin = { schema, table: f.orgTable, column: f.orgName };
    }
    return field;
  });
}

type CellDecoder = (b: Buffer) => string;

function cellDecoder(f: MysqlField, typeName: string, bitLength: number): CellDecoder {
  if (typeName === 'bit') {
    return (b) => {
      let bits = '';
      for (const byte of b) bits += byte.toString(2).padStart(8, '0');
      return bits.slice(Math.max(0, bits.length - bitLength));
    };
  }
  // JSON arrives with charset binary on MySQL but is UTF-8 text.
  if (f.characterSet === BINARY_CHARSET && typeName !== 'json' && PG_OID[typeName] === 17) return (b) => `\\x${b.toString('hex')}`;
  return (b) => b.toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// The row size guard

/**
 * The connection's row size guard (db/row-size-guard.ts, MySQL packet framing) with the limit of
 * this statement. Result rows are the only large packets a read receives; the limit allows for the
 * cells' length prefixes (at most 9 bytes for each of at most 4096 columns).
 */
const PREFIX_ALLOWANCE = 9 * 4096;

function guardPackets(conn: mysql.PoolConnection, maxRowBytes: number | undefined): RowSizeGuard {
  const socket = (conn as unknown as { stream: Parameters<typeof guardRowSize>[0] }).stream;
  return guardRowSize(socket, maxRowBytes === undefined ? Number.POSITIVE_INFINITY : maxRowBytes + PREFIX_ALLOWANCE, mysqlFraming);
}

// ---------------------------------------------------------------------------------------------
// Execution

/** Run one command on the connection, rows discarded. */
function run(conn: mysql.PoolConnection, sql: string): Promise<void> {
  return queryRows(conn, sql).then(() => undefined);
}

interface Collected {
  fields: ResultField[];
  rows: Cell[][];
  /** affected rows of a statement without a result set (OK packet) */
  affectedRows?: number;
  /** reading stopped at the cap and the connection was destroyed */
  stoppedEarly: boolean;
}

/**
 * Send the statement and collect its result: cells decoded as they arrive; a row past `stopAfter`
 * destroys the connection (the rest is never read). A second result set (a procedure's) is refused.
 */
function collect(conn: mysql.PoolConnection, sql: string, stopAfter: number, guard: RowSizeGuard, maxRowBytes: number | undefined): Promise<Collected> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let fields: ResultField[] = [];
    let decoders: CellDecoder[] = [];
    let resultSets = 0;
    let affectedRows: number | undefined;
    const rows: Cell[][] = [];
    const finish = (e: unknown, stoppedEarly = false) => {
      if (settled) return;
      settled = true;
      conn.removeListener('error', onError);
      if (e !== undefined) reject(e);
      else resolve({ fields, rows, stoppedEarly, ...(affectedRows === undefined ? {} : { affectedRows }) });
    };
    const query = conn.query({ sql, rowsAsArray: true, typeCast: false });
    query.on('fields', (defs: MysqlField[] | undefined) => {
      // An OK packet (a statement without a result set) also announces "fields", with none.
      if (defs === undefined) return;
      resultSets++;
      if (resultSets > 1) {
        killMysqlConnection(conn);
        finish(new BrokerError('query_failed', 'The statement returned more than one result set; run statements that return one result.'));
        return;
      }
      fields = mysqlResultFields(defs);
      decoders = defs.map((d, i) => cellDecoder(d, fields[i]!.typeName!, d.columnLength ?? 64));
    });
    query.on('result', (row: unknown) => {
      if (settled) return;
      if (!Array.isArray(row)) {
        const header = row as { affectedRows?: number };
        affectedRows = (affectedRows ?? 0) + (header.affectedRows ?? 0);
        return;
      }
      // The server usually stops at the cap itself (sql_select_limit) and the result ends there;
      // a row past it means the statement's own LIMIT is larger: stop reading, drop the connection.
      if (rows.length >= stopAfter) {
        killMysqlConnection(conn);
        finish(undefined, true);
        return;
      }
      rows.push(row.map((cell: Buffer | null, i) => (cell === null ? null : decoders[i]!(cell))));
    });
    // A dead socket is reported to the connection, not to a query without a callback.
    const onError = (err: unknown) => {
      if (guard.tripped) {
        finish(
          new BrokerError('query_failed', `A row of the result is larger than this profile allows (${maxRowBytes} bytes); nothing was returned. Select fewer or shorter columns.`, {
            cause: err,
          }),
        );
        return;
      }
      finish(err);
    };
    query.on('error', onError);
    conn.on('error', onError);
    query.on('end', () => finish(undefined));
  });
}

/** The command tag: the statement's first keyword, as PostgreSQL's tag names it (SELECT, UPDATE…). */
function commandTag(sql: string): string {
  const stripped = sql.replace(/^(\s+|#[^\n]*\n?|--\s[^\n]*\n?|\/\*(?![!M])[\s\S]*?\*\/)*/, '');
  return /^[A-Za-z]+/.exec(stripped)?.[0]?.toUpperCase() ?? '';
}

/** How long past the profile's time limit the executor waits before it kills the session itself. */
const BACKSTOP_GRACE_MS = 1000;

export async function executeMysql(handle: MysqlHandle, req: StatementRequest): Promise<ExecutionResult> {
  const started = performance.now();
  const sql = bindMysqlParams(req.sql, req.params);
  if (req.signal?.aborted) throw new BrokerError('invalid_request', 'The request was abandoned; the statement was cancelled.');
  const { conn, armed } = await checkOutMysql(handle);
  if (req.signal?.aborted) {
    // Abandoned while it waited for a connection (a full pool, a new one armed): nothing runs, and
    // the connection, untouched, goes back (an abort listener added now would never fire).
    recycleMysql(handle, conn);
    throw new BrokerError('invalid_request', 'The request was abandoned; the statement was cancelled.');
  }
  let destroyed = false;
  let aborted: BrokerError | undefined;
  const onAbort = () => {
    aborted = new BrokerError('invalid_request', 'The request was abandoned; the statement was cancelled.');
    destroyed = true;
    killMysqlConnection(conn);
  };
  req.signal?.addEventListener('abort', onAbort, { once: true });
  /** the transaction the statement runs in: a read-only one ends with the session reset, a write one here */
  let transaction: 'none' | 'read-only' | 'write' = armed.readOnlyTransaction ? 'read-only' : 'none';
  let timedOut = false;
  try {
    const read = req.mode === 'read';
    // A read handle stays read-only whatever the request says.
    const access = read || handle.mode === 'read' ? 'read' : 'write';
    const selectLimit = read ? req.maxRows + 1 : undefined;
    transaction = await prepareSession(conn, handle, armed, access, selectLimit);
    const guard = guardPackets(conn, read ? req.maxRowBytes : undefined);
    // A backstop for the server's own time limit, which a statement can lift for itself on MariaDB
    // (SET STATEMENT max_statement_time = 0 FOR …, refused by the analysis) and which MySQL 8 applies
    // to SELECT only: past the limit and a grace second, the session is killed on the server and
    // the connection dropped.
    const threadId = conn.threadId;
    const backstop = setTimeout(() => {
      timedOut = true;
      killMysqlConnection(conn, 'the statement ran past the time limit');
      if (threadId !== null) void handle.killSession(threadId);
    }, handle.limits.statementTimeoutMs + BACKSTOP_GRACE_MS);
    let r: Awaited<ReturnType<typeof collect>>;
    try {
      r = await collect(conn, sql, read ? req.maxRows + 1 : Number.POSITIVE_INFINITY, guard, req.maxRowBytes);
    } finally {
      clearTimeout(backstop);
    }
    if (r.stoppedEarly) destroyed = true;
    let rows = r.rows;
    const truncated = rows.length > req.maxRows;
    if (truncated) rows = rows.slice(0, req.maxRows);
    if (!read) {
      const affected = r.affectedRows ?? r.rows.length;
      if (req.maxAffectedRows !== undefined && affected > req.maxAffectedRows) {
        if (transaction === 'write') {
          await run(conn, 'ROLLBACK');
          transaction = 'none';
        }
        throw new AffectedRowsOverLimit(affected, req.maxAffectedRows);
      }
    }
    if (transaction === 'write' && !destroyed) {
      await run(conn, 'COMMIT');
      transaction = 'none';
    }
    return {
      fields: r.fields,
      rows,
      rowCount: read ? rows.length : (r.affectedRows ?? rows.length),
      truncated,
      command: read && commandTag(req.sql) === 'WITH' ? 'SELECT' : commandTag(req.sql),
      durationMs: performance.now() - started,
    };
  } catch (e) {
    if (aborted) throw aborted;
    if (timedOut) {
      destroyed = true;
      const info: EngineErrorInfo = { sqlstate: '70100', message: 'the statement ran past the time limit and was cancelled', kind: 'timeout' };
      throw new DatabaseFailure(info);
    }
    if (transaction === 'write' && !destroyed) {
      // A failed write leaves its transaction open with its locks: end it now, or the connection goes.
      await run(conn, 'ROLLBACK').catch(() => {
        destroyed = true;
        killMysqlConnection(conn);
      });
    }
    throw toMysqlFailure(e);
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    // Reset and armed again after the result is handed over; pooled only once both succeeded.
    if (!destroyed) recycleMysql(handle, conn);
  }
}

/**
 * Make the armed session what this use needs, with as few round trips as possible: on a connection
 * armed for it, nothing (reads) or only the row cap when it differs (reads) or START TRANSACTION
 * (writes); on one armed otherwise (a read on a write pool, an estimate on a read pool), the whole
 * session and transaction start. Returns the transaction the statement will run in.
 */
async function prepareSession(
  conn: mysql.PoolConnection,
  handle: MysqlHandle,
  armed: ArmedSession,
  access: 'read' | 'write',
  selectLimit: number | undefined,
): Promise<'read-only' | 'write'> {
  if (access === 'read' && armed.access === 'read' && armed.readOnlyTransaction) {
    if (armed.selectLimit !== selectLimit) {
      await run(conn, `SET SESSION ${selectLimitAssignment(selectLimit)}`);
      rememberSelectLimit(handle, selectLimit);
    }
    return 'read-only';
  }
  if (access === 'write' && armed.access === 'write' && !armed.readOnlyTransaction && armed.selectLimit === selectLimit) {
    await run(conn, 'START TRANSACTION');
    return 'write';
  }
  if (armed.readOnlyTransaction) await run(conn, 'ROLLBACK');
  await startMysqlSession(conn, handle, access, selectLimit);
  await run(conn, access === 'read' ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION');
  return access === 'read' ? 'read-only' : 'write';
}

// ---------------------------------------------------------------------------------------------
// Estimates

const WRITE_START = /^(UPDATE|DELETE|INSERT|REPLACE)\b/i;

/**
 * The optimizer's estimate of the rows a write touches, without running it: EXPLAIN of the
 * statement (FORMAT=JSON on MySQL 8, the tabular EXPLAIN on MariaDB). The answer is the largest
 * `rows` estimate among the plan's tables: the written table for UPDATE/DELETE, the largest scan of
 * the SELECT for INSERT … SELECT / REPLACE … SELECT (what the approval threshold compares with).
 * Statements that do not start with UPDATE, DELETE, INSERT or REPLACE are refused (`EXPLAIN
 * ANALYZE …` would run them). The optimizer may evaluate a constant subquery while it plans, so
 * the EXPLAIN runs in a transaction that is always rolled back (the server refuses to EXPLAIN a
 * write in a read-only one), and the session is reset after it like after any statement.
 */
export async function estimateMysqlRows(handle: MysqlHandle, sql: string, params: readonly unknown[]): Promise<number> {
  const bound = bindMysqlParams(sql, params);
  const head = bound.replace(/^(\s+|#[^\n]*\n?|--\s[^\n]*\n?|\/\*(?![!M])[\s\S]*?\*\/)*/, '');
  if (!WRITE_START.test(head)) {
    throw new BrokerError('invalid_request', 'Only UPDATE, DELETE, INSERT and REPLACE statements have a row estimate.');
  }
  const { conn, armed } = await checkOutMysql(handle);
  let destroyed = false;
  try {
    // The server refuses EXPLAIN of a write in a read-only transaction; EXPLAIN runs nothing, and
    // the transaction is rolled back whatever happens.
    await prepareSession(conn, handle, armed, 'write', undefined);
    try {
      if (handle.flavor === 'mariadb') {
        const rows = await queryRows(conn, `EXPLAIN ${head}`);
        return maxRows(rows.map((r) => r.rows));
      }
      const rows = await queryRows(conn, `EXPLAIN FORMAT=JSON ${head}`);
      const plan = JSON.parse(String(Object.values(rows[0] ?? {})[0] ?? '{}')) as unknown;
      const found: unknown[] = [];
      walkPlan(plan, found);
      return maxRows(found);
    } finally {
      await run(conn, 'ROLLBACK').catch(() => {
        destroyed = true;
        killMysqlConnection(conn);
      });
    }
  } catch (e) {
    throw toMysqlFailure(e);
  } finally {
    if (!destroyed) recycleMysql(handle, conn);
  }
}

function walkPlan(node: unknown, out: unknown[]): void {
  if (Array.isArray(node)) {
    for (const n of node) walkPlan(n, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'rows_examined_per_scan' || key === 'rows') out.push(value);
    else walkPlan(value, out);
  }
}

function maxRows(values: readonly unknown[]): number {
  let max = 0;
  for (const v of values) {
    const n = Number(v);
    if (Number.isFinite(n) && n > max) max = n;
  }
  return max;
}
