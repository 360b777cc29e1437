/**
 * Pre-armed MySQL connections (src/engine/mysql/pools.ts), proved by their effect on a real MariaDB:
 * a pooled connection waits armed for its profile (settings, role, database, and on a read pool an
 * open READ ONLY transaction), a use changes nothing the next user sees, and a connection whose
 * arming fails is destroyed instead of pooled.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';
import { createMysqlHandle, mysqlQueryable, type MysqlHandle } from '../../../src/engine/mysql/pools.js';
import { executeMysql } from '../../../src/engine/mysql/execute.js';
import { DatabaseFailure, type StatementRequest } from '../../../src/db/execute.js';
import type { ConnectionCredentials } from '../../../src/db/credentials.js';

const missing = mysqlUnavailable();

/** What a use of a connection sees of its session. */
const SESSION_SQL =
  'select connection_id() as id, @@in_transaction as tx, @@tx_read_only as ro, @@max_statement_time as mst, ' +
  '@@innodb_lock_wait_timeout as ilw, @@lock_wait_timeout as lw, @@sql_select_limit as sl, current_role() as role, database() as db, @x as x';

describe.skipIf(missing !== undefined)('MySQL pre-armed pooled connections on a real MariaDB', () => {
  let my: TestMysql;
  const handles: MysqlHandle[] = [];
  let read: MysqlHandle;
  let write: MysqlHandle;
  /** a read pool whose role may write (a DBA's mistake): the READ ONLY transaction is all that stops a write */
  let readWritableRole: MysqlHandle;
  let credentials: ConnectionCredentials;
  // The login users hold no privileges of their own on the data, only their roles (as README asks).
  const login = { user: 'qb_armed', password: `pw_${randomBytes(6).toString('hex')}` };
  const armFail = { user: 'qb_armfail', password: `pw_${randomBytes(6).toString('hex')}` };
  /** a login whose default role is the read role and which also holds the write role (a profile without dbRole runs with its default role) */
  const noRole = { user: 'qb_norole', password: `pw_${randomBytes(6).toString('hex')}` };

  const req = (sql: string, extra: Partial<StatementRequest> = {}): StatementRequest => ({ sql, params: [], maxRows: 7, mode: 'read', ...extra });

  /** `database: ''`: a login that may name the database only once its role is active (USE at arming). */
  function credentialsOf(user: string, password: string, database = my.database): ConnectionCredentials {
    return {
      target: async () => ({ host: my.host, port: my.port, database, user, ssl: false }),
      password: async () => password,
      invalidate() {},
    };
  }

  async function handle(mode: 'read' | 'write', role: string, creds = credentials): Promise<MysqlHandle> {
    // One connection: successive uses share it, so a leak would show in the next use.
    const h = await createMysqlHandle(creds, { statementTimeoutMs: 2500, lockTimeoutMs: 3000 }, mode, { connectionLimit: 1, role, useDatabase: my.database });
    handles.push(h);
    return h;
  }

  async function session(h: MysqlHandle): Promise<Record<string, string | null>> {
    const r = await executeMysql(h, req(SESSION_SQL));
    return Object.fromEntries(r.fields.map((f, i) => [f.name, r.rows[0]![i]!]));
  }

  async function failure(p: Promise<unknown>): Promise<unknown> {
    try {
      await p;
    } catch (e) {
      return e;
    }
    throw new Error('expected a failure');
  }

  async function sessionsOf(user: string): Promise<number[]> {
    const rows = await my.rootQuery<{ id: number }>("select id from information_schema.processlist where user = ? and command <> 'Killed' order by id", [user]);
    return rows.map((r) => Number(r.id));
  }

  /** The server notices a closed socket a moment later. */
  async function eventually(check: () => Promise<boolean>): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
      if (await check()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return check();
  }

  beforeAll(async () => {
    my = (await startTestMysql())!;
    credentials = credentialsOf(login.user, login.password, '');
    const db = `\`${my.database}\``;
    await my.rootQuery(`
      create table items (id int primary key, v int not null);
      insert into items select seq, seq * 10 from seq_1_to_30;
      create role qb_armed_read; create role qb_armed_write; create role qb_armfail_role;
      grant select on ${db}.* to qb_armed_read;
      grant select, insert, update, delete on ${db}.* to qb_armed_write;
      create user ${login.user}@'%' identified by '${login.password}';
      grant qb_armed_read to ${login.user}@'%'; grant qb_armed_write to ${login.user}@'%';
      create user ${armFail.user}@'%' identified by '${armFail.password}';
      grant select on ${db}.* to ${armFail.user}@'%';
      grant qb_armfail_role to ${armFail.user}@'%';
      create user ${noRole.user}@'%' identified by '${noRole.password}';
      grant qb_armed_read to ${noRole.user}@'%'; grant qb_armed_write to ${noRole.user}@'%';
      set default role qb_armed_read for ${noRole.user}@'%';
      create database qb_armed_other; create table qb_armed_other.items (id int primary key, v int not null);
      insert into qb_armed_other.items values (1, -1);
      grant select on qb_armed_other.* to qb_armed_read;
    `);
    read = await handle('read', 'qb_armed_read');
    write = await handle('write', 'qb_armed_write');
    readWritableRole = await handle('read', 'qb_armed_write');
  });

  afterAll(async () => {
    await Promise.allSettled(handles.map((h) => h.end()));
    await my?.stop();
  });

  it('hands out a read connection already in a READ ONLY transaction with the profile settings, role and row cap', async () => {
    const first = await session(read);
    const second = await session(read);
    for (const s of [first, second]) {
      expect(s).toMatchObject({ tx: '1', ro: '1', mst: '2.500000', ilw: '3', lw: '3', sl: '8', role: 'qb_armed_read', db: my.database, x: null });
    }
    expect(second.id).toBe(first.id);
    // A write in that transaction is refused by the server even where the role may write, and the table is unchanged.
    const e = await failure(executeMysql(readWritableRole, req('update items set v = 0 where id = 1')));
    expect((e as DatabaseFailure).info).toMatchObject({ kind: 'read_only' });
    const [row] = await my.rootQuery<{ v: number }>('select v from items where id = 1');
    expect(Number(row!.v)).toBe(10);
  });

  it('arms the connection before the request: the read sends its statement alone', async () => {
    await my.rootQuery("set global log_output = 'TABLE'; truncate table mysql.general_log; set global general_log = 1");
    try {
      await executeMysql(read, req('select 1 as warm'));
      await read.settled();
      await new Promise((r) => setTimeout(r, 20));
      const requested = Date.now();
      const r = await executeMysql(read, req('select v as armed_probe from items where id = 2'));
      expect(r.rows).toEqual([['20']]);
      await read.settled();
      const log = await my.rootQuery<{ thread: number; ms: number; command: string; text: string }>(
        "select thread_id as thread, unix_timestamp(event_time) * 1000 as ms, command_type as command, convert(argument using utf8mb4) as text from mysql.general_log where user_host like ? order by event_time, thread_id",
        [`${login.user}[%`],
      );
      const probe = log.findIndex((l) => l.text.includes('armed_probe'));
      expect(probe).toBeGreaterThan(0);
      const thread = log[probe]!.thread;
      const mine = log.filter((l) => l.thread === thread);
      const at = mine.indexOf(log[probe]!);
      // Before the request: the READ ONLY transaction, the role and the settings were already there.
      expect(mine[at - 1]!.text).toBe('START TRANSACTION READ ONLY');
      expect(Number(mine[at - 1]!.ms)).toBeLessThan(requested);
      expect(Number(log[probe]!.ms)).toBeGreaterThanOrEqual(requested - 1);
      // After it (and the reset, which the log does not show): the arming for the next user.
      expect(mine.slice(at + 1).map((l) => l.text)).toEqual([expect.stringMatching(/^SET NAMES .*tx_read_only = 1/), 'SET ROLE `qb_armed_read`', `USE \`${my.database}\``, 'START TRANSACTION READ ONLY']);
    } finally {
      await my.rootQuery('set global general_log = 0; truncate table mysql.general_log');
    }
  });

  it('a read sees what was committed while its connection sat armed', async () => {
    await executeMysql(read, req('select count(*) from items'));
    await read.settled();
    await my.rootQuery('insert into items values (31, 310)');
    try {
      expect((await executeMysql(read, req('select count(*), max(v) from items'))).rows).toEqual([['31', '310']]);
    } finally {
      await my.rootQuery('delete from items where id = 31');
    }
  });

  it('a write through SET STATEMENT tx_read_only=0 FOR … is refused, and the next user is read-only again', async () => {
    // The role may write: only the READ ONLY transaction stands in the way.
    const insert = await failure(executeMysql(readWritableRole, req('set statement tx_read_only = 0 for insert into items values (100, 1)')));
    expect((insert as DatabaseFailure).info).toMatchObject({ kind: 'read_only' });
    const update = await failure(executeMysql(readWritableRole, req('set statement tx_read_only = 0 for update items set v = 0')));
    expect((update as DatabaseFailure).info).toMatchObject({ kind: 'read_only' });
    // DDL commits the read-only transaction implicitly on MariaDB and runs with the statement's own
    // tx_read_only: the role's privileges stop it here (and the analysis refuses SET STATEMENT first).
    const ddl = await failure(executeMysql(readWritableRole, req('set statement tx_read_only = 0 for create table x (a int)')));
    expect((ddl as DatabaseFailure).info).toMatchObject({ vendorCode: '1142' });
    expect(await my.rootQuery('select table_name from information_schema.tables where table_schema = ? and table_name = ?', [my.database, 'x'])).toEqual([]);
    const [sums] = await my.rootQuery<{ n: number; s: number }>('select count(*) as n, sum(v) as s from items');
    expect([Number(sums!.n), Number(sums!.s)]).toEqual([30, 4650]);
    expect(await session(readWritableRole)).toMatchObject({ tx: '1', ro: '1', role: 'qb_armed_write', sl: '8' });
    const again = await failure(executeMysql(readWritableRole, req('insert into items values (101, 1)')));
    expect((again as DatabaseFailure).info).toMatchObject({ kind: 'read_only' });
  });

  it('session changes made by a statement do not reach the next user of the connection', async () => {
    const { id } = await session(read);
    const changes = [
      'set session max_statement_time = 0',
      'set session innodb_lock_wait_timeout = 100',
      'set session sql_select_limit = 1000',
      'set session tx_read_only = 0',
      "set @x = 'secret'",
      'set role none',
      'commit',
    ];
    for (const change of changes) {
      await executeMysql(read, req(change));
      const next = await session(read);
      expect(next, change).toMatchObject({ id, tx: '1', ro: '1', mst: '2.500000', ilw: '3', sl: '8', role: 'qb_armed_read', x: null });
    }
    // Nothing a write did to its session reaches the next write either.
    await executeMysql(write, req("set @x = 'w'", { mode: 'write' }));
    await executeMysql(write, req('set session tx_read_only = 1', { mode: 'write' }));
    const r = await executeMysql(write, req('select @x, @@tx_read_only, current_role()', { mode: 'write' }));
    expect(r.rows).toEqual([[null, '0', 'qb_armed_write']]);
  });

  it('the write pool has no READ ONLY transaction: idle connections are armed without one and writes commit', async () => {
    const text = (row: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, String(v)]));
    const [idle] = (await mysqlQueryable(write).query('select @@in_transaction as tx, @@tx_read_only as ro, current_role() as role, @@sql_select_limit as sl')).rows;
    expect(text(idle)).toMatchObject({ tx: '0', ro: '0', role: 'qb_armed_write' });
    expect(BigInt(String(idle!.sl))).toBeGreaterThan(1_000_000n);
    // The same look-up on the read pool is in its READ ONLY transaction.
    const [onRead] = (await mysqlQueryable(read).query('select @@in_transaction as tx, @@tx_read_only as ro')).rows;
    expect(text(onRead)).toMatchObject({ tx: '1', ro: '1' });
    const w = await executeMysql(write, req('insert into items values (200, 2000)', { mode: 'write', maxAffectedRows: 5 }));
    expect(w.rowCount).toBe(1);
    try {
      const [row] = await my.rootQuery<{ v: number }>('select v from items where id = 200');
      expect(Number(row!.v)).toBe(2000);
    } finally {
      await my.rootQuery('delete from items where id = 200');
    }
  });

  it('a connection whose arming fails is destroyed, not pooled, and the pool recovers with a new one', async () => {
    const h = await handle('read', 'qb_armfail_role', credentialsOf(armFail.user, armFail.password));
    const first = await session(h);
    expect(first).toMatchObject({ role: 'qb_armfail_role', tx: '1' });
    await h.settled();
    expect(await sessionsOf(armFail.user)).toEqual([Number(first.id)]);

    // The role is taken away while the connection sits armed: it serves this use (its session was
    // armed before), and its re-arming (SET ROLE) fails: it must go, not return to the pool.
    await my.rootQuery(`revoke qb_armfail_role from ${armFail.user}@'%'`);
    expect((await executeMysql(h, req('select v from items where id = 3'))).rows).toEqual([['30']]);
    await h.settled();
    expect(await eventually(async () => (await sessionsOf(armFail.user)).length === 0)).toBe(true);

    // A new connection cannot be armed either: the use fails, and no session is left behind.
    const e = await failure(executeMysql(h, req('select 1')));
    expect(e).toBeInstanceOf(DatabaseFailure);
    expect(await eventually(async () => (await sessionsOf(armFail.user)).length === 0)).toBe(true);

    await my.rootQuery(`grant qb_armfail_role to ${armFail.user}@'%'`);
    const again = await session(h);
    expect(again).toMatchObject({ role: 'qb_armfail_role', tx: '1', ro: '1' });
    expect(again.id).not.toBe(first.id);
  });

  it('a read connection the server closes while it sits armed (idle_transaction_timeout) is replaced: the next read works', async () => {
    // The session reset takes the server's value again, so it stays set while the connection sits.
    await my.rootQuery('set global idle_transaction_timeout = 1');
    try {
      const h = await handle('read', 'qb_armed_read');
      const first = await session(h);
      await h.settled();
      expect(await eventually(async () => !(await sessionsOf(login.user)).includes(Number(first.id)))).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      const next = await session(h);
      expect(next).toMatchObject({ tx: '1', ro: '1', role: 'qb_armed_read' });
      expect(next.id).not.toBe(first.id);
    } finally {
      await my.rootQuery('set global idle_transaction_timeout = 0');
    }
  });

  it('a profile without dbRole: a SET ROLE by a statement does not survive the reset (the login role comes back)', async () => {
    // MariaDB's COM_RESET_CONNECTION keeps the active role; with no dbRole to arm, the next user
    // would run with whatever role the last statement chose (here the write role on a read pool).
    const h = await createMysqlHandle(credentialsOf(noRole.user, noRole.password), { statementTimeoutMs: 2500, lockTimeoutMs: 3000 }, 'read', { connectionLimit: 1 });
    handles.push(h);
    const first = await session(h);
    expect(first).toMatchObject({ role: 'qb_armed_read', tx: '1', ro: '1' });
    for (const change of ['set role qb_armed_write', 'set role none']) {
      await executeMysql(h, req(change));
      const next = await session(h);
      expect(next, change).toMatchObject({ id: first.id, role: 'qb_armed_read', tx: '1', ro: '1' });
    }
  });

  it('a USE by a statement does not survive the reset: the next user is in the connection\'s database again', async () => {
    // COM_RESET_CONNECTION keeps the current database; a pool armed without USE would let the next
    // user's unqualified names resolve in another schema.
    const h = await createMysqlHandle(credentialsOf(noRole.user, noRole.password), { statementTimeoutMs: 2500, lockTimeoutMs: 3000 }, 'read', { connectionLimit: 1 });
    handles.push(h);
    const first = await session(h);
    expect(first.db).toBe(my.database);
    await executeMysql(h, req('use qb_armed_other'));
    const next = await session(h);
    expect(next).toMatchObject({ id: first.id, db: my.database });
    expect((await executeMysql(h, req('select v from items where id = 1'))).rows).toEqual([['10']]);
  });

  it('a request abandoned while it waits for a connection runs nothing', async () => {
    // The pool's only connection is busy; the request is abandoned before it gets it.
    const busy = executeMysql(write, req('select sleep(0.8)'));
    expect(await eventually(async () => (await my.rootQuery("select id from information_schema.processlist where info = 'select sleep(0.8)'")).length === 1)).toBe(true);
    const abandon = new AbortController();
    const insert = executeMysql(write, req('insert into items values (300, 3000)', { mode: 'write', maxAffectedRows: 5, signal: abandon.signal }));
    setTimeout(() => abandon.abort(), 100);
    const e = await failure(insert);
    await busy;
    await write.settled();
    try {
      expect(e).toMatchObject({ code: 'invalid_request' });
      expect(await my.rootQuery('select v from items where id = 300')).toEqual([]);
    } finally {
      await my.rootQuery('delete from items where id = 300');
    }
    // The connection went back to the pool armed: the next write works.
    expect((await executeMysql(write, req('select @@in_transaction, @@tx_read_only, current_role()', { mode: 'write' }))).rows).toEqual([['1', '0', 'qb_armed_write']]);
  });

  it('a new connection whose first look-up fails is destroyed, not kept out of the pool', async () => {
    // An account over its hourly query limit: the server refuses the first statement of a new
    // connection (the flavor look-up of a new handle). The connection must not stay checked out.
    const quota = { user: 'qb_quota', password: `pw_${randomBytes(6).toString('hex')}` };
    await my.rootQuery(`create user ${quota.user}@'%' identified by '${quota.password}' with max_queries_per_hour 2; grant qb_armed_read to ${quota.user}@'%'`);
    try {
      const used = await handle('read', 'qb_armed_read', credentialsOf(quota.user, quota.password, ''));
      await failure(executeMysql(used, req('select 1')));
      const fresh = await handle('read', 'qb_armed_read', credentialsOf(quota.user, quota.password, ''));
      const e = await failure(executeMysql(fresh, req('select 1')));
      expect(e).toMatchObject({ code: 'dependency_unavailable' });
      expect(await eventually(async () => (await sessionsOf(quota.user)).length === 0)).toBe(true);
    } finally {
      await my.rootQuery(`drop user ${quota.user}@'%'`);
    }
  });

  it('end() waits for the reset in flight and leaves no session on the server', async () => {
    const h = await handle('read', 'qb_armfail_role', credentialsOf(armFail.user, armFail.password));
    const s = await session(h);
    await h.end();
    expect(await eventually(async () => !(await sessionsOf(armFail.user)).includes(Number(s.id)))).toBe(true);
    expect(await h.settled()).toBeUndefined();
  });
});
