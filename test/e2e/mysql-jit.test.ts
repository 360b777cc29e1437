/**
 * A MySQL connection through the real broker, against a private MariaDB whose login user holds no
 * privilege of its own on the data (only a default role), with an admin user that holds exactly
 * what the README lists:
 * - a profile's dbRole is the role its statements run with (SET ROLE): a role that may read one
 *   table cannot read another, which the login user (its default role) can;
 * - an approved UPDATE runs as a just-in-time user (the server's general log and a trigger that
 *   records USER() say so), the user is gone afterwards, and the admin credential never sends the
 *   agent's statement.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startApprovalBroker, WRITER, APPROVER, type ApprovalTestBroker } from '../integration/approval/harness.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../helpers/mariadb.js';

const JIT_NAME = /^qb_jit_[0-9a-f]{12}_[0-9a-f]{8}$/;

describe.skipIf(mysqlUnavailable() !== undefined)('MySQL roles and just-in-time users through the broker', () => {
  let my: TestMysql;
  let b: ApprovalTestBroker;
  const suffix = randomBytes(4).toString('hex').toUpperCase();
  const loginEnv = `QB_TEST_MYJIT_LOGIN_${suffix}`;
  const adminEnv = `QB_TEST_MYJIT_ADMIN_${suffix}`;
  const adminPassword = `adm_${randomBytes(9).toString('hex')}`;
  const marker = `jit-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    const db = `\`${my.database}\``;
    await my.rootQuery(
      'CREATE TABLE accounts (id INT PRIMARY KEY, note VARCHAR(100), touched_by VARCHAR(200)); ' +
        'CREATE TABLE payroll (id INT PRIMARY KEY, salary INT); ' +
        "INSERT INTO accounts VALUES (1, 'a', NULL), (2, 'b', NULL), (3, 'c', NULL); INSERT INTO payroll VALUES (1, 99000); " +
        // Who the server says ran each update: the session's login, whoever defined the trigger.
        'CREATE TRIGGER accounts_touched BEFORE UPDATE ON accounts FOR EACH ROW SET NEW.touched_by = USER()',
    );
    // The login user's own privileges go; it reads and writes through its default role only, so
    // SET ROLE <profile role> leaves it with that role's privileges alone.
    await my.rootQuery(
      `REVOKE ALL PRIVILEGES ON ${db}.* FROM '${my.user}'@'%'; ` +
        `CREATE ROLE qb_login; GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO qb_login; ` +
        `CREATE ROLE qb_agent_read; GRANT SELECT ON ${db}.accounts TO qb_agent_read; ` +
        `CREATE ROLE qb_agent_write; GRANT SELECT, UPDATE ON ${db}.accounts TO qb_agent_write; ` +
        `GRANT qb_login TO '${my.user}'@'%'; GRANT qb_agent_read TO '${my.user}'@'%'; GRANT qb_agent_write TO '${my.user}'@'%'; SET DEFAULT ROLE qb_login FOR '${my.user}'@'%'`,
    );
    await my.rootQuery(
      `CREATE USER qb_admin@'%' IDENTIFIED BY '${adminPassword}'; ` +
        "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO qb_admin@'%'; GRANT SELECT ON mysql.global_priv TO qb_admin@'%'; " +
        "GRANT qb_agent_write TO qb_admin@'%' WITH ADMIN OPTION; SET DEFAULT ROLE NONE FOR qb_admin@'%'",
    );
    await my.rootQuery("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1");
    process.env[loginEnv] = my.url;
    process.env[adminEnv] = `mysql://qb_admin:${adminPassword}@${my.host}:${my.port}/${my.database}`;
    b = await startApprovalBroker({
      policyPatch: (p) => {
        p.connections.shop = { engine: 'mysql', credentials: { env: loginEnv }, admin: { credentials: { env: adminEnv } } };
        for (const profile of Object.values(p.profiles) as { connections: string[] }[]) profile.connections.push('shop');
        // The login user as it is: no dbRole.
        p.profiles['login-read'] = { match: { roles: ['Login.Read'] }, connections: ['shop'], access: 'read' };
      },
    });
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await my?.stop();
    delete process.env[loginEnv];
    delete process.env[adminEnv];
  });

  it('a profile runs with its dbRole: the role that may read accounts cannot read payroll; the login user can', async () => {
    const allowed = await b.query({ connection: 'shop', sql: 'SELECT id FROM accounts ORDER BY id' }, ['Query.Read'], 'reader');
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.rows).toEqual([[1], [2], [3]]);

    const refused = await b.query({ connection: 'shop', sql: 'SELECT salary FROM payroll' }, ['Query.Read'], 'reader');
    expect(refused.status, JSON.stringify(refused.body)).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(refused.body)).not.toContain('99000');
    expect(JSON.stringify(refused.body)).toMatch(/denied/i);

    const asLogin = await b.query({ connection: 'shop', sql: 'SELECT salary FROM payroll' }, ['Login.Read'], 'login-reader');
    expect(asLogin.status, JSON.stringify(asLogin.body)).toBe(200);
    expect(asLogin.body.rows).toEqual([[99000]]);
  });

  it('an approved UPDATE runs as a just-in-time user holding the profile role, which is gone afterwards; the admin never sends it', async () => {
    const sql = `UPDATE accounts SET note = '${marker}'`;
    const r = await b.query({ connection: 'shop', sql, reason: 'mark every account' }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await my.rootQuery('SELECT id FROM accounts WHERE note = ?', [marker])).length).toBe(0);

    const d = await b.decide(r.body.requestId, { decision: 'approve', sqlHash: r.body.sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    const done = await b.pollUntilSettled(r.body.requestId, [...WRITER.roles], WRITER.sub, 30_000);
    expect(done.state, JSON.stringify(done.error)).toBe('executed');
    expect(done.result.rowCount).toBe(3);

    // The trigger saw one login for every row: a just-in-time user.
    const rows = await my.rootQuery<{ note: string; touched_by: string }>('SELECT note, touched_by FROM accounts ORDER BY id');
    expect(rows.every((row) => row.note === marker)).toBe(true);
    const logins = new Set(rows.map((row) => row.touched_by.split('@')[0]!));
    expect(logins.size).toBe(1);
    const jitUser = [...logins][0]!;
    expect(jitUser).toMatch(JIT_NAME);

    // The server's general log: the statement itself was sent by the JIT user's session only (the
    // login user, with the profile's role, only EXPLAINed it for the row estimate before it was held);
    // the admin's sessions created, granted, killed and dropped, and never sent the agent's text.
    const log = await my.rootQuery<{ user_host: string; thread_id: number; argument: string }>(
      "SELECT user_host, thread_id, CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log WHERE command_type IN ('Query', 'Execute')",
    );
    const sentIt = log.filter((l) => l.argument.includes(marker));
    const ranIt = sentIt.filter((l) => /^\s*UPDATE\b/i.test(l.argument));
    expect(ranIt.map((l) => l.argument.trim())).toEqual([sql]);
    expect(ranIt[0]!.user_host.split('[')[0]).toBe(jitUser);
    const explained = sentIt.filter((l) => /^\s*EXPLAIN\b/i.test(l.argument));
    expect(explained.length).toBeGreaterThan(0);
    for (const l of explained) expect(l.user_host.split('[')[0]).toBe(my.user);
    const adminLines = log.filter((l) => l.user_host.startsWith('qb_admin['));
    expect(adminLines.some((l) => l.argument.startsWith('CREATE USER'))).toBe(true);
    expect(adminLines.some((l) => l.argument.startsWith(`DROP USER IF EXISTS '${jitUser}'`))).toBe(true);
    expect(adminLines.filter((l) => l.argument.includes(marker))).toEqual([]);

    // The user and its sessions are gone.
    expect(await my.rootQuery('SELECT User FROM mysql.global_priv WHERE User = ?', [jitUser])).toEqual([]);
    expect(await my.rootQuery('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [jitUser])).toEqual([]);
  });
});
