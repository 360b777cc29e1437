/**
 * mysql2 pools for MySQL 8 / MariaDB connections, and the life of one pooled connection.
 *
 * Public surface:
 * - `MysqlPoolRegistry`: one pool per connection, profile and mode (as db/pools.ts for PostgreSQL).
 * - `createMysqlHandle(credentials, profile, mode, options)`: one pool (tests, the catalog).
 * - `checkOutMysql(handle)`: an armed connection and what it is armed with; `recycleMysql(handle,
 *   conn)`: after the use, reset and re-arm it off the latency path, then pool it (or destroy it).
 * - `acquireMysql(handle)`: a raw connection (password looked up for new connections, retried once
 *   after a rejected password), for the broker's own sessions (session.ts), which destroy it after.
 * - `sessionSettingsSql(...)`: the settings a connection is armed with.
 * - `mysqlQueryable(handle)`: a `Queryable` (catalog look-ups, EXPLAIN) over the same life cycle.
 *
 * MySQL has no start-up options and no way to lock a session variable, so the limits are set on the
 * session, and COM_RESET_CONNECTION after every use returns the session to the server's defaults
 * (user variables, temporary tables, prepared statements, locks taken with GET_LOCK, open
 * transactions, session variables): a connection goes back to the pool clean or is destroyed.
 * The SQL analysis refuses SET and friends; these settings are what holds if it errs.
 *
 * Pre-armed connections: a pooled connection is idle *armed* for its pool's profile. After a use it
 * is reset and then armed again — the session settings, `SET ROLE` (the profile's dbRole, or the
 * role the login had when the connection opened), `USE` of the default database, and for a read
 * pool `START TRANSACTION READ ONLY` — before the pool may
 * hand it out again; all of it after the statement's result was handed over, off the latency path,
 * and pipelined (the reset and the arming statements in one socket write, answers read in order).
 * So a read sends its statement alone (plus `sql_select_limit` when its row cap differs from the
 * one the connection has), and the read-only transaction ends with the reset (a rollback). A
 * connection whose reset or arming fails (or takes longer than RECYCLE_TIMEOUT_MS) is destroyed,
 * never pooled; a new connection is armed before its first use. InnoDB takes a transaction's
 * snapshot at its first read, not at START TRANSACTION: a read on a connection that sat armed sees
 * what was committed before it ran. `handle.end()` waits for resets and armings in flight.
 *
 * Driver options that matter for safety: `multipleStatements: false` (one statement per round
 * trip), no LOCAL INFILE (the flag is off and no stream factory exists: `LOAD DATA LOCAL` cannot
 * read the broker's files), `mysql_clear_password` only over TLS (Entra tokens), `resetOnRelease`
 * off (the reset is ours, before arming: the driver's would undo the arming).
 *
 * What the reset leaves and the arming therefore always sets again: the active role (MariaDB keeps
 * it) and the current database (both servers keep it), so a `SET ROLE` or `USE` that got past the
 * analysis never reaches the next user of the connection.
 */
import { EventEmitter } from 'node:events';
import { TLSSocket } from 'node:tls';
import mysql from 'mysql2';
import { BrokerError } from '../../errors.js';
import type { ConnectionCredentials } from '../../db/credentials.js';
import type { ExecutionMode } from '../../db/pools.js';
import type { ProfileConfig } from '../../policy/schema.js';
import type { Queryable } from '../../db/types.js';
import { isMysqlPasswordRejected, toMysqlFailure, UNAVAILABLE_SENTENCE } from './errors.js';

export type MysqlFlavor = 'mariadb' | 'mysql';

/** The limits a profile puts on every statement. */
export interface MysqlSessionLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

export interface MysqlHandle {
  readonly pool: mysql.Pool;
  readonly credentials: ConnectionCredentials;
  readonly limits: MysqlSessionLimits;
  readonly mode: ExecutionMode;
  /** the server's flavor, learned on the first connection */
  flavor?: MysqlFlavor;
  /** the profile's dbRole: every use starts with SET ROLE (startMysqlSession) */
  readonly role?: string;
  /**
   * the default database, selected at every arming after SET ROLE (the reset keeps the current
   * database): the connection's own, or the one a login that may not name it at connect uses (JIT users)
   */
  readonly useDatabase?: string;
  /** Resolves when no reset or arming of this pool's connections is in flight. */
  settled(): Promise<void>;
  /**
   * End the session with this id on the server (`KILL`) from a connection of its own: a user may
   * kill its own sessions without the PROCESS privilege. Best effort; never throws.
   */
  killSession(threadId: number): Promise<void>;
  /** Close the pool once the resets and armings in flight are done (connections returned later are destroyed). */
  end(): Promise<void>;
}

/** What an armed connection's session has, besides the handle's limits, role and database. */
export interface ArmedSession {
  /** the session's default access mode (tx_read_only / transaction_read_only) */
  access: ExecutionMode;
  /** sql_select_limit; undefined: the server's DEFAULT (no cap) */
  selectLimit: number | undefined;
  /** a `START TRANSACTION READ ONLY` is open (read pools) */
  readOnlyTransaction: boolean;
}

export interface MysqlPoolOptions {
  /** connections at most (default 10) */
  connectionLimit?: number;
  /** Entra token as password: `mysql_clear_password`, TLS required */
  entra?: boolean;
  /** the MySQL role every use of a connection runs with (a profile's dbRole) */
  role?: string;
  /** a database to USE at every arming (after SET ROLE); default: the target's database */
  useDatabase?: string;
}

/**
 * sql_mode the analysis lexes with: no ANSI_QUOTES (double quotes delimit strings), no
 * NO_BACKSLASH_ESCAPES (backslash escapes in strings), no PIPES_AS_CONCAT; strict for all tables.
 * Set explicitly so a server default cannot make the server lex differently from the analysis.
 */
export const SQL_MODE = 'STRICT_ALL_TABLES,ONLY_FULL_GROUP_BY,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

/**
 * The one SET a connection is armed with (and a use that needs other settings starts with): time
 * limits (MariaDB `max_statement_time` in seconds for every statement; MySQL 8 `max_execution_time`
 * in ms, which bounds SELECTs only), lock waits (row locks, metadata locks; whole seconds, at
 * least 1), the sql_mode above, utf8mb4 results, autocommit, the session's default access mode
 * (read-only for reads, besides the explicit READ ONLY transaction), and for reads a server-side
 * row cap (`sql_select_limit`; an explicit LIMIT in the statement wins over it, so the executor
 * also stops reading at the cap).
 */
export function sessionSettingsSql(flavor: MysqlFlavor, limits: MysqlSessionLimits, mode: ExecutionMode, selectLimit?: number): string {
  const lockSeconds = Math.max(1, Math.ceil(limits.lockTimeoutMs / 1000));
  const parts = ['NAMES utf8mb4 COLLATE utf8mb4_unicode_ci', 'SESSION autocommit = 1'];
  if (flavor === 'mariadb') parts.push(`SESSION max_statement_time = ${(limits.statementTimeoutMs / 1000).toFixed(3)}`);
  else parts.push(`SESSION max_execution_time = ${Math.max(1, Math.round(limits.statementTimeoutMs))}`);
  parts.push(`SESSION innodb_lock_wait_timeout = ${lockSeconds}`, `SESSION lock_wait_timeout = ${lockSeconds}`, `SESSION sql_mode = '${SQL_MODE}'`);
  parts.push(`SESSION ${flavor === 'mariadb' ? 'tx_read_only' : 'transaction_read_only'} = ${mode === 'read' ? 1 : 0}`);
  parts.push(`SESSION ${selectLimitAssignment(selectLimit)}`);
  return `SET ${parts.join(', ')}`;
}

/** `sql_select_limit = N` (at least 1), or DEFAULT for no cap. */
export function selectLimitAssignment(selectLimit: number | undefined): string {
  return `sql_select_limit = ${selectLimit === undefined ? 'DEFAULT' : Math.max(1, Math.floor(selectLimit))}`;
}

/** The mutable part of mysql2's pool config: each new connection copies it (base/pool.js). */
interface PoolInternals {
  config: { connectionConfig: { password?: string } };
}

const quoteIdent = (name: string): string => `\`${name.replaceAll('`', '``')}\``;

/**
 * Set a connection's session for the handle's profile: the SET of `sessionSettingsSql`, then the
 * profile's role (`SET ROLE`, which replaces the login's default roles: the statement has the
 * role's privileges plus the login user's own, so the login user should hold none of its own on
 * the data), then the default database of a login that could not name it at connect. The session
 * reset does not undo SET ROLE on MariaDB, so it is set at every arming: a pool serves one profile only.
 */
export async function startMysqlSession(conn: mysql.PoolConnection, handle: MysqlHandle, mode: ExecutionMode, selectLimit?: number): Promise<void> {
  await queryRows(conn, sessionSettingsSql(handle.flavor ?? 'mysql', handle.limits, mode, selectLimit));
  await queryRows(conn, setRoleSql(handle, conn));
  if (handle.useDatabase !== undefined) await queryRows(conn, `USE ${quoteIdent(handle.useDatabase)}`);
}

/**
 * The role a use runs with: the profile's dbRole; without one, the role(s) the login had at
 * connect (MySQL 8: `SET ROLE DEFAULT`; MariaDB has no DEFAULT there: the role read when the
 * connection opened, or NONE when that is unknown). Set at every arming because MariaDB's session
 * reset keeps whatever role the last statement chose. On a MySQL 8 server with
 * activate_all_roles_on_login, DEFAULT is fewer roles than a login gets: give such profiles a dbRole.
 */
function setRoleSql(handle: MysqlHandle, conn: mysql.PoolConnection): string {
  if (handle.role !== undefined) return `SET ROLE ${quoteIdent(handle.role)}`;
  if (handle.flavor !== 'mariadb') return 'SET ROLE DEFAULT';
  const role = loginRoles.get(conn);
  return role === undefined || role === null ? 'SET ROLE NONE' : `SET ROLE ${quoteIdent(role)}`;
}

/** MariaDB: the role active on a connection that was just opened (its login's default role), or null. */
async function readLoginRole(conn: mysql.PoolConnection): Promise<void> {
  const rows = await queryRows(conn, 'SELECT CURRENT_ROLE() AS role');
  const role = rows[0]?.role;
  loginRoles.set(conn, typeof role === 'string' && role !== '' ? role : null);
}

/**
 * mysql2's `mysql_clear_password` plugin for Entra tokens (Azure Database for MySQL asks for the
 * token in the clear): the token is sent only on a TLS socket, otherwise the handshake fails.
 */
export function clearPasswordOverTls({ connection }: { connection: object }): () => Buffer {
  return () => {
    const c = connection as { config: { password?: string }; stream: unknown };
    if (!(c.stream instanceof TLSSocket) || !c.stream.encrypted) {
      throw new Error('refusing to send the Entra token without TLS');
    }
    return Buffer.from(`${c.config.password ?? ''}\0`);
  };
}

/** One pool for a connection's target, as the profile and mode say. */
export async function createMysqlHandle(credentials: ConnectionCredentials, limits: MysqlSessionLimits, mode: ExecutionMode, options: MysqlPoolOptions = {}): Promise<MysqlHandle> {
  const target = await credentials.target();
  const entra = options.entra === true;
  const connectionOptions: mysql.ConnectionOptions = {
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    // Azure Database for MySQL presents a certificate of a public CA (Node's default store).
    ...(target.ssl || entra ? { ssl: { rejectUnauthorized: true } } : {}),
    connectTimeout: 5_000,
    multipleStatements: false,
    flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
    ...(entra ? { authPlugins: { mysql_clear_password: clearPasswordOverTls } } : {}),
  };
  const pool = mysql.createPool({
    ...connectionOptions,
    connectionLimit: options.connectionLimit ?? 10,
    maxIdle: options.connectionLimit ?? 10,
    idleTimeout: 60_000,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // The executor reads raw cells (typeCast: false per query) and keeps the server's text.
    typeCast: true,
    charset: 'UTF8MB4_UNICODE_CI',
    // The reset is recycleMysql's, before the arming; the driver's own on release would undo it.
    resetOnRelease: false,
  });
  pool.on('connection', (conn) => {
    // A pooled connection that dies while idle (server restart, network) must not crash the process.
    conn.on('error', () => {});
    fresh.add(conn);
  });
  const life: PoolLife = { inFlight: new Set(), closing: false, selectLimit: undefined };
  // The reset keeps the current database: every arming selects the connection's own again.
  const useDatabase = options.useDatabase ?? target.database;
  const handle: MysqlHandle = {
    pool,
    credentials,
    limits,
    mode,
    ...(options.role === undefined ? {} : { role: options.role }),
    ...(useDatabase === undefined || useDatabase === '' ? {} : { useDatabase }),
    async settled() {
      while (life.inFlight.size > 0) await Promise.allSettled([...life.inFlight]);
    },
    async killSession(threadId) {
      try {
        const side = mysql.createConnection({ ...connectionOptions, password: await credentials.password() });
        side.on('error', () => {});
        await new Promise<void>((resolve) => {
          side.query(`KILL ${Math.floor(threadId)}`, () => resolve());
        });
        side.destroy();
      } catch {
        // The session ends anyway when the server notices its socket is gone.
      }
    },
    async end() {
      life.closing = true;
      await handle.settled();
      await new Promise<void>((resolve) => pool.end(() => resolve()));
    },
  };
  lives.set(handle, life);
  return handle;
}

/** Point the pool's next new connections at the current password (a cached secret, or a fresh token). */
async function refreshPassword(handle: MysqlHandle): Promise<void> {
  const password = await handle.credentials.password();
  (handle.pool as unknown as PoolInternals).config.connectionConfig.password = password;
}

function getConnection(handle: MysqlHandle, timeoutMs: number): Promise<mysql.PoolConnection> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    handle.pool.getConnection((err, conn) => {
      if (done) {
        // Too late for the caller: give it back (or let the failure go).
        if (!err) conn.release();
        return;
      }
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(conn);
    });
  });
}

/**
 * A connection of the pool as it is (armed or not: `checkOutMysql` is the executor's way in).
 * Throws BrokerError dependency_unavailable when none can be had.
 */
export async function acquireMysql(handle: MysqlHandle, acquireTimeoutMs = 5_000): Promise<mysql.PoolConnection> {
  try {
    await refreshPassword(handle);
    let conn: mysql.PoolConnection;
    try {
      conn = await getConnection(handle, acquireTimeoutMs);
    } catch (e) {
      if (!isMysqlPasswordRejected(e)) throw e;
      // Probably rotated: fetch the secret (or token) again and try exactly once more.
      handle.credentials.invalidate();
      await refreshPassword(handle);
      conn = await getConnection(handle, acquireTimeoutMs);
    }
    try {
      handle.flavor ??= await detectFlavor(conn);
    } catch (e) {
      // Neither handed out nor given back, it would hold its pool slot for good.
      killMysqlConnection(conn, 'the server flavor could not be read');
      throw e;
    }
    return conn;
  } catch (e) {
    if (e instanceof BrokerError) throw e;
    throw new BrokerError('dependency_unavailable', UNAVAILABLE_SENTENCE, { cause: e });
  }
}

async function detectFlavor(conn: mysql.PoolConnection): Promise<MysqlFlavor> {
  const rows = await queryRows(conn, 'SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v ?? '')) ? 'mariadb' : 'mysql';
}

/**
 * End a connection now, whatever it is doing: the socket is destroyed (mysql2's own destroy() only
 * half-closes it and would still wait for the running statement's answer), the pending command
 * fails, and the pool forgets the connection. The server notices the closed socket and ends the
 * session, rolling back its transaction.
 */
export function killMysqlConnection(conn: mysql.PoolConnection, reason = 'the connection was dropped'): void {
  (conn as unknown as { stream?: { destroy(e?: Error): void } }).stream?.destroy(new Error(reason));
  conn.destroy();
}

/**
 * COM_RESET_CONNECTION; if the server does not know the command (MySQL before 5.7.3),
 * COM_CHANGE_USER does the same. Rejects when neither succeeded.
 */
async function resetSession(conn: mysql.PoolConnection): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => conn.reset((err) => (err ? reject(err) : resolve())));
  } catch (e) {
    if ((e as { errno?: number }).errno !== 1047) throw e;
    await new Promise<void>((resolve, reject) => conn.changeUser({}, (err) => (err ? reject(err) : resolve())));
  }
}

/** What a pool's connections go through between uses. */
interface PoolLife {
  /** resets and armings running now (`settled()` waits for them) */
  inFlight: Set<Promise<void>>;
  /** `end()` was called: connections coming back are destroyed, not armed */
  closing: boolean;
  /** the row cap the pool's last user asked for: read connections are armed with it */
  selectLimit: number | undefined;
}

const lives = new WeakMap<MysqlHandle, PoolLife>();
/** connections opened and not yet used: their session is the server's default, no reset needed */
const fresh = new WeakSet<mysql.PoolConnection>();
/** idle connections and what they are armed with; a connection is taken out of it when handed out */
const armedSessions = new WeakMap<mysql.PoolConnection, ArmedSession>();
/** MariaDB connections of pools without a dbRole: the role their login had when they opened (null: none) */
const loginRoles = new WeakMap<mysql.PoolConnection, string | null>();

/** A reset and an arming together longer than this (a server that stopped answering): the connection goes. */
const RECYCLE_TIMEOUT_MS = 10_000;

function lifeOf(handle: MysqlHandle): PoolLife {
  const life = lives.get(handle);
  if (!life) throw new BrokerError('internal_error', 'A MySQL handle not made by createMysqlHandle was used.');
  return life;
}

/** The statements that arm a clean session for the handle's pool, in order, and what they arm. */
function armingOf(handle: MysqlHandle, life: PoolLife, conn: mysql.PoolConnection): { statements: string[]; armed: ArmedSession } {
  const read = handle.mode === 'read';
  const selectLimit = read ? life.selectLimit : undefined;
  const statements = [sessionSettingsSql(handle.flavor ?? 'mysql', handle.limits, handle.mode, selectLimit)];
  statements.push(setRoleSql(handle, conn));
  if (handle.useDatabase !== undefined) statements.push(`USE ${quoteIdent(handle.useDatabase)}`);
  if (read) statements.push('START TRANSACTION READ ONLY');
  return { statements, armed: { access: handle.mode, selectLimit, readOnlyTransaction: read } };
}

/**
 * Arm a clean session for the handle's pool: its settings (the row cap the pool's last user asked
 * for, on read pools), role and database (startMysqlSession), and on a read pool an open READ ONLY
 * transaction. One statement after the other: a new connection, on the latency path.
 */
async function armSession(conn: mysql.PoolConnection, handle: MysqlHandle, life: PoolLife): Promise<ArmedSession> {
  const { statements, armed } = armingOf(handle, life, conn);
  for (const sql of statements) await queryRows(conn, sql);
  return armed;
}

/** The parts of mysql2's connection a pipelined command uses (base/connection.js). */
interface WireConnection {
  stream: { cork(): void; uncork(): void };
  sequenceId: number;
  clientEncoding: string;
  write(buffer: Buffer): void;
  addCommand(command: object): void;
  _statements?: { clear(): void };
}

/** A response packet as mysql2 hands it to a command. */
interface ResponsePacket {
  isError(): boolean;
  peekByte(): number;
  asError(encoding: string): Error;
}

const COM_QUERY = 0x03;
const COM_RESET_CONNECTION = 0x1f;

function commandPacket(command: number, sql = ''): Buffer {
  const body = Buffer.from(sql, 'utf8');
  const packet = Buffer.alloc(5 + body.length);
  packet.writeUIntLE(1 + body.length, 0, 3);
  packet[3] = 0; // every command starts a new sequence
  packet[4] = command;
  body.copy(packet, 5);
  return packet;
}

/**
 * COM_RESET_CONNECTION and the arming statements pipelined: all sent in one socket write, their
 * answers (an OK or an error each) read in order. The server runs them one after the other as
 * sequential commands would run; whatever fails, the caller destroys the connection, so a
 * statement that ran after a failed one never serves anyone. The reset's error is the one thrown
 * when several failed (errno 1047: the server has no COM_RESET_CONNECTION).
 * A mysql2 command of our own (mysql2 has no pipelining): it writes at start, then counts answers;
 * anything but an OK or an error packet throws, which makes mysql2 destroy the connection.
 */
function resetAndArmPipelined(conn: mysql.PoolConnection, statements: readonly string[]): Promise<void> {
  const wire = conn as unknown as WireConnection;
  return new Promise<void>((resolve, reject) => {
    let left = 1 + statements.length;
    const errors: Error[] = [];
    let settled = false;
    const settle = (e?: Error): void => {
      if (settled) return;
      settled = true;
      if (e) reject(e);
      else resolve();
    };
    const command = Object.assign(new EventEmitter(), {
      /** mysql2 reports a dead connection here */
      onResult: (err: Error | null) => settle(err ?? new Error('the connection ended during the session reset')),
      /** mysql2's debug output names the command's state */
      stateName: () => `resetAndArm(${left} answers to come)`,
      execute(packet: ResponsePacket | undefined, connection: WireConnection): boolean {
        if (packet === undefined) {
          connection.stream.cork();
          connection.write(commandPacket(COM_RESET_CONNECTION));
          for (const sql of statements) connection.write(commandPacket(COM_QUERY, sql));
          connection.stream.uncork();
          // Each answer is the first packet of its command's exchange.
          connection.sequenceId = 1;
          return false;
        }
        connection.sequenceId = 1;
        if (packet.isError()) errors.push(packet.asError(connection.clientEncoding));
        else if (packet.peekByte() !== 0x00) throw new Error('an arming statement answered with something other than OK');
        if (--left > 0) return false;
        connection._statements?.clear();
        settle(errors[0]);
        command.emit('end');
        return true;
      },
    });
    wire.addCommand(command);
  });
}

/**
 * An armed connection of the pool for one use, and what it is armed with. A connection that is
 * not armed (new) is armed first; if that fails it is destroyed and the failure thrown (as the
 * executor's: DatabaseFailure for a refusal such as an unknown role, 503 otherwise). The caller
 * gives it back with `recycleMysql` (or destroys it with `killMysqlConnection`).
 */
export async function checkOutMysql(handle: MysqlHandle, acquireTimeoutMs = 5_000): Promise<{ conn: mysql.PoolConnection; armed: ArmedSession }> {
  const life = lifeOf(handle);
  const conn = await acquireMysql(handle, acquireTimeoutMs);
  const armed = armedSessions.get(conn);
  armedSessions.delete(conn);
  const isNew = fresh.delete(conn);
  if (armed !== undefined) return { conn, armed };
  try {
    // Not armed and not new: given back without recycleMysql. Never trust its session.
    if (!isNew) await resetSession(conn);
    else if (handle.role === undefined && handle.flavor === 'mariadb') await readLoginRole(conn);
    return { conn, armed: await armSession(conn, handle, life) };
  } catch (e) {
    killMysqlConnection(conn, 'arming the session failed');
    throw toMysqlFailure(e);
  }
}

/** Remember the row cap the pool's users ask for: the next armings set it, so the next uses need no SET. */
export function rememberSelectLimit(handle: MysqlHandle, selectLimit: number | undefined): void {
  lifeOf(handle).selectLimit = selectLimit;
}

/**
 * Give a used connection back, off the caller's path: once the caller's current task is done (its
 * result on its way), the session is reset and armed again, and only then does the connection
 * return to the pool. Any failure, or both taking longer than RECYCLE_TIMEOUT_MS, destroys it; so
 * does a pool that is closing. Never throws; `handle.settled()` waits for it.
 */
export function recycleMysql(handle: MysqlHandle, conn: mysql.PoolConnection): void {
  const life = lifeOf(handle);
  let killed = false;
  const kill = (reason: string): void => {
    if (killed) return;
    killed = true;
    killMysqlConnection(conn, reason);
  };
  const work = (async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (life.closing) return kill('the pool is closing');
    const timer = setTimeout(() => kill('the session reset and arming took too long'), RECYCLE_TIMEOUT_MS);
    try {
      const arming = armingOf(handle, life, conn);
      let armed = arming.armed;
      try {
        await resetAndArmPipelined(conn, arming.statements);
      } catch (e) {
        // A server without COM_RESET_CONNECTION: COM_CHANGE_USER resets whatever the pipeline set,
        // then the arming runs again, one statement after the other (with the row cap of now).
        if ((e as { errno?: number }).errno !== 1047 || killed) throw e;
        await resetSession(conn);
        armed = await armSession(conn, handle, life);
      }
      if (killed) return;
      if (life.closing) return kill('the pool is closing');
      armedSessions.set(conn, armed);
      conn.release();
    } catch {
      kill('the session reset or arming failed');
    } finally {
      clearTimeout(timer);
    }
  })();
  life.inFlight.add(work);
  void work.finally(() => life.inFlight.delete(work));
}

/** Run one query on a checked-out connection; rows as objects (mysql2's default conversion with the pool's options). */
export function queryRows(conn: mysql.PoolConnection, sql: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    conn.query({ sql, ...(values === undefined ? {} : { values }) }, (err, rows) => {
      if (err) reject(err);
      else resolve(Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []);
    });
  });
}

/**
 * A Queryable over the handle: each query gets an armed connection (read-only for a read handle,
 * in a READ ONLY transaction), no row cap, the query, and the reset and arming after it. Errors as
 * the executor's (DatabaseFailure, 503). `?` placeholders are bound by mysql2 (the texts are the
 * broker's own: catalog look-ups, EXPLAIN).
 */
export function mysqlQueryable(handle: MysqlHandle): Queryable {
  return {
    async query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
      const { conn, armed } = await checkOutMysql(handle);
      try {
        if (armed.selectLimit !== undefined) {
          await queryRows(conn, `SET SESSION ${selectLimitAssignment(undefined)}`);
          rememberSelectLimit(handle, undefined);
        }
        return { rows: (await queryRows(conn, text, values)) as R[] };
      } catch (e) {
        throw toMysqlFailure(e);
      } finally {
        recycleMysql(handle, conn);
      }
    },
  };
}

/** One pool per connection, profile and mode; created on first use, kept warm. */
export class MysqlPoolRegistry {
  private readonly pools = new Map<string, Promise<MysqlHandle>>();

  constructor(
    private readonly credentialsFor: (connection: string) => ConnectionCredentials,
    private readonly poolSize: (connection: string) => number,
    /** whether the connection authenticates with an Entra token (`credentials.entra`) */
    private readonly usesEntra: (connection: string) => boolean = () => false,
  ) {}

  get(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode, maxConnections?: number): Promise<MysqlHandle> {
    const key = `${connection}\u0000${profileName}\u0000${mode}`;
    let handle = this.pools.get(key);
    if (!handle) {
      handle = createMysqlHandle(this.credentialsFor(connection), { statementTimeoutMs: profile.statementTimeoutMs, lockTimeoutMs: profile.lockTimeoutMs }, mode, {
        connectionLimit: Math.min(this.poolSize(connection), maxConnections ?? Number.POSITIVE_INFINITY),
        entra: this.usesEntra(connection),
        ...(profile.dbRole === undefined ? {} : { role: profile.dbRole }),
      });
      this.pools.set(key, handle);
      handle.catch(() => this.pools.delete(key));
    }
    return handle;
  }

  async closeAll(): Promise<void> {
    const handles = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(handles.map(async (h) => (await h).end()));
  }
}
