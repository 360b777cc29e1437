/**
 * Just-in-time MySQL / MariaDB users for approved statements: the counterpart of db/jit.ts. A user
 * `qb_jit_<12 hex of the request id's hash>_<8 random hex>`@'%' exists only while one approved
 * statement runs, holds exactly the profile's `dbRole` (a MySQL 8 / MariaDB role), and is dropped
 * after it; the admin credential that manages these users never runs agent SQL.
 *
 * How the role is used: `GRANT role TO user`, and every use of the JIT connection starts with
 * `SET ROLE role` (pools.ts, as for every profile with a dbRole). Not `SET DEFAULT ROLE … FOR user`:
 * MariaDB allows that for another user only with write access to the `mysql` schema, which would
 * make the admin credential as strong as root. Without an active role the user may not even name a
 * default database at login, so the JIT connection logs in without one and the session start
 * selects it (`USE`) after `SET ROLE`.
 *
 * Expiry. MySQL and MariaDB have no minute-level VALID UNTIL. The creation time the sweeper reads
 * is the one the server records itself when CREATE USER sets the password (`password_last_changed`:
 * mysql.global_priv on MariaDB 10.4+, mysql.user on MySQL 5.7+), compared with the server's own
 * clock: no broker clock, no table or comment a broker or a JIT user could write, and nothing parsed
 * out of the name (a user could move it later only by changing its own password, and SET PASSWORD
 * is refused for every profile). The user has no stored lifetime, so the sweeper drops every JIT user older than
 * the longest life one can have (the policy's maximum statement time plus the connect margin and the
 * executor's grace, `MYSQL_JIT_MAX_LIFETIME_MS`); a younger one may be serving a running statement.
 * As a server-side backstop when no sweeper runs, the password expires after a day
 * (`PASSWORD EXPIRE INTERVAL 1 DAY`: day granularity is all the servers offer).
 *
 * What the admin user needs: CREATE USER (create, lock, drop); the profile roles WITH ADMIN OPTION
 * (MariaDB) or ROLE_ADMIN / WITH ADMIN OPTION (MySQL 8) to grant them; SELECT on mysql.global_priv
 * (MariaDB) or mysql.user (MySQL) to list JIT users and their creation time; PROCESS to see their
 * sessions and CONNECTION ADMIN (MariaDB 10.5+) / CONNECTION_ADMIN (MySQL 8) or SUPER to KILL them.
 */
import { createHash, randomBytes } from 'node:crypto';
import mysql from 'mysql2';
import { BrokerError } from '../../errors.js';
import type { ConnectionConfig } from '../../policy/schema.js';
import { createConnectionCredentials, type ConnectionCredentials, type ConnectionCredentialsDeps } from '../../db/credentials.js';
import { isJitRoleName, jitAdminConnection, jitRoleName, type JitSweepResult, type ServerSweepReport } from '../../db/jit.js';
import type { ApprovedHandleOptions } from '../types.js';
import { createMysqlHandle, type MysqlFlavor, type MysqlHandle } from './pools.js';
import { openMysqlSession } from './session.js';

/** Room for connecting on top of the statement timeout (as for PostgreSQL's JIT roles). */
const CONNECT_MARGIN_MS = 30_000;
/** The policy's largest statement time (policy/schema.ts) … */
const MAX_STATEMENT_TIME_MS = 600_000;
/**
 * … plus connecting and the executor's grace: no JIT user lives longer while its statement runs,
 * so the sweeper drops any older one.
 */
export const MYSQL_JIT_MAX_LIFETIME_MS = MAX_STATEMENT_TIME_MS + CONNECT_MARGIN_MS + 60_000;

/** Admin work: the broker's own statements on one connection of the admin user. */
export interface MysqlAdmin {
  query(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface MysqlJitUser {
  user: string;
  /** the login password; sent to the server only at CREATE USER and in the login handshake */
  password: string;
}

const quoteUser = (user: string): string => `${mysql.escape(user)}@'%'`;
const quoteIdent = (name: string): string => `\`${name.replaceAll('`', '``')}\``;

async function flavorOf(admin: MysqlAdmin): Promise<MysqlFlavor> {
  const rows = await admin.query('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v ?? '')) ? 'mariadb' : 'mysql';
}

/**
 * Create the user: a random password, at most two sessions (the statement's, and the executor's
 * own KILL of it past the time limit), the password expiring after a day, and `grantRole` granted.
 * A failed grant drops the user again.
 */
export async function createMysqlJitUser(admin: MysqlAdmin, options: { requestId: string; grantRole: string }): Promise<MysqlJitUser> {
  const user = jitRoleName(options.requestId);
  const password = randomBytes(24).toString('base64url');
  try {
    // MariaDB gets the mysql_native_password hash, not the password, so its general log and
    // processlist never show a usable password (the hash alone cannot answer the login challenge).
    // MySQL 8 (caching_sha2_password) takes the password and masks it in its logs itself.
    const identified = (await flavorOf(admin)) === 'mariadb' ? `IDENTIFIED BY PASSWORD ${mysql.escape(nativePasswordHash(password))}` : `IDENTIFIED BY ${mysql.escape(password)}`;
    await admin.query(`CREATE USER ${quoteUser(user)} ${identified} WITH MAX_USER_CONNECTIONS 2 PASSWORD EXPIRE INTERVAL 1 DAY`);
  } catch (e) {
    throw adminFailure(`Could not create the just-in-time user for request ${options.requestId}`, e);
  }
  try {
    await admin.query(`GRANT ${quoteIdent(options.grantRole)} TO ${quoteUser(user)}`);
  } catch (e) {
    await admin.query(`DROP USER IF EXISTS ${quoteUser(user)}`).catch(() => undefined);
    throw adminFailure(`Could not grant the role ${options.grantRole} to the just-in-time user for request ${options.requestId}`, e);
  }
  return { user, password };
}

/** mysql_native_password's stored form: `*` and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

/** The user's sessions (needs PROCESS to see other users' sessions). */
async function sessionsOf(admin: MysqlAdmin, user: string): Promise<number[]> {
  const rows = await admin.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [user]);
  return rows.map((r) => Number(r.id)).filter((id) => Number.isSafeInteger(id) && id > 0);
}

/**
 * Drop a JIT user: lock it (no new logins), KILL CONNECTION each of its sessions and wait until
 * they are gone (DROP USER leaves running sessions alive), then DROP USER. Returns false when the
 * user no longer existed. Refuses any name this module would not have created.
 */
export async function dropMysqlJitUser(admin: MysqlAdmin, user: string, waitMs = 5_000): Promise<boolean> {
  if (!isJitRoleName(user)) {
    throw new BrokerError('internal_error', `Refusing to drop "${user}": it is not a just-in-time user name.`);
  }
  try {
    const flavor = await flavorOf(admin);
    const exists = await admin.query(flavor === 'mariadb' ? "SELECT 1 AS one FROM mysql.global_priv WHERE User = ? AND Host = '%'" : "SELECT 1 AS one FROM mysql.user WHERE User = ? AND Host = '%'", [user]);
    if (exists.length === 0) return false;
    await admin.query(`ALTER USER ${quoteUser(user)} ACCOUNT LOCK`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const ids = await sessionsOf(admin, user);
      if (ids.length === 0) break;
      if (Date.now() > deadline) throw new BrokerError('internal_error', `Sessions of the just-in-time user ${user} did not end within ${waitMs} ms.`);
      for (const id of ids) {
        // A session that ended meanwhile: ER_NO_SUCH_THREAD (1094) is what we wanted.
        await admin.query(`KILL CONNECTION ${id}`).catch((e: unknown) => {
          if ((e as { errno?: number }).errno !== 1094) throw e;
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await admin.query(`DROP USER IF EXISTS ${quoteUser(user)}`);
    return true;
  } catch (e) {
    throw adminFailure(`Could not drop the just-in-time user ${user}`, e);
  }
}

/**
 * Drop the JIT users a crashed run left behind: those whose server-recorded creation time is at
 * least `maxAgeMs` (default MYSQL_JIT_MAX_LIFETIME_MS) before the server's clock, or unreadable.
 * Only names this module creates are ever dropped; other `qb_jit_…` accounts are reported as ignored.
 */
export async function sweepExpiredMysqlJitUsers(admin: MysqlAdmin, options: { maxAgeMs?: number } = {}): Promise<JitSweepResult> {
  const maxAgeMs = options.maxAgeMs ?? MYSQL_JIT_MAX_LIFETIME_MS;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new BrokerError('internal_error', `A sweep needs a maximum age of 0 ms or more, not ${maxAgeMs}.`);
  const flavor = await flavorOf(admin);
  // `!` as the LIKE escape: a backslash would depend on the server's sql_mode.
  const rows =
    flavor === 'mariadb'
      ? await admin.query(
          "SELECT User AS user, Host AS host, JSON_VALUE(Priv, '$.password_last_changed') AS created, UNIX_TIMESTAMP() AS now FROM mysql.global_priv WHERE User LIKE 'qb!_jit!_%' ESCAPE '!' ORDER BY User",
        )
      : await admin.query("SELECT User AS user, Host AS host, UNIX_TIMESTAMP(password_last_changed) AS created, UNIX_TIMESTAMP() AS now FROM mysql.user WHERE User LIKE 'qb!_jit!_%' ESCAPE '!' ORDER BY User");
  const result: JitSweepResult = { dropped: [], failed: [], ignored: [] };
  for (const row of rows) {
    const user = String(row.user);
    if (!isJitRoleName(user) || row.host !== '%') {
      result.ignored.push(row.host === '%' ? user : `${user}@${String(row.host)}`);
      continue;
    }
    const created = Number(row.created);
    const now = Number(row.now);
    const expired = row.created === null || !Number.isFinite(created) || (now - created) * 1000 >= maxAgeMs;
    if (!expired) continue;
    try {
      if (await dropMysqlJitUser(admin, user)) result.dropped.push(user);
    } catch (e) {
      result.failed.push({ role: user, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return result;
}

/** One connection of the admin user for the broker's own statements; `close` ends it. */
export function openMysqlAdmin(adminConnection: ConnectionConfig, deps: ConnectionCredentialsDeps): Promise<MysqlAdmin & { close(): Promise<void> }> {
  return openMysqlSession(adminConnection, deps, `the admin user of the connection${deps.name === undefined ? '' : ` "${deps.name}"`}`, { noDatabase: true });
}

/**
 * Create a JIT user, hand `run` a one-connection handle logged in as it (the profile's limits and
 * mode; `SET ROLE dbRole` and the connection's default database at the start of each use), and
 * always drop the user afterwards, whether `run` succeeded or not.
 */
export async function withMysqlJitHandle<T>(o: ApprovedHandleOptions, run: (handle: MysqlHandle) => Promise<T>): Promise<T> {
  const adminConnection = jitAdminConnection(o.connection);
  if (!adminConnection) throw new BrokerError('internal_error', `The connection "${o.connectionName}" has no admin credentials for just-in-time users.`);
  const grantRole = o.profile.dbRole;
  if (!grantRole) {
    throw new BrokerError(
      'internal_error',
      `Approved statements on "${o.connectionName}" run under just-in-time users, which need the profile's \`dbRole\` (a MySQL role) to grant; set one, or remove the connection's admin credentials.`,
    );
  }
  const deps = { secrets: o.secrets, name: o.connectionName, ...(o.entraToken ? { entraToken: o.entraToken } : {}) };
  const target = await createConnectionCredentials(o.connection, deps).target();
  const admin = await openMysqlAdmin(adminConnection, deps);
  try {
    const jit = await createMysqlJitUser(admin, { requestId: o.requestId, grantRole });
    let handle: MysqlHandle | undefined;
    try {
      const credentials: ConnectionCredentials = {
        // No database at login: the user may name it only once its role is active.
        target: async () => ({ ...target, user: jit.user, database: '' }),
        password: async () => jit.password,
        invalidate() {},
      };
      handle = await createMysqlHandle(
        credentials,
        { statementTimeoutMs: o.profile.statementTimeoutMs, lockTimeoutMs: o.profile.lockTimeoutMs },
        o.mode,
        { connectionLimit: 1, role: grantRole, ...(target.database ? { useDatabase: target.database } : {}) },
      );
      return await run(handle);
    } finally {
      await handle?.end().catch(() => undefined);
      try {
        await dropMysqlJitUser(admin, jit.user);
      } catch (e) {
        // The password expires by itself after a day and the sweeper drops the user.
        o.log.warn('just-in-time user not dropped', { requestId: o.requestId, user: jit.user, error: e instanceof Error ? e.message : String(e) });
      }
    }
  } finally {
    await admin.close();
  }
}

/** Sweep one MySQL connection's JIT users over its own short admin connection. */
export async function sweepMysqlJitUsersOn(name: string, conn: ConnectionConfig, deps: Omit<ConnectionCredentialsDeps, 'name'>, options: { maxAgeMs?: number } = {}): Promise<ServerSweepReport | undefined> {
  const adminConn = jitAdminConnection(conn);
  if (adminConn === undefined) return undefined;
  let admin: Awaited<ReturnType<typeof openMysqlAdmin>> | undefined;
  try {
    admin = await openMysqlAdmin(adminConn, { ...deps, name });
    return { connection: name, result: await sweepExpiredMysqlJitUsers(admin, options) };
  } catch (e) {
    return { connection: name, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await admin?.close().catch(() => undefined);
  }
}

/** A BrokerError from an admin failure: the server's errno and message, never our SQL text (it holds the password). */
function adminFailure(what: string, error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as { errno?: unknown; sqlMessage?: unknown; message?: unknown; fatal?: unknown };
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : typeof e.message === 'string' ? e.message : '';
  const reason = text ? `: ${text.split('\n')[0]!.slice(0, 300)}` : '';
  return new BrokerError(errno === undefined || e.fatal === true ? 'dependency_unavailable' : 'internal_error', `${what}${errno === undefined ? '' : ` (MySQL error ${errno})`}${reason}.`);
}
