/**
 * Just-in-time PostgreSQL roles for approved writes: a login role that exists only while one
 * approved statement runs, holds exactly the profile's database role, and expires by itself
 * (VALID UNTIL) if the broker dies before dropping it. The admin credential that manages these
 * roles never runs agent SQL; the statement runs over a new connection as the JIT role.
 *
 * What the admin role needs: CREATEROLE; ADMIN OPTION on every profile `dbRole` it grants
 * (PostgreSQL 16+); pg_signal_backend to end a JIT role's sessions. Superuser is not required.
 */
import pg from 'pg';
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { BrokerError } from '../errors.js';
import { systemClock, type Clock } from '../broker/ports.js';
import type { ConnectionConfig } from '../policy/schema.js';
import type { Queryable } from './types.js';
import { createConnectionCredentials, connectWithCredentials, type ConnectionCredentialsDeps, type ConnectionTarget } from './credentials.js';

const pbkdf2Async = promisify(pbkdf2);

/** Every role this module creates, and the only roles it will ever drop. */
const JIT_ROLE_NAME = /^qb_jit_[0-9a-f]{12}_[0-9a-f]{8}$/;
const MAX_TTL_MS = 24 * 60 * 60_000;

export interface JitRole {
  role: string;
  /** the login password; only ever sent to the server inside the SCRAM exchange */
  password: string;
  validUntil: Date;
}

export interface CreateJitRoleOptions {
  /** the approved request this role serves (hashed into the role name, kept in its comment) */
  requestId: string;
  /** the profile's database role whose privileges the statement needs */
  grantRole: string;
  /** lifetime of the login; must cover connecting plus the statement's timeout */
  ttlMs: number;
  clock?: Clock;
}

/** `qb_jit_<12 hex of the request id's hash>_<8 random hex>`: traceable to the request, never reused. */
export function jitRoleName(requestId: string): string {
  const fromRequest = createHash('sha256').update(requestId).digest('hex').slice(0, 12);
  return `qb_jit_${fromRequest}_${randomBytes(4).toString('hex')}`;
}

export function isJitRoleName(role: string): boolean {
  return JIT_ROLE_NAME.test(role);
}

/**
 * Create the role: LOGIN, a random password, VALID UNTIL now + ttl, member of `grantRole`.
 *
 * INHERIT (not NOINHERIT + SET ROLE): the approved statement must use grantRole's privileges as
 * it is, with no session-level SET ROLE in front of it that it could undo or that could be left
 * on a connection; and current_user stays the JIT role, so pg_stat_activity and the server log
 * attribute the statement to this request. The role holds nothing but that one membership.
 */
export async function createJitRole(admin: Queryable, options: CreateJitRoleOptions): Promise<JitRole> {
  const { requestId, grantRole, ttlMs } = options;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS) {
    throw new BrokerError('internal_error', `A just-in-time role needs a lifetime between 1 ms and 24 h, not ${ttlMs} ms.`);
  }
  const now = (options.clock ?? systemClock).now();
  const role = jitRoleName(requestId);
  const password = randomBytes(24).toString('base64url');
  const validUntil = new Date(now.getTime() + ttlMs);
  const note = JSON.stringify({ requestId: requestId.slice(0, 200), grantRole, createdAt: now.toISOString() });
  const id = pg.escapeIdentifier(role);
  // The server gets the SCRAM verifier, not the password, so `log_statement = ddl` and
  // pg_stat_activity never show a usable password.
  const verifier = await scramSha256Verifier(password);
  try {
    // One simple-protocol query: both statements commit together or not at all.
    await admin.query(
      `create role ${id} with login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls connection limit 1 ` +
        `password ${pg.escapeLiteral(verifier)} valid until ${pg.escapeLiteral(validUntil.toISOString())} in role ${pg.escapeIdentifier(grantRole)};\n` +
        `comment on role ${id} is ${pg.escapeLiteral(note)}`,
    );
  } catch (e) {
    throw databaseFailure(`Could not create the just-in-time role for request ${requestId}`, e);
  }
  return { role, password, validUntil };
}

/**
 * Drop a JIT role: stop new logins, end its sessions (waiting until they are gone), hand anything
 * it created in this database to the role it acted for, and drop it. Returns false when the role
 * no longer existed. Refuses any name this module would not have created.
 */
export async function dropJitRole(admin: Queryable, role: string): Promise<boolean> {
  if (!isJitRoleName(role)) {
    throw new BrokerError('internal_error', `Refusing to drop "${role}": it is not a just-in-time role name.`);
  }
  const id = pg.escapeIdentifier(role);
  try {
    const exists = await admin.query<{ one: number }>('select 1 as one from pg_roles where rolname = $1', [role]);
    if (exists.rows.length === 0) return false;
    await admin.query(`alter role ${id} nologin`);
    await terminateSessions(admin, role);
    const owned = await admin.query<{ owner: string | null; owns: boolean }>(
      `select (select m.rolname from pg_auth_members a join pg_roles m on m.oid = a.roleid
                where a.member = r.oid order by m.rolname limit 1) as owner,
              exists (select 1 from pg_shdepend d
                where d.refclassid = 'pg_authid'::regclass and d.refobjid = r.oid
                  and d.dbid in (0, (select oid from pg_database where datname = current_database()))) as owns
         from pg_roles r where r.rolname = $1`,
      [role],
    );
    const row = owned.rows[0];
    if (row?.owns) {
      // Objects an approved DDL created stay, owned by the profile's role; grants to the JIT role go.
      const heir = row.owner === null ? 'current_user' : pg.escapeIdentifier(row.owner);
      await admin.query(`reassign owned by ${id} to ${heir};\ndrop owned by ${id}`);
    }
    await admin.query(`drop role if exists ${id}`);
    return true;
  } catch (e) {
    throw databaseFailure(`Could not drop the just-in-time role ${role}`, e);
  }
}

/** pg_terminate_backend only signals; wait (bounded) until the sessions have really ended. */
async function terminateSessions(admin: Queryable, role: string, waitMs = 5_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>(
      'select pid, pg_terminate_backend(pid) from pg_stat_activity where usename = $1 and pid <> pg_backend_pid()',
      [role],
    );
    if (rows.length === 0) return;
    if (Date.now() > deadline) {
      throw new BrokerError('internal_error', `Sessions of the just-in-time role ${role} did not end within ${waitMs} ms.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface JitSweepResult {
  dropped: string[];
  failed: Array<{ role: string; message: string }>;
  /** qb_jit_* roles in a format this module never creates: left alone, worth a look */
  ignored: string[];
}

/**
 * Drop JIT roles left behind by a crash: those whose VALID UNTIL has passed (or that have none),
 * and, with `maxAgeMs`, those created longer ago than that. Live roles of running statements
 * are kept (their VALID UNTIL is still ahead).
 */
export async function sweepExpiredJitRoles(admin: Queryable, now: Date, options: { maxAgeMs?: number } = {}): Promise<JitSweepResult> {
  const { rows } = await admin.query<{ rolname: string; expired: boolean; note: string | null }>(
    `select rolname, (rolvaliduntil is null or rolvaliduntil <= $1) as expired, shobj_description(oid, 'pg_authid') as note
       from pg_roles where rolname like 'qb\\_jit\\_%' order by rolname`,
    [now.toISOString()],
  );
  const result: JitSweepResult = { dropped: [], failed: [], ignored: [] };
  for (const row of rows) {
    if (!isJitRoleName(row.rolname)) {
      result.ignored.push(row.rolname);
      continue;
    }
    const tooOld = options.maxAgeMs !== undefined && createdAtOf(row.note) + options.maxAgeMs <= now.getTime();
    if (!row.expired && !tooOld) continue;
    try {
      if (await dropJitRole(admin, row.rolname)) result.dropped.push(row.rolname);
    } catch (e) {
      result.failed.push({ role: row.rolname, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return result;
}

/** Creation time from the role's comment; a role without a readable one counts as old. */
function createdAtOf(note: string | null): number {
  try {
    const createdAt = (JSON.parse(note ?? '') as { createdAt?: unknown }).createdAt;
    const t = typeof createdAt === 'string' ? Date.parse(createdAt) : NaN;
    return Number.isNaN(t) ? 0 : t;
  } catch {
    return 0;
  }
}

export interface RunAsJitRoleOptions extends CreateJitRoleOptions {
  /** server to connect to as the JIT role (the connection's target; its user is ignored) */
  target: Omit<ConnectionTarget, 'user'>;
  /** told when dropping the role failed after the statement ran (the sweeper will catch it) */
  onDropFailure?: (role: string, error: unknown) => void;
}

/**
 * Create a JIT role, open a NEW connection as it, hand that client to `run` (which runs the one
 * approved statement), close it and always drop the role, whether `run` succeeded or not.
 * `statement_timeout` on the connection is the role's lifetime, so the statement cannot outlive it.
 */
export async function runAsJitRole<T>(admin: Queryable, options: RunAsJitRoleOptions, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const jit = await createJitRole(admin, options);
  try {
    const client = new pg.Client({
      host: options.target.host,
      port: options.target.port,
      database: options.target.database,
      ssl: options.target.ssl,
      user: jit.role,
      password: jit.password,
      application_name: 'query-broker-jit',
      statement_timeout: options.ttlMs,
      connectionTimeoutMillis: Math.min(options.ttlMs, 10_000),
    });
    // dropJitRole may end this session; that must not surface as an unhandled 'error' event.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (e) {
      throw databaseFailure(`Could not connect as the just-in-time role for request ${options.requestId}`, e);
    }
    try {
      return await run(client);
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    try {
      await dropJitRole(admin, jit.role);
    } catch (e) {
      // The statement's outcome stands; VALID UNTIL has already bounded the role and the sweeper drops it.
      options.onDropFailure?.(jit.role, e);
    }
  }
}

/**
 * The connection config the JIT admin logs in with: the connection's server, the `admin`
 * credentials (with `env`, the URL's user). Undefined when the connection has no `admin`.
 */
export function jitAdminConnection(conn: ConnectionConfig): ConnectionConfig | undefined {
  if (conn.admin === undefined) return undefined;
  // The broker's login user must not carry over to the admin's password.
  const { user: _brokerUser, admin, ...server } = conn;
  return admin.user === undefined ? { ...server, credentials: admin.credentials } : { ...server, user: admin.user, credentials: admin.credentials };
}

export interface ServerSweepReport {
  connection: string;
  result?: JitSweepResult;
  /** why this server could not be swept (no secret in it) */
  error?: string;
}

/**
 * Sweep every connection that has `admin` credentials, each over its own short admin connection.
 * A MySQL connection's JIT users are swept by engine/mysql/jit.ts, on the server's clock and with
 * its own lifetime bound (`now` and `maxAgeMs` are PostgreSQL's).
 */
export async function sweepJitRolesOnConnections(
  connections: Record<string, ConnectionConfig>,
  deps: Omit<ConnectionCredentialsDeps, 'name'>,
  now: Date,
  options: { maxAgeMs?: number; sweepMysql?: (name: string, conn: ConnectionConfig, deps: Omit<ConnectionCredentialsDeps, 'name'>) => Promise<ServerSweepReport | undefined> } = {},
): Promise<ServerSweepReport[]> {
  const reports: ServerSweepReport[] = [];
  for (const [name, conn] of Object.entries(connections)) {
    if (conn.engine === 'mysql') {
      // Given by the caller (engine/mysql/jit.ts sweepMysqlJitUsersOn): the MySQL module imports this one.
      if (!options.sweepMysql) {
        if (conn.admin) reports.push({ connection: name, error: 'no MySQL sweeper was given; its just-in-time users were not swept' });
        continue;
      }
      const report = await options.sweepMysql(name, conn, deps);
      if (report) reports.push(report);
      continue;
    }
    let client: pg.Client | undefined;
    try {
      const adminConn = jitAdminConnection(conn);
      if (adminConn === undefined) continue;
      client = await connectWithCredentials(createConnectionCredentials(adminConn, { ...deps, name }), { applicationName: 'query-broker-jit-sweeper' });
      reports.push({ connection: name, result: await sweepExpiredJitRoles(client, now, options) });
    } catch (e) {
      reports.push({ connection: name, error: e instanceof Error ? e.message : String(e) });
    } finally {
      await client?.end().catch(() => {});
    }
  }
  return reports;
}

/** The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802/7677); SASLprep is the identity for our ASCII passwords. */
export async function scramSha256Verifier(password: string, iterations = 4096): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A BrokerError from a database failure: SQLSTATE and the server's message, never our SQL text. */
function databaseFailure(what: string, error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const connectionProblem = code === undefined || code.startsWith('08') || code === '57P01' || code === '53300' || /^E[A-Z]+$/.test(code);
  const reason = typeof e.message === 'string' ? `: ${e.message}` : '';
  return new BrokerError(connectionProblem ? 'dependency_unavailable' : 'internal_error', `${what}${code ? ` (SQLSTATE ${code})` : ''}${reason}.`);
}
