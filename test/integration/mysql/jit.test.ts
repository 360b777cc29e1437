/**
 * Just-in-time MySQL users on a private MariaDB, managed by an admin user that holds exactly the
 * privileges the README lists (not root): created for one statement with the profile's role and
 * nothing else, dropped with their sessions killed, swept when older than their lifetime, and no
 * account the module did not create is ever dropped.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';
import { createMysqlJitUser, dropMysqlJitUser, openMysqlAdmin, sweepExpiredMysqlJitUsers, withMysqlJitHandle, sweepMysqlJitUsersOn, MYSQL_JIT_MAX_LIFETIME_MS, type MysqlAdmin } from '../../../src/engine/mysql/jit.js';
import { sweepJitRolesOnConnections, isJitRoleName } from '../../../src/db/jit.js';
import { executeMysql } from '../../../src/engine/mysql/execute.js';
import { ConnectionConfig, ProfileConfig } from '../../../src/policy/schema.js';
import { silentLogger } from '../../../src/log.js';
import type { SecretProvider } from '../../../src/broker/ports.js';

const noSecrets: SecretProvider = { getSecret: async (name: string) => Promise.reject(new Error(`no secret ${name}`)), invalidate() {} };

describe.skipIf(mysqlUnavailable() !== undefined)('just-in-time users on a real MariaDB', () => {
  let my: TestMysql;
  let admin: MysqlAdmin & { close(): Promise<void> };
  let connection: ConnectionConfig;
  let writeProfile: ProfileConfig;
  const suffix = randomBytes(4).toString('hex').toUpperCase();
  const loginEnv = `QB_TEST_MY_LOGIN_${suffix}`;
  const adminEnv = `QB_TEST_MY_ADMIN_${suffix}`;
  const adminPassword = `adm_${randomBytes(9).toString('hex')}`;

  const userExists = async (user: string) => (await my.rootQuery('SELECT 1 FROM mysql.global_priv WHERE User = ?', [user])).length > 0;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    await my.rootQuery('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT, touched_by VARCHAR(200))');
    await my.rootQuery('CREATE TABLE secrets (id INT PRIMARY KEY, value VARCHAR(50))');
    await my.rootQuery("INSERT INTO accounts VALUES (1, 10, NULL), (2, 20, NULL); INSERT INTO secrets VALUES (1, 'not for the role')");
    // The profile's role: it may read and update accounts, nothing else.
    await my.rootQuery(`CREATE ROLE jit_writer; GRANT SELECT, UPDATE ON ${my.database}.accounts TO jit_writer`);
    // The admin user with the documented privileges only.
    await my.rootQuery(
      `CREATE USER qb_admin@'%' IDENTIFIED BY '${adminPassword}'; ` +
        "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO qb_admin@'%'; " +
        "GRANT SELECT ON mysql.global_priv TO qb_admin@'%'; " +
        "GRANT jit_writer TO qb_admin@'%' WITH ADMIN OPTION; SET DEFAULT ROLE NONE FOR qb_admin@'%'",
    );
    process.env[loginEnv] = my.url;
    process.env[adminEnv] = `mysql://qb_admin:${adminPassword}@${my.host}:${my.port}/${my.database}`;
    connection = ConnectionConfig.parse({ engine: 'mysql', credentials: { env: loginEnv }, admin: { credentials: { env: adminEnv } } });
    writeProfile = ProfileConfig.parse({ match: { roles: ['W'] }, connections: ['shop'], access: 'write', dbRole: 'jit_writer' });
    admin = await openMysqlAdmin({ ...connection, credentials: { env: adminEnv } }, { secrets: noSecrets });
  }, 120_000);

  afterAll(async () => {
    await admin?.close();
    await my?.stop();
    delete process.env[loginEnv];
    delete process.env[adminEnv];
  });

  it('runs a statement through the executor as a fresh user holding only the profile role, then drops it', async () => {
    let seen: Record<string, unknown> | undefined;
    let during = { exists: false, sessions: 0 };
    const result = await withMysqlJitHandle(
      { connectionName: 'shop', connection, profile: writeProfile, mode: 'write', requestId: 'req-my-1', secrets: noSecrets, log: silentLogger },
      async (handle) => {
        const who = await executeMysql(handle, { sql: 'SELECT USER() AS u, CURRENT_ROLE() AS r, DATABASE() AS d', params: [], mode: 'read', maxRows: 10 });
        seen = { user: who.rows[0]![0], role: who.rows[0]![1], database: who.rows[0]![2] };
        const name = String(seen.user).split('@')[0]!;
        during = {
          exists: await userExists(name),
          sessions: (await my.rootQuery('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [name])).length,
        };
        const secret = await executeMysql(handle, { sql: 'SELECT value FROM secrets', params: [], mode: 'read', maxRows: 10 }).catch((e: unknown) => e);
        expect(String((secret as { info?: { message?: string } }).info?.message ?? secret)).toMatch(/denied/i);
        return await executeMysql(handle, { sql: 'UPDATE accounts SET balance = balance + 1, touched_by = USER() WHERE id = ?', params: [1], mode: 'write', maxRows: 10 });
      },
    );
    expect(result.rowCount).toBe(1);
    const user = String(seen?.user).split('@')[0]!;
    expect(isJitRoleName(user)).toBe(true);
    expect(seen).toMatchObject({ role: 'jit_writer', database: my.database });
    expect(during).toEqual({ exists: true, sessions: 1 });
    const [row] = await my.rootQuery<{ balance: number; touched_by: string }>('SELECT balance, touched_by FROM accounts WHERE id = 1');
    expect(row).toMatchObject({ balance: 11, touched_by: expect.stringMatching(new RegExp(`^${user}@`)) });
    expect(await userExists(user)).toBe(false);
  });

  it('refuses a profile without dbRole with a sentence, and creates no user', async () => {
    const before = (await my.rootQuery("SELECT User FROM mysql.global_priv WHERE User LIKE 'qb!_jit!_%' ESCAPE '!'")).length;
    const { dbRole: _none, ...noRole } = writeProfile;
    await expect(
      withMysqlJitHandle({ connectionName: 'shop', connection, profile: noRole, mode: 'write', requestId: 'req-my-2', secrets: noSecrets, log: silentLogger }, async () => 1),
    ).rejects.toThrow(/need the profile's `dbRole`.*set one/);
    expect((await my.rootQuery("SELECT User FROM mysql.global_priv WHERE User LIKE 'qb!_jit!_%' ESCAPE '!'")).length).toBe(before);
  });

  it('drops a user while its session is open: the session is killed and the account is gone', async () => {
    await my.rootQuery("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1");
    const jit = await createMysqlJitUser(admin, { requestId: 'req-my-3', grantRole: 'jit_writer' });
    await my.rootQuery('SET GLOBAL general_log = 0');
    // The server was given the password's hash only: its general log never holds the password.
    const logged = await my.rootQuery<{ argument: string }>("SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log WHERE CONVERT(argument USING utf8mb4) LIKE 'CREATE USER%'");
    expect(logged.some((l) => l.argument.includes(jit.user))).toBe(true);
    expect(logged.filter((l) => l.argument.includes(jit.password))).toEqual([]);
    const c = await mysql.createConnection({ host: my.host, port: my.port, user: jit.user, password: jit.password });
    c.on('error', () => {});
    await c.query('SET ROLE jit_writer');
    const [[self]] = (await c.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
    expect(await dropMysqlJitUser(admin, jit.user)).toBe(true);
    expect(await userExists(jit.user)).toBe(false);
    expect((await my.rootQuery('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [self.id])).length).toBe(0);
    await expect(c.query('SELECT 1')).rejects.toThrow();
    c.destroy();
    // Gone already: nothing to do.
    expect(await dropMysqlJitUser(admin, jit.user)).toBe(false);
  });

  it('sweeps a user older than its lifetime, keeps a young one, and never drops an account it did not create', async () => {
    const young = await createMysqlJitUser(admin, { requestId: 'req-my-4', grantRole: 'jit_writer' });
    // Accounts that look alike but are not the module's: another name format, another host, a plain user.
    await my.rootQuery(
      "CREATE USER qb_jit_notours@'%'; CREATE USER 'qb_jit_0123456789ab_deadbeef'@'localhost'; CREATE USER qb_jit_0123456789ab_deadbeefX@'%'; CREATE USER qb_reporting@'%'",
    );
    const kept = await sweepExpiredMysqlJitUsers(admin);
    expect(kept.dropped).toEqual([]);
    expect(await userExists(young.user)).toBe(true);
    expect(MYSQL_JIT_MAX_LIFETIME_MS).toBeGreaterThanOrEqual(600_000 + 30_000);

    // password_last_changed counts whole seconds: let one pass, then everything older than 1 s is expired.
    await new Promise((r) => setTimeout(r, 1_100));
    const swept = await sweepExpiredMysqlJitUsers(admin, { maxAgeMs: 1_000 });
    expect(swept.dropped).toEqual([young.user]);
    expect(swept.failed).toEqual([]);
    expect(swept.ignored).toEqual(expect.arrayContaining(['qb_jit_notours', 'qb_jit_0123456789ab_deadbeef@localhost', 'qb_jit_0123456789ab_deadbeefX']));
    expect(await userExists(young.user)).toBe(false);
    for (const other of ['qb_jit_notours', 'qb_jit_0123456789ab_deadbeef', 'qb_jit_0123456789ab_deadbeefX', 'qb_reporting', my.user]) expect(await userExists(other)).toBe(true);
    await expect(dropMysqlJitUser(admin, 'qb_reporting')).rejects.toThrow(/not a just-in-time user name/);
    expect(await userExists('qb_reporting')).toBe(true);
  });

  it('the connection sweep handles MySQL connections with the MySQL module (not with the PostgreSQL driver)', async () => {
    const jit = await createMysqlJitUser(admin, { requestId: 'req-my-5', grantRole: 'jit_writer' });
    // A young user is kept by the default lifetime; the report comes from the MySQL server.
    const reports = await sweepJitRolesOnConnections({ shop: connection }, { secrets: noSecrets }, new Date(), { sweepMysql: sweepMysqlJitUsersOn });
    expect(reports).toEqual([{ connection: 'shop', result: { dropped: [], failed: [], ignored: expect.any(Array) } }]);
    expect(await userExists(jit.user)).toBe(true);
    expect(await dropMysqlJitUser(admin, jit.user)).toBe(true);
  });
});
