import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';
import { createConnectionCredentials } from '../../../src/db/credentials.js';
import { ConnectionConfig } from '../../../src/policy/schema.js';
import { createEnvSecretProvider } from '../../../src/secrets/env.js';
import { createMysqlHandle, type MysqlHandle } from '../../../src/engine/mysql/pools.js';
import { executeMysql, estimateMysqlRows } from '../../../src/engine/mysql/execute.js';
import { AffectedRowsOverLimit, DatabaseFailure, type StatementRequest } from '../../../src/db/execute.js';
import { BrokerError } from '../../../src/errors.js';
import type { ConnectionCredentials } from '../../../src/db/credentials.js';
import type { EngineErrorInfo } from '../../../src/engine/types.js';

const missing = mysqlUnavailable();

describe.skipIf(missing !== undefined)('MySQL executor on a real server', () => {
  let my: TestMysql;
  let credentials: ConnectionCredentials;
  let envName: string;
  const handles: MysqlHandle[] = [];
  let read: MysqlHandle;
  let write: MysqlHandle;

  async function handle(mode: 'read' | 'write', statementTimeoutMs = 5000): Promise<MysqlHandle> {
    // One connection: successive uses share it (the reset tests prove it by CONNECTION_ID()).
    const h = await createMysqlHandle(credentials, { statementTimeoutMs, lockTimeoutMs: 1000 }, mode, { connectionLimit: 1 });
    handles.push(h);
    return h;
  }

  const req = (sql: string, extra: Partial<StatementRequest> = {}): StatementRequest => ({ sql, params: [], maxRows: 100, mode: 'read', ...extra });

  async function failure(p: Promise<unknown>): Promise<unknown> {
    try {
      await p;
    } catch (e) {
      return e;
    }
    throw new Error('expected a failure');
  }

  beforeAll(async () => {
    my = (await startTestMysql())!;
    envName = `QB_TEST_MYSQL_${randomBytes(4).toString('hex').toUpperCase()}`;
    process.env[envName] = my.url;
    const conn = ConnectionConfig.parse({ engine: 'mysql', credentials: { env: envName } });
    credentials = createConnectionCredentials(conn, { secrets: createEnvSecretProvider({}), name: 'shop' });
    await my.rootQuery(`
      create table accounts (
        id int primary key, email varchar(100) not null, balance decimal(10,2) not null,
        meta json, created datetime, token varbinary(8), active bit(1), since year, big bigint, small tinyint
      );
      create table orders (id int primary key, account_id int not null, total double not null);
      insert into accounts
        select seq, concat('user', seq, '@example.com'), seq * 10.5, json_object('n', seq), '2024-01-02 03:04:05',
               x'00ff10', b'1', 2024, 9007199254740993, -3
          from seq_1_to_20;
      insert into orders select seq, (seq mod 20) + 1, seq / 4 from seq_1_to_40;
    `);
    read = await handle('read');
    write = await handle('write');
  });

  afterAll(async () => {
    await Promise.allSettled(handles.map((h) => h.end()));
    delete process.env[envName];
    await my?.stop();
  });

  it('caps the rows of a read and says the result was truncated', async () => {
    const [before] = (await executeMysql(read, req('select connection_id()'))).rows;
    const capped = await executeMysql(read, req('select id from accounts order by id', { maxRows: 5 }));
    // The server stopped at the cap: the connection was kept.
    expect((await executeMysql(read, req('select connection_id()'))).rows[0]).toEqual(before);
    expect(capped.rows).toEqual([['1'], ['2'], ['3'], ['4'], ['5']]);
    expect(capped.truncated).toBe(true);
    expect(capped.rowCount).toBe(5);
    expect(capped.command).toBe('SELECT');

    const whole = await executeMysql(read, req('select id from accounts order by id', { maxRows: 20 }));
    expect(whole.rows).toHaveLength(20);
    expect(whole.truncated).toBe(false);
  });

  it('stops reading at the cap when the statement asks for more rows with its own LIMIT', async () => {
    // 8000 rows asked for; the executor reads 11 and drops the connection.
    const [before] = (await executeMysql(read, req('select connection_id()'))).rows;
    const r = await executeMysql(read, req('select a.id, b.id, c.id from accounts a, accounts b, accounts c limit 8000', { maxRows: 10 }));
    expect(r.rows).toHaveLength(10);
    expect(r.truncated).toBe(true);
    // The rest was never read: that connection is gone.
    expect((await executeMysql(read, req('select connection_id()'))).rows[0]).not.toEqual(before);
    // The pool replaced the connection: the next read works.
    const next = await executeMysql(read, req('select 1 as one'));
    expect(next.rows).toEqual([['1']]);
  });

  it('ends the connection on a row over maxRowBytes and returns nothing of it', async () => {
    const e = await failure(executeMysql(read, req("select repeat('x', 200000) as big", { maxRowBytes: 1000 })));
    expect(e).toBeInstanceOf(BrokerError);
    expect((e as BrokerError).code).toBe('query_failed');
    expect((e as BrokerError).message).toMatch(/larger than this profile allows/);
    const small = await executeMysql(read, req("select repeat('x', 10) as small", { maxRowBytes: 1000 }));
    expect(small.rows).toEqual([['xxxxxxxxxx']]);
  });

  it('refuses a write in a read (read-only transaction) and the table is unchanged', async () => {
    const e = await failure(executeMysql(read, req("update accounts set email = 'pwned@example.com' where id = 1")));
    expect(e).toBeInstanceOf(DatabaseFailure);
    expect((e as DatabaseFailure).info).toMatchObject({ sqlstate: '25006', vendorCode: '1792', kind: 'read_only' });
    const [row] = await my.rootQuery<{ email: string }>('select email from accounts where id = 1');
    expect(row!.email).toBe('user1@example.com');
  });

  it('keeps a read handle read-only even for a request in write mode', async () => {
    const e = await failure(executeMysql(read, req("delete from accounts where id = 2", { mode: 'write' })));
    expect((e as DatabaseFailure).info).toMatchObject({ kind: 'read_only' });
    const [row] = await my.rootQuery<{ n: number }>('select count(*) as n from accounts where id = 2');
    expect(Number(row!.n)).toBe(1);
  });

  it('cancels a statement past the profile time limit (kind timeout)', async () => {
    const quick = await handle('read', 300);
    const started = Date.now();
    const e = await failure(executeMysql(quick, req('select sleep(5) as s')));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e).toBeInstanceOf(DatabaseFailure);
    expect((e as DatabaseFailure).info).toMatchObject({ kind: 'timeout' });
    expect(['1969', '3024']).toContain(((e as DatabaseFailure).info as EngineErrorInfo).vendorCode);
    // The limit is set on every use: the same connection is still limited next time.
    const again = await failure(executeMysql(quick, req('select sleep(5) as s')));
    expect((again as DatabaseFailure).info).toMatchObject({ kind: 'timeout' });
  });

  it('cancels a statement that lifts the server time limit for itself, and its session ends on the server', async () => {
    const quick = await handle('read', 300);
    const started = Date.now();
    const e = await failure(executeMysql(quick, req('set statement max_statement_time = 0 for select sleep(20) as s')));
    expect(Date.now() - started).toBeLessThan(4000);
    expect((e as DatabaseFailure).info).toMatchObject({ kind: 'timeout' });
    // The session is gone on the server, not left sleeping.
    let sleeping = 1;
    for (let i = 0; i < 50 && sleeping > 0; i++) {
      const [row] = await my.rootQuery<{ n: number }>("select count(*) as n from information_schema.processlist where info like '%sleep(20)%' and user = ?", [my.user]);
      sleeping = Number(row!.n);
      if (sleeping > 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sleeping).toBe(0);
    expect((await executeMysql(quick, req('select 5 as five'))).rows).toEqual([['5']]);
  });

  it('resets the session after every use: user variables, settings, temporary tables and locks are gone on the same connection', async () => {
    const first = await executeMysql(
      write,
      req("select connection_id() as id, @leak := 'secret' as v, get_lock('qb_reset_test', 0) as locked", { mode: 'write' }),
    );
    expect(first.rows[0]![2]).toBe('1');
    await executeMysql(write, req('set @@session.div_precision_increment = 12', { mode: 'write' }));
    await executeMysql(write, req('create temporary table scratch as select 1 as a', { mode: 'write' }));

    const after = await executeMysql(write, req('select connection_id() as id, @leak as v, @@session.div_precision_increment as dpi', { mode: 'write' }));
    expect(after.rows[0]![0]).toBe(first.rows[0]![0]);
    expect(after.rows[0]![1]).toBeNull();
    const [globalDpi] = await my.rootQuery<{ d: number }>('select @@global.div_precision_increment as d');
    expect(after.rows[0]![2]).toBe(String(globalDpi!.d));
    const gone = await failure(executeMysql(write, req('select * from scratch', { mode: 'write' })));
    expect((gone as DatabaseFailure).info).toMatchObject({ vendorCode: '1146' });
    const [lock] = await my.rootQuery<{ free: number }>("select is_free_lock('qb_reset_test') as free");
    expect(Number(lock!.free)).toBe(1);
  });

  it('drops the connection when the request is abandoned, and the pool serves the next request', async () => {
    const abandon = new AbortController();
    const started = Date.now();
    setTimeout(() => abandon.abort(), 200);
    const e = await failure(executeMysql(read, req('select sleep(3) as s', { signal: abandon.signal })));
    expect(Date.now() - started).toBeLessThan(2000);
    expect((e as BrokerError).code).toBe('invalid_request');
    expect((await executeMysql(read, req('select 4 as four'))).rows).toEqual([['4']]);
  });

  it('rolls back a write that changes more rows than allowed, and commits one within the limit', async () => {
    const before = await my.rootQuery<{ s: string }>('select sum(balance) as s from accounts');
    const e = await failure(executeMysql(write, req('update accounts set balance = 0', { mode: 'write', maxAffectedRows: 5 })));
    expect(e).toBeInstanceOf(AffectedRowsOverLimit);
    expect((e as AffectedRowsOverLimit).affectedRows).toBe(20);
    expect(await my.rootQuery('select sum(balance) as s from accounts')).toEqual(before);

    const ok = await executeMysql(write, req('update accounts set balance = balance + 1 where id <= ?', { mode: 'write', params: [3], maxAffectedRows: 5 }));
    expect(ok.rowCount).toBe(3);
    expect(ok.command).toBe('UPDATE');
    const [row] = await my.rootQuery<{ b: string }>('select balance as b from accounts where id = 1');
    expect(String(row!.b)).toBe('11.50');
    await my.rootQuery('update accounts set balance = balance - 1 where id <= 3');
  });

  it('gives each column its origin by name through aliases and joins; expressions have none', async () => {
    const r = await executeMysql(
      read,
      req('select a.email as contact, o.total as t, a.id + 1 as expr, a.id from accounts a join orders o on o.account_id = a.id order by o.id', { maxRows: 1 }),
    );
    const [contact, total, expr, id] = r.fields;
    expect(contact).toMatchObject({ name: 'contact', origin: { schema: my.database, table: 'accounts', column: 'email' } });
    expect(total).toMatchObject({ name: 't', origin: { schema: my.database, table: 'orders', column: 'total' } });
    expect(expr).toMatchObject({ name: 'expr', tableID: 0, columnID: 0 });
    expect(expr!.origin).toBeUndefined();
    expect(id).toMatchObject({ name: 'id', origin: { table: 'accounts', column: 'id' } });
    expect(contact!.tableID).toBe(id!.tableID);
    expect(contact!.tableID).not.toBe(total!.tableID);
    expect(new Set([contact!.columnID, total!.columnID, id!.columnID]).size).toBe(3);
    expect(contact!.tableID).toBeGreaterThan(0);
  });

  it('names the MySQL type and the closest PostgreSQL type of each column, cells as the server prints them', async () => {
    const r = await executeMysql(read, req('select id, email, balance, meta, created, token, active, since, big, small from accounts where id = 2'));
    const types = Object.fromEntries(r.fields.map((f) => [f.name, [f.typeName, f.dataTypeID]]));
    expect(types).toMatchObject({
      id: ['int', 23],
      email: ['varchar', 25],
      balance: ['decimal', 1700],
      created: ['datetime', 1114],
      token: ['varbinary', 17],
      active: ['bit', 1560],
      since: ['year', 23],
      big: ['bigint', 20],
      small: ['tinyint', 21],
    });
    // MariaDB's JSON is LONGTEXT with a json format tag; MySQL's is JSON.
    expect([['json', 114], ['longtext', 25]]).toContainEqual(types.meta);
    expect(r.rows[0]).toEqual(['2', 'user2@example.com', '21.00', '{"n": 2}', '2024-01-02 03:04:05', '\\x00ff10', '1', '2024', '9007199254740993', '-3']);
  });

  it('binds ? parameters as values only, outside strings and comments', async () => {
    const r = await executeMysql(read, req("select ? as a, '?' as b, ? as c /* ? */", { params: ["x' or 1=1 -- ", 7] }));
    expect(r.rows).toEqual([["x' or 1=1 -- ", '?', '7']]);
    const e = await failure(executeMysql(read, req('select ? as a', { params: [] })));
    expect((e as BrokerError).code).toBe('invalid_request');
    const obj = await failure(executeMysql(read, req('select ? as a', { params: [{ id: 1 }] })));
    expect((obj as BrokerError).code).toBe('invalid_request');
  });

  it('reports a failed statement as the server refused it, and the connection serves the next one', async () => {
    const e = await failure(executeMysql(read, req('select no_such_column from accounts')));
    expect(e).toBeInstanceOf(DatabaseFailure);
    expect((e as DatabaseFailure).info).toMatchObject({ sqlstate: '42S22', vendorCode: '1054' });
    expect((await executeMysql(read, req('select 2 as two'))).rows).toEqual([['2']]);
  });

  it('estimates the rows of a write from EXPLAIN without running it', async () => {
    const before = await my.rootQuery('select id, balance from accounts order by id');
    expect(await estimateMysqlRows(write, 'update accounts set balance = 0', [])).toBeGreaterThanOrEqual(20);
    expect(await estimateMysqlRows(write, 'delete from accounts where id > ?', [0])).toBeGreaterThan(0);
    expect(await estimateMysqlRows(write, 'insert into orders (id, account_id, total) select id + 100, id, 1 from accounts', [])).toBeGreaterThanOrEqual(20);
    expect(await estimateMysqlRows(write, 'replace into orders (id, account_id, total) select id + 100, id, 1 from accounts', [])).toBeGreaterThanOrEqual(20);
    expect(await my.rootQuery('select id, balance from accounts order by id')).toEqual(before);
    const [orders] = await my.rootQuery<{ n: number }>('select count(*) as n from orders');
    expect(Number(orders!.n)).toBe(40);
    const e = await failure(estimateMysqlRows(write, 'select * from accounts', []));
    expect((e as BrokerError).code).toBe('invalid_request');
  });

  it('answers dependency_unavailable when the server cannot be reached', async () => {
    const nowhere: ConnectionCredentials = {
      target: async () => ({ host: '127.0.0.1', port: 1, database: 'x', user: 'x', ssl: false }),
      password: async () => 'x',
      invalidate() {},
    };
    const h = await createMysqlHandle(nowhere, { statementTimeoutMs: 1000, lockTimeoutMs: 1000 }, 'read');
    handles.push(h);
    const e = await failure(executeMysql(h, req('select 1')));
    expect(e).toBeInstanceOf(BrokerError);
    expect((e as BrokerError).code).toBe('dependency_unavailable');
    expect((e as BrokerError).message).toMatch(/Retry/);
  });

  it('fetches the password again after the server rejects it (rotation)', async () => {
    let current = 'stale-password';
    let invalidated = 0;
    const rotating: ConnectionCredentials = {
      target: () => credentials.target(),
      password: async () => current,
      invalidate() {
        invalidated++;
        current = my.password;
      },
    };
    const h = await createMysqlHandle(rotating, { statementTimeoutMs: 1000, lockTimeoutMs: 1000 }, 'read');
    handles.push(h);
    expect((await executeMysql(h, req('select 3 as three'))).rows).toEqual([['3']]);
    expect(invalidated).toBe(1);
  });
});
