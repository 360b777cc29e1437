/**
 * Red team, MySQL engine: a hostile agent with a valid read or write token against a real broker on
 * a real socket, brokering a real MariaDB (the tests' private server, or QB_MYSQL_URL) as the
 * connection `shop` (engine mysql), next to the PostgreSQL demo.
 *
 * Every attack is judged by its effect: the status and reason code the agent sees (the same codes
 * as the PostgreSQL red team where the meaning is the same), no planted value in the body or the
 * broker's logs, and the database unchanged — a checksum of every table, the routines, triggers,
 * events, users and a few global settings, read as the superuser, plus the server's files
 * directory. Named locks are checked free from the superuser's session, time limits by the clock.
 */
import { createDemoRoles } from '../helpers/mysql-roles.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../helpers/mariadb.js';
import { APPROVE, codesOf, DEMO_PLANTED, DEMO_SSNS, READ, redTeam, WRITE } from '../helpers/redteam.js';
import { seedMysqlDemo, addMysqlDemoConnection, type RawDemoPolicy } from '../../src/local/demo-mysql.js';

const missing = mysqlUnavailable();

/** a file only the database server could read (in its secure_file_priv directory) */
const FILE_SECRET = 'qb-rt-file-secret-7c1d9e';
const PLANTED = [...DEMO_PLANTED, 'root:x:0:0', FILE_SECRET];

/** a read profile on shop that allow-lists RAND() */
const RAND = ['Shop.Rand'];
/** a read profile on shop that allow-lists the planted stored functions */
const FNS = ['Shop.Functions'];
/** a read profile on shop with small caps: 5 rows, 2000 bytes, 1 s */
const TIGHT = ['Shop.Tight'];

const ENV = 'QB_TEST_MYSQL_URL';

let my: TestMysql;
let b: TestBroker;

/** Everything an attack could change, read as the superuser. */
async function snapshot(): Promise<string> {
  const db = my.database;
  const tables = await my.rootQuery<{ name: string; type: string }>(
    'select table_name as name, table_type as type from information_schema.tables where table_schema = ? order by table_name',
    [db],
  );
  const base = tables.filter((t) => t.type === 'BASE TABLE').map((t) => `${mysql.escapeId(db)}.${mysql.escapeId(t.name)}`);
  const sums = base.length > 0 ? await my.rootQuery(`checksum table ${base.join(', ')} extended`) : [];
  const sequences: unknown[] = [];
  for (const t of tables.filter((x) => x.type === 'SEQUENCE')) sequences.push(await my.rootQuery(`select * from ${mysql.escapeId(db)}.${mysql.escapeId(t.name)}`));
  const columns = await my.rootQuery('select table_name, column_name, column_type from information_schema.columns where table_schema = ? order by 1, 2', [db]);
  const routines = await my.rootQuery('select routine_name, routine_type, created, last_altered from information_schema.routines where routine_schema = ? order by 1', [db]);
  const triggers = await my.rootQuery('select trigger_name from information_schema.triggers where trigger_schema = ? order by 1', [db]);
  const events = await my.rootQuery('select event_name from information_schema.events where event_schema = ? order by 1', [db]);
  const users = await my.rootQuery('select user, host from mysql.user order by 1, 2');
  const grants = await my.rootQuery('select grantee, privilege_type from information_schema.schema_privileges order by 1, 2');
  const globals = await my.rootQuery(
    'select @@global.max_connections as mc, @@global.read_only as ro, @@global.sql_mode as sm, @@global.max_statement_time as mst, @@global.general_log as gl, @@global.event_scheduler as es, @@global.autocommit as ac, @@global.local_infile as li',
  );
  const files = my.filesDir ? readdirSync(my.filesDir).sort() : [];
  return JSON.stringify({ tables, sums, sequences, columns, routines, triggers, events, users, grants, globals, files });
}

const rt = redTeam({ broker: () => b, snapshot, planted: PLANTED });
const { planted, bearer } = rt;

/** POST /api/query on shop; `{db}` in the SQL stands for the test database's (quoted) name. */
async function shop(sql: string, roles: string[] = READ, sub = 'rt-agent', params?: unknown[]) {
  const text = sql.replaceAll('{db}', mysql.escapeId(my.database));
  return b.query({ connection: 'shop', sql: text, ...(params ? { params } : {}) }, roles, sub);
}

interface Refusal {
  name: string;
  sql: string;
  roles?: string[];
  /** expected HTTP status (a list: any of them, e.g. a parse error or a policy refusal) */
  status: number | number[];
  /** a reason (or error) code the refusal must carry; a list: any one of them */
  code?: string | string[];
  params?: unknown[];
  /** the answer must come within this many milliseconds (refused before it ran) */
  maxMs?: number;
}

/** Send an attack; assert it is refused as expected, nothing planted came back, the database is unchanged. */
async function expectRefused(a: Refusal): Promise<any> {
  const r = await rt.attack(() => shop(a.sql, a.roles ?? READ, 'rt-agent', a.params), (r) => {
    expect(Array.isArray(a.status) ? a.status : [a.status], JSON.stringify(r.body)).toContain(r.status);
    if (a.code) {
      const wanted = Array.isArray(a.code) ? a.code : [a.code];
      expect(codesOf(r.body).some((c) => wanted.includes(c)), `wanted one of ${wanted.join(', ')}: ${JSON.stringify(r.body)}`).toBe(true);
    }
    if (a.maxMs !== undefined) expect(r.ms).toBeLessThan(a.maxMs);
  });
  return r.body;
}

function expectColumnsMasked(body: any, maskedColumns: readonly number[]): void {
  for (const i of maskedColumns) expect(body.columns[i]?.masked, `column ${i} of ${JSON.stringify(body.columns)}`).not.toBe(false);
}

/** An attack that may run but must come back masked (these columns flagged); the database is unchanged. */
async function expectMasked(sql: string, maskedColumns: number[] = [], roles: string[] = READ): Promise<any> {
  const r = await rt.attack(() => shop(sql, roles), (r) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.decision).toBe('allowed');
    expectColumnsMasked(r.body, maskedColumns);
  });
  return r.body;
}

/** Masked as `expectMasked` says, or refused with this code (a stricter answer leaks nothing either). */
async function expectMaskedOrRefused(sql: string, maskedColumns: number[], code: string): Promise<void> {
  await rt.attack(() => shop(sql), (r) => {
    if (r.status === 200) {
      expectColumnsMasked(r.body, maskedColumns);
    } else {
      expect([400, 403, 422], JSON.stringify(r.body)).toContain(r.status);
      expect(codesOf(r.body), JSON.stringify(r.body)).toContain(code);
    }
  });
}

/** Held for a human: 202, the reason code, nothing changed, the request pending. */
async function expectHeld(sql: string, code: string | string[]): Promise<any> {
  const before = await snapshot();
  const r = await shop(sql, WRITE, 'rt-writer');
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.decision).toBe('pending_approval');
  const wanted = Array.isArray(code) ? code : [code];
  expect(codesOf(r.body).some((c) => wanted.includes(c)), `wanted one of ${wanted.join(', ')}: ${JSON.stringify(r.body)}`).toBe(true);
  expect(await snapshot()).toBe(before);
  const st = await b.fetch(`/api/requests/${r.body.requestId}`, { headers: { authorization: `Bearer ${await b.token({ sub: 'rt-writer', roles: WRITE })}` } });
  expect(((await st.json()) as { state: string }).state).toBe('pending_approval');
  return r.body;
}

/** Each statement refused (400 or 403), the database unchanged after each. */
async function expectEachRefused(sqls: readonly string[]): Promise<void> {
  for (const sql of sqls) {
    const before = await snapshot();
    const r = await shop(sql);
    expect([400, 403], `${sql}: ${JSON.stringify(r.body)}`).toContain(r.status);
    expect(await snapshot(), sql).toBe(before);
  }
}

/** How many statements whose text holds `marker` still run on the server, after waiting up to 5 s for none. */
async function stillRunning(marker: string): Promise<number> {
  let left = 1;
  for (let i = 0; i < 50 && left > 0; i++) {
    const [row] = await my.rootQuery<{ n: number }>("select count(*) as n from information_schema.processlist where info like ? and id <> connection_id()", [`%${marker}%`]);
    left = Number(row!.n);
    if (left > 0) await new Promise((res) => setTimeout(res, 100));
  }
  return left;
}

async function lockIsFree(name: string): Promise<boolean> {
  const [row] = await my.rootQuery<{ f: number }>('select is_free_lock(?) as f', [name]);
  return Number(row!.f) === 1;
}

async function pollStatus(requestId: string, auth: string, until: (s: string) => boolean): Promise<any> {
  for (let i = 0; i < 150; i++) {
    const res = await b.fetch(`/api/requests/${requestId}`, { headers: { authorization: auth } });
    const body = (await res.json()) as { state: string };
    if (res.status === 200 && until(body.state)) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`request ${requestId} never reached the expected state`);
}

describe.skipIf(missing !== undefined)('MySQL red team (engine: mysql on a real MariaDB)', () => {
  beforeAll(async () => {
    my = (await startTestMysql())!;
    await createDemoRoles(my);
    await seedMysqlDemo(my.url);
    // What the attacks aim at, planted as the superuser: a unique e-mail (duplicate-key errors quote
    // the value), a view over the PII, stored functions (harmless, data-changing, lock-taking) and
    // a procedure; a file the server could read.
    await my.rootQuery('alter table customers add unique key customers_email_key (email)');
    await my.rootQuery('create view customer_contacts as select id, name, email, ssn, card_number from customers');
    await my.rootQuery('create function shop_discount(x int) returns int deterministic no sql return x * 2');
    await my.rootQuery("create function touch_customers() returns int modifies sql data begin update customers set country = 'XX'; return 1; end");
    await my.rootQuery("create function take_lock() returns int no sql return get_lock('qb_rt_fn_lock', 0)");
    await my.rootQuery("create procedure wipe_orders() modifies sql data delete from orders");
    await my.rootQuery('create function get_ssn(i int) returns varchar(20) reads sql data return (select ssn from customers where id = i)');
    await my.rootQuery("create view customer_tags as select id, concat('tag:', ssn) as tag, upper(email) as contact from customers");
    await my.rootQuery('create sequence rt_seq');
    if (my.filesDir) writeFileSync(join(my.filesDir, 'secret.txt'), `${FILE_SECRET}\n`);
    process.env[ENV] = my.url;
    b = await startTestBroker({
      policyPatch: (p) => {
        addMysqlDemoConnection(p as RawDemoPolicy, my.database, ENV, { dbRoles: true });
        p.limits = { requestsPerMinute: 100_000 };
        p.profiles['shop-rand'] = { match: { roles: RAND }, connections: ['shop'], access: 'read', allowVolatile: ['rand'] };
        p.profiles['shop-functions'] = {
          match: { roles: FNS },
          connections: ['shop'],
          access: 'read',
          allowVolatile: ['shop_discount', 'touch_customers', 'take_lock', 'get_ssn'],
        };
        p.profiles['shop-tight'] = { match: { roles: TIGHT }, connections: ['shop'], access: 'read', maxRows: 5, maxResultBytes: 2000, statementTimeoutMs: 1000 };
      },
    });
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await my?.stop();
    delete process.env[ENV];
  }, 60_000);

  it('the premise: the superuser sees the planted values, the broker answers on shop', async () => {
    const rows = await my.rootQuery<{ ssn: string; card_number: string }>('select ssn, card_number from customers order by id');
    expect(rows.map((r) => r.ssn)).toEqual(DEMO_SSNS);
    const r = await shop('select id, name from customers order by id');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toHaveLength(5);
  });

  // ===============================================================================================
  // (a) more than one statement, and text the server reads differently from the parser
  // ===============================================================================================
  describe('stacked statements and executable comments are refused before anything is sent', () => {
    const cases: Refusal[] = [
      { name: 'two statements', sql: 'SELECT 1; DROP TABLE orders', status: 400, code: 'multiple_statements' },
      { name: 'two statements, no space', sql: 'SELECT 1;DROP TABLE orders', status: 400, code: 'multiple_statements' },
      { name: 'a semicolon inside a comment, then a second statement', sql: 'SELECT 1 /* ; */; DROP TABLE orders', status: 400, code: 'multiple_statements' },
      { name: 'a semicolon inside a string, then a second statement', sql: "SELECT ';'; DROP TABLE orders", status: 400, code: 'multiple_statements' },
      { name: 'a second statement after a # comment line', sql: 'SELECT 1 # ;\n; DROP TABLE orders', status: 400, code: 'multiple_statements' },
      { name: 'a second statement after a -- comment line', sql: 'SELECT 1 -- x\n; DELETE FROM orders', status: 400, code: 'multiple_statements' },
      { name: 'COMMIT; DROP …', sql: 'COMMIT; DROP TABLE orders', status: 400, code: 'multiple_statements' },
      { name: 'ROLLBACK; DELETE …', sql: 'ROLLBACK; DELETE FROM orders', status: 400, code: 'multiple_statements' },
      { name: 'a backslash-quote trick (one string or two statements, by sql_mode)', sql: "SELECT 'a\\'; DROP TABLE orders; -- '", status: 400, code: 'sql_parse_error' },
      { name: 'a double-quote trick (string or identifier, by ANSI_QUOTES)', sql: 'SELECT "a\\"; DROP TABLE orders; -- "', status: 400, code: ['sql_parse_error', 'multiple_statements'] },
      { name: 'version comment /*!50000 DROP … */', sql: '/*!50000 DROP TABLE orders */', status: 400, code: 'sql_parse_error' },
      { name: 'version comment hiding a second statement', sql: 'SELECT 1 /*!50000 ; DROP TABLE orders */', status: 400, code: 'sql_parse_error' },
      { name: 'version comment smuggling a masked column', sql: 'SELECT id /*!, ssn */ FROM customers', status: 400, code: 'sql_parse_error' },
      { name: 'MariaDB comment /*M!100000 DROP … */', sql: '/*M!100000 DROP TABLE orders */', status: 400, code: 'sql_parse_error' },
      { name: 'MariaDB comment smuggling a write into a SELECT', sql: 'SELECT 1 /*M!100000 ; DELETE FROM orders */', status: 400, code: 'sql_parse_error' },
      { name: 'optimizer hint lifting the time limit', sql: 'SELECT /*+ MAX_EXECUTION_TIME(0) */ id FROM orders', status: 400, code: 'sql_parse_error' },
      { name: '"--1": a comment to tools, arithmetic to the server', sql: 'SELECT id FROM orders WHERE id = 1 --1', status: 400, code: 'sql_parse_error' },
      { name: 'an unterminated comment', sql: 'SELECT 1 /* DROP TABLE orders', status: 400, code: 'sql_parse_error' },
      { name: 'the client DELIMITER command', sql: 'DELIMITER //\nDROP TABLE orders //', status: 400, code: ['sql_parse_error', 'multiple_statements'] },
    ];
    for (const c of cases) {
      it(`refuses: ${c.name}`, async () => {
        await expectRefused(c);
      });
    }
    it('refuses a stacked DROP through the write profile too', async () => {
      await expectRefused({ name: 'write stacked', sql: "UPDATE orders SET status = 'x' WHERE id = 1; DROP TABLE orders", roles: WRITE, status: 400, code: 'multiple_statements' });
    });
  });

  // ===============================================================================================
  // (b) statements that change the session, the server or files, whatever the profile
  // ===============================================================================================
  describe('session, server and file statements are refused', () => {
    const cases: Refusal[] = [
      { name: 'COMMIT', sql: 'COMMIT', status: 403, code: 'transaction_control' },
      { name: 'START TRANSACTION READ WRITE', sql: 'START TRANSACTION READ WRITE', status: 403, code: 'transaction_control' },
      { name: 'SAVEPOINT', sql: 'SAVEPOINT a', status: 403, code: 'transaction_control' },
      { name: 'XA START', sql: "XA START 'rt'", status: 403, code: ['transaction_control', 'unrecognised_statement'] },
      { name: 'SET TRANSACTION READ WRITE', sql: 'SET TRANSACTION READ WRITE', status: 403, code: 'session_state_change' },
      { name: 'SET SESSION TRANSACTION READ WRITE', sql: 'SET SESSION TRANSACTION READ WRITE', status: 403, code: 'session_state_change' },
      { name: 'SET autocommit', sql: 'SET autocommit = 1', status: 403, code: 'session_state_change' },
      { name: 'SET @@session.max_statement_time', sql: 'SET @@session.max_statement_time = 0', status: 403, code: 'session_state_change' },
      { name: 'SET SESSION sql_mode (changes how strings are lexed)', sql: "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'", status: 403, code: 'session_state_change' },
      { name: 'SET @@tx_read_only', sql: 'SET @@tx_read_only = 0', status: 403, code: 'session_state_change' },
      { name: 'SET NAMES', sql: 'SET NAMES latin1', status: 403, code: 'session_state_change' },
      { name: 'SET a user variable', sql: 'SET @x = 1', status: 403, code: 'session_state_change' },
      { name: 'SET GLOBAL', sql: 'SET GLOBAL max_connections = 1', status: 403, code: ['server_level_command', 'session_state_change'] },
      { name: 'SET @@global.read_only', sql: 'SET @@global.read_only = 1', status: 403, code: ['server_level_command', 'session_state_change'] },
      { name: 'SET STATEMENT … FOR (MariaDB per-statement settings)', sql: 'SET STATEMENT max_statement_time = 0 FOR SELECT id FROM orders', status: 403, code: 'session_state_change' },
      { name: 'SET PASSWORD', sql: "SET PASSWORD = PASSWORD('owned')", status: 403, code: 'session_state_change' },
      { name: 'SET ROLE', sql: 'SET ROLE NONE', status: 403, code: 'session_state_change' },
      { name: 'USE another database', sql: 'USE mysql', status: 403, code: 'session_state_change' },
      { name: 'user-variable assignment in a SELECT', sql: 'SELECT @x := 1', status: 403, code: 'session_state_change' },
      { name: 'user-variable assignment of a masked value', sql: 'SELECT @x := ssn FROM customers', status: 403, code: ['session_state_change', 'masked_column_in_predicate'] },
      { name: 'SELECT … INTO @variable', sql: 'SELECT ssn INTO @x FROM customers LIMIT 1', status: 403, code: ['session_state_change', 'write_on_read_only_profile'] },
      { name: 'HANDLER OPEN', sql: 'HANDLER customers OPEN', status: 403, code: 'session_state_change' },
      { name: 'HANDLER READ', sql: 'HANDLER customers READ FIRST', status: 403, code: 'session_state_change' },
      { name: 'LOAD DATA INFILE', sql: "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders", status: 403, code: ['copy_statement', 'server_file_access'] },
      { name: 'LOAD DATA LOCAL INFILE (the broker\'s own files)', sql: "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE customers", status: 403, code: ['copy_statement', 'server_file_access'] },
      { name: 'LOAD XML', sql: "LOAD XML INFILE '/etc/passwd' INTO TABLE orders", status: 403, code: ['copy_statement', 'server_file_access'] },
      { name: 'LOAD_FILE of /etc/passwd', sql: "SELECT LOAD_FILE('/etc/passwd')", status: 403, code: 'server_file_access' },
      { name: 'LOAD_FILE of a file the server may read, path built at run time', sql: "SELECT LOAD_FILE(CONCAT(@@secure_file_priv, 'secret.txt'))", status: 403, code: 'server_file_access' },
      { name: 'LOCK TABLES', sql: 'LOCK TABLES orders WRITE', status: 403, code: 'lock_statement' },
      { name: 'UNLOCK TABLES', sql: 'UNLOCK TABLES', status: 403, code: 'lock_statement' },
      { name: 'FLUSH TABLES', sql: 'FLUSH TABLES', status: 403, code: 'server_level_command' },
      { name: 'FLUSH PRIVILEGES', sql: 'FLUSH PRIVILEGES', status: 403, code: 'server_level_command' },
      { name: 'KILL a connection', sql: 'KILL 1', status: 403, code: 'server_level_command' },
      { name: 'KILL QUERY', sql: 'KILL QUERY 1', status: 403, code: 'server_level_command' },
      { name: 'SHUTDOWN', sql: 'SHUTDOWN', status: 403, code: 'server_level_command' },
      { name: 'INSTALL SONAME (a UDF library)', sql: "INSTALL SONAME 'ha_blackhole'", status: 403, code: 'server_level_command' },
      { name: 'SHOW PROCESSLIST (other sessions\' statements)', sql: 'SHOW FULL PROCESSLIST', status: 403, code: 'unrecognised_statement' },
      { name: 'CALL a procedure that deletes every order (read profile)', sql: 'CALL wipe_orders()', status: 403, code: 'write_on_read_only_profile' },
      { name: 'DO SLEEP', sql: 'DO SLEEP(5)', status: 403, code: 'procedural_code', maxMs: 3000 },
      { name: 'DO GET_LOCK', sql: "DO GET_LOCK('qb_rt_do', 0)", status: 403, code: ['procedural_code', 'advisory_lock'] },
      { name: 'PREPARE', sql: "PREPARE s FROM 'DELETE FROM orders'", status: 403, code: 'session_state_change' },
      { name: 'EXECUTE', sql: 'EXECUTE s', status: 403, code: 'session_state_change' },
      { name: 'DEALLOCATE PREPARE', sql: 'DEALLOCATE PREPARE s', status: 403, code: 'session_state_change' },
      { name: 'EXECUTE IMMEDIATE (MariaDB)', sql: "EXECUTE IMMEDIATE 'DELETE FROM orders'", status: 403, code: 'session_state_change' },
      { name: 'BACKUP STAGE (a server-wide lock)', sql: 'BACKUP STAGE START', status: 403 },
      { name: 'OPTIMIZE TABLE (rebuilds and locks it)', sql: 'OPTIMIZE TABLE orders', status: 403 },
      { name: 'REPAIR TABLE', sql: 'REPAIR TABLE orders', status: 403 },
      { name: 'LOAD INDEX INTO CACHE', sql: 'LOAD INDEX INTO CACHE customers', status: 403 },
      { name: 'FLUSH TABLES WITH READ LOCK (a global lock)', sql: 'FLUSH TABLES WITH READ LOCK', status: 403, code: 'server_level_command' },
      { name: 'GET DIAGNOSTICS into a user variable', sql: 'GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT', status: 403 },
    ];
    for (const c of cases) {
      it(`refuses: ${c.name}`, async () => {
        await expectRefused(c);
      });
    }

    it('refuses SELECT … INTO OUTFILE and INTO DUMPFILE, and no file is created', async () => {
      const dir = my.filesDir ?? '/tmp';
      for (const [kind, file] of [['OUTFILE', 'rt-out.txt'], ['DUMPFILE', 'rt-dump.bin']] as const) {
        const path = join(dir, file);
        await expectRefused({
          name: kind,
          sql: `SELECT ssn, card_number FROM customers INTO ${kind} '${path}'`,
          status: 403,
          code: ['server_file_access', 'write_on_read_only_profile', 'select_into'],
        });
        expect(existsSync(path)).toBe(false);
      }
      await expectRefused({ name: 'OUTFILE, write profile', sql: `SELECT id FROM orders INTO OUTFILE '${join(dir, 'rt-w.txt')}'`, roles: WRITE, status: 403 });
      expect(existsSync(join(dir, 'rt-w.txt'))).toBe(false);
      if (my.filesDir) expect(readdirSync(my.filesDir)).toEqual(['secret.txt']);
    });

    it('refuses session changes through the write profile too', async () => {
      await expectRefused({ name: 'SET via write', sql: 'SET @@session.max_statement_time = 0', roles: WRITE, status: 403, code: 'session_state_change' });
      await expectRefused({ name: 'LOCK via write', sql: 'LOCK TABLES orders WRITE', roles: WRITE, status: 403, code: 'lock_statement' });
      await expectRefused({ name: 'LOAD DATA via write', sql: "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders", roles: WRITE, status: 403, code: ['copy_statement', 'server_file_access'] });
    });
  });

  // ===============================================================================================
  // (c) functions: side effects, waits, locks, files; the read allow-list
  // ===============================================================================================
  describe('side-effect and denial-of-service functions', () => {
    const cases: Refusal[] = [
      { name: 'SLEEP', sql: 'SELECT SLEEP(5)', status: 403, code: 'volatile_function', maxMs: 3000 },
      { name: 'SLEEP in a WHERE', sql: 'SELECT id FROM orders WHERE SLEEP(5) = 0', status: 403, code: 'volatile_function', maxMs: 3000 },
      { name: 'SLEEP in a sub-query', sql: 'SELECT (SELECT SLEEP(5)) AS x', status: 403, code: 'volatile_function', maxMs: 3000 },
      { name: 'BENCHMARK', sql: "SELECT BENCHMARK(500000000, MD5('x'))", status: 403, code: 'volatile_function', maxMs: 3000 },
      { name: 'SLEEP even where RAND is allow-listed', sql: 'SELECT SLEEP(5)', roles: RAND, status: 403, code: 'volatile_function', maxMs: 3000 },
      { name: 'MASTER_POS_WAIT', sql: "SELECT MASTER_POS_WAIT('log.000001', 4, 5)", status: 403, code: 'server_control_function', maxMs: 3000 },
      { name: 'MASTER_GTID_WAIT', sql: "SELECT MASTER_GTID_WAIT('0-1-1', 5)", status: 403, code: 'server_control_function', maxMs: 3000 },
      { name: 'a SYS_EXEC-style UDF', sql: "SELECT sys_exec('touch /tmp/qb-rt-owned')", status: 403, code: ['server_control_function', 'volatile_function'] },
      { name: 'RAND without an allow-list', sql: 'SELECT RAND()', status: 403, code: 'volatile_function' },
      { name: 'UUID without an allow-list', sql: 'SELECT UUID()', status: 403, code: 'volatile_function' },
      { name: 'LAST_INSERT_ID (another statement\'s effect)', sql: 'SELECT LAST_INSERT_ID()', status: 403, code: 'volatile_function' },
      { name: 'a stored function, not allow-listed', sql: 'SELECT shop_discount(amount_cents) FROM orders', status: 403, code: 'volatile_function' },
      { name: 'a stored function, database-qualified', sql: 'SELECT {db}.shop_discount(1)', status: 403, code: 'volatile_function' },
      { name: 'a data-changing stored function from a read', sql: 'SELECT touch_customers()', status: 403, code: 'volatile_function' },
      { name: 'a data-changing stored function hidden in a WHERE', sql: 'SELECT id FROM orders WHERE touch_customers() = 1', status: 403, code: 'volatile_function' },
    ];
    for (const c of cases) {
      it(`refuses: ${c.name}`, async () => {
        await expectRefused(c);
      });
    }
    // The named-lock functions: refused quickly, and no lock is left held on a pooled connection.
    for (const fn of ["GET_LOCK('qb_rt_lock', 0)", "RELEASE_LOCK('qb_rt_lock')", "IS_FREE_LOCK('qb_rt_lock')", "IS_USED_LOCK('qb_rt_lock')", 'RELEASE_ALL_LOCKS()']) {
      it(`refuses ${fn.replace(/\(.*/, '')} and holds no lock`, async () => {
        await expectRefused({ name: fn, sql: `SELECT ${fn}`, status: 403, code: 'advisory_lock', maxMs: 3000 });
        expect(await lockIsFree('qb_rt_lock')).toBe(true);
      });
    }
    it('refuses GET_LOCK through the write profile (in a write\'s expression)', async () => {
      await expectRefused({ name: 'get_lock write', sql: "UPDATE orders SET status = IF(GET_LOCK('qb_rt_lock', 0), status, status) WHERE id = 1", roles: WRITE, status: 403, code: 'advisory_lock' });
      expect(await lockIsFree('qb_rt_lock')).toBe(true);
    });

    it('RAND is allowed where a profile allow-lists it', async () => {
      const r = await shop('SELECT RAND() AS r', RAND);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(typeof r.body.rows[0][0]).toBe('number');
    });

    it('a stored function is allowed where a profile allow-lists it', async () => {
      const r = await shop('SELECT shop_discount(21) AS d', FNS);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      // What a stored function reads is not traced, so its result is masked (fail closed), or 42 once it is.
      expect([42, '42', '[redacted]']).toContain(r.body.rows[0][0]);
    });

    it('an allow-listed stored function that changes data still changes nothing (read-only transaction)', async () => {
      const before = await snapshot();
      const r = await shop('SELECT touch_customers()', FNS);
      expect(r.status, JSON.stringify(r.body)).not.toBe(200);
      expect([403, 422]).toContain(r.status);
      expect(planted(r.body)).toEqual([]);
      expect(await snapshot()).toBe(before);
    });

    it('an allow-listed stored function that reads a masked column returns it masked', async () => {
      const before = await snapshot();
      const r = await shop('SELECT get_ssn(1) AS s', FNS);
      expect(planted(r.body)).toEqual([]);
      if (r.status === 200) expect(r.body.columns[0].masked).not.toBe(false);
      else expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(await snapshot()).toBe(before);
    });

    it('refuses sequence access in a read (NEXT VALUE FOR, NEXTVAL, SETVAL, PREVIOUS VALUE FOR) and the sequence does not move', async () => {
      await expectEachRefused(['SELECT NEXT VALUE FOR rt_seq', 'SELECT NEXTVAL(rt_seq)', 'SELECT SETVAL(rt_seq, 1000)', 'SELECT PREVIOUS VALUE FOR rt_seq', 'SELECT id FROM orders WHERE id = NEXT VALUE FOR rt_seq']);
    });

    it('an allow-listed stored function that takes a named lock leaves no lock behind', async () => {
      await shop('SELECT take_lock()', FNS);
      expect(await lockIsFree('qb_rt_fn_lock')).toBe(true);
    });

    it('a bounded write cannot call a stored function that changes other tables', async () => {
      // One order by its key: under the threshold, it would run at once; the function rewrites every customer.
      const before = await snapshot();
      const r = await shop("UPDATE orders SET status = IF(touch_customers() = 1, status, status) WHERE id = 1", WRITE, 'rt-writer');
      expect(await snapshot(), JSON.stringify(r.body)).toBe(before);
      expect(r.status).not.toBe(200);
    });
  });

  // ===============================================================================================
  // (d) writes through the read profile; writes that need a human through the write profile
  // ===============================================================================================
  describe('a read profile changes nothing', () => {
    const cases: Refusal[] = [
      { name: 'INSERT', sql: 'INSERT INTO orders (customer_id, amount_cents) VALUES (1, 1)', status: 403, code: 'write_on_read_only_profile' },
      { name: 'INSERT … SELECT', sql: 'INSERT INTO orders (customer_id, amount_cents) SELECT customer_id, 0 FROM orders', status: 403, code: 'write_on_read_only_profile' },
      { name: 'INSERT … ON DUPLICATE KEY UPDATE', sql: 'INSERT INTO orders (id, customer_id, amount_cents) VALUES (1, 1, 1) ON DUPLICATE KEY UPDATE amount_cents = 0', status: 403, code: 'write_on_read_only_profile' },
      { name: 'UPDATE', sql: 'UPDATE orders SET amount_cents = 0 WHERE id = 1', status: 403, code: 'write_on_read_only_profile' },
      { name: 'multi-table UPDATE', sql: 'UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.amount_cents = 0', status: 403, code: 'write_on_read_only_profile' },
      { name: 'DELETE', sql: 'DELETE FROM orders WHERE id = 1', status: 403, code: 'write_on_read_only_profile' },
      { name: 'multi-table DELETE', sql: 'DELETE o FROM orders o WHERE o.id > 0', status: 403, code: 'write_on_read_only_profile' },
      { name: 'REPLACE', sql: 'REPLACE INTO orders (id, customer_id, amount_cents) VALUES (1, 1, 1)', status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE TABLE … AS SELECT (copies the PII out)', sql: 'CREATE TABLE stolen AS SELECT * FROM customers', status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE TEMPORARY TABLE', sql: 'CREATE TEMPORARY TABLE t (x int)', status: 403, code: 'write_on_read_only_profile' },
      { name: 'DROP TABLE', sql: 'DROP TABLE orders', status: 403, code: 'write_on_read_only_profile' },
      { name: 'TRUNCATE', sql: 'TRUNCATE TABLE orders', status: 403, code: 'write_on_read_only_profile' },
      { name: 'ALTER TABLE', sql: 'ALTER TABLE orders ADD COLUMN x int', status: 403, code: 'write_on_read_only_profile' },
      { name: 'RENAME TABLE', sql: 'RENAME TABLE orders TO orders_old', status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE VIEW', sql: 'CREATE VIEW v_ssn AS SELECT ssn FROM customers', status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE TRIGGER', sql: "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW SET NEW.status = 'x'", status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE FUNCTION … SONAME (a UDF)', sql: "CREATE FUNCTION sys_exec RETURNS INTEGER SONAME 'lib_mysqludf_sys.so'", status: 403, code: ['write_on_read_only_profile', 'server_level_command'] },
      { name: 'CREATE EVENT', sql: 'CREATE EVENT e ON SCHEDULE EVERY 1 SECOND DO DELETE FROM orders', status: 403, code: 'write_on_read_only_profile' },
      { name: 'GRANT', sql: `GRANT ALL PRIVILEGES ON *.* TO CURRENT_USER`, status: 403, code: 'write_on_read_only_profile' },
      { name: 'CREATE USER', sql: "CREATE USER 'rt_evil'@'%' IDENTIFIED BY 'owned'", status: 403, code: 'write_on_read_only_profile' },
      { name: 'DROP USER', sql: "DROP USER 'root'@'localhost'", status: 403, code: 'write_on_read_only_profile' },
      { name: 'SELECT … FOR UPDATE', sql: 'SELECT id FROM orders WHERE id = 1 FOR UPDATE', status: 403, code: 'write_on_read_only_profile' },
      { name: 'WITH … DELETE (a write behind a CTE)', sql: 'WITH x AS (SELECT 1 AS n) DELETE FROM orders WHERE id IN (SELECT n FROM x)', status: 403, code: 'write_on_read_only_profile' },
      { name: 'SELECT … FOR UPDATE NOWAIT', sql: 'SELECT id FROM orders WHERE id = 1 FOR UPDATE NOWAIT', status: 403, code: 'write_on_read_only_profile' },
      { name: 'SELECT … LOCK IN SHARE MODE', sql: 'SELECT id FROM orders WHERE id = 1 LOCK IN SHARE MODE', status: 403, code: 'write_on_read_only_profile' },
    ];
    for (const c of cases) {
      it(`refuses: ${c.name}`, async () => {
        await expectRefused(c);
      });
    }

    // A statement's own tx_read_only: MariaDB commits a READ ONLY transaction implicitly before DDL,
    // which then runs with the statement's settings; on a login with privileges of its own only the
    // analysis stands in the way. A write (INSERT) stays inside the READ ONLY transaction.
    for (const [name, sql] of [
      ['CREATE TABLE', 'SET STATEMENT tx_read_only=0 FOR CREATE TABLE x (a int)'],
      ['INSERT', 'SET STATEMENT tx_read_only=0 FOR INSERT INTO x (a) VALUES (1)'],
      ['INSERT into an existing table', 'SET STATEMENT tx_read_only=0 FOR INSERT INTO orders (customer_id, amount_cents) VALUES (1, 1)'],
    ] as const) {
      it(`refuses SET STATEMENT tx_read_only=0 FOR ${name} on a read profile, and the table does not exist afterwards`, async () => {
        const [before] = await my.rootQuery<{ n: number }>('select count(*) as n from orders');
        await expectRefused({ name, sql, status: 403, code: 'session_state_change' });
        const tables = await my.rootQuery('select table_name from information_schema.tables where table_schema = ? and table_name = ?', [my.database, 'x']);
        expect(tables).toEqual([]);
        const [after] = await my.rootQuery<{ n: number }>('select count(*) as n from orders');
        expect(Number(after!.n)).toBe(Number(before!.n));
      });
    }
  });

  describe('the write profile: unbounded writes and schema changes wait for a human', () => {
    const held: [string, string, string | string[]][] = [
      ['UPDATE without WHERE', 'UPDATE orders SET amount_cents = 0', 'update_without_where'],
      ['DELETE without WHERE', 'DELETE FROM orders', 'delete_without_where'],
      ['DELETE with an always-true WHERE (over the row threshold)', 'DELETE FROM orders WHERE id > 0 OR 1 = 1', 'estimated_rows_over_threshold'],
      ['CREATE TABLE', 'CREATE TABLE rt_new (x int)', 'ddl_requires_approval'],
      ['DROP TABLE', 'DROP TABLE orders', 'ddl_requires_approval'],
      ['ALTER TABLE', 'ALTER TABLE orders DROP COLUMN status', 'ddl_requires_approval'],
      ['TRUNCATE', 'TRUNCATE TABLE orders', 'truncate'],
      ['CALL a procedure', 'CALL wipe_orders()', 'procedure_call'],
      ['INSERT … SELECT over the threshold', 'INSERT INTO orders (customer_id, amount_cents) SELECT customer_id, 0 FROM orders', ['estimated_rows_over_threshold', 'estimated_rows_unknown']],
      ['REPLACE … SELECT rewriting every order', 'REPLACE INTO orders (id, customer_id, amount_cents, status) SELECT id, customer_id, 0, status FROM orders', ['replace_statement', 'estimated_rows_over_threshold', 'estimated_rows_unknown']],
      ['INSERT … SELECT … ON DUPLICATE KEY UPDATE rewriting every order', 'INSERT INTO orders (id, customer_id, amount_cents) SELECT id, customer_id, 0 FROM orders ON DUPLICATE KEY UPDATE amount_cents = 0', ['estimated_rows_over_threshold', 'estimated_rows_unknown']],
    ];
    for (const [name, sql, code] of held) {
      it(`holds: ${name}`, async () => {
        await expectHeld(sql, code);
      });
    }

    it('a bounded write runs at once (the control)', async () => {
      const r = await shop("UPDATE orders SET status = status WHERE id = 1", WRITE, 'rt-writer');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    const refused: Refusal[] = [
      { name: 'copy an SSN into an unmasked column', sql: 'UPDATE orders SET status = (SELECT ssn FROM customers WHERE id = 1) WHERE id = 1', roles: WRITE, status: 403, code: 'masked_column_in_write' },
      { name: 'copy a card into the e-mail column (weaker masker)', sql: 'UPDATE customers SET email = card_number WHERE id = 1', roles: WRITE, status: 403, code: 'masked_column_in_write' },
      { name: 'INSERT … SELECT a masked value into a new row\'s name', sql: "INSERT INTO customers (name, email, card_number, ssn) SELECT ssn, 'x@example.com', 'x', 'x' FROM customers WHERE id = 1", roles: WRITE, status: 403, code: 'masked_column_in_write' },
      { name: 'UPDATE with a masked WHERE', sql: "UPDATE orders SET status = 'x' WHERE customer_id = (SELECT id FROM customers WHERE ssn = '123-45-6789')", roles: WRITE, status: 403, code: 'masked_column_in_predicate' },
      { name: 'a masked value into an integer column (the truncation error would quote it)', sql: 'INSERT INTO orders (customer_id, amount_cents) VALUES ((SELECT ssn FROM customers WHERE id = 1), 1)', roles: WRITE, status: 403, code: 'masked_column_in_write' },
      { name: 'multi-table UPDATE copying an SSN', sql: 'UPDATE orders o, customers c SET o.status = c.ssn WHERE o.id = 1 AND c.id = 1', roles: WRITE, status: 403, code: 'masked_column_in_write' },
      { name: 'a masked value compared with an integer in a write\'s WHERE (strict mode errors quote it)', sql: 'UPDATE orders SET amount_cents = amount_cents WHERE id = 1 AND customer_id = (SELECT ssn FROM customers WHERE id = 1)', roles: WRITE, status: 403, code: 'masked_column_in_predicate' },
      { name: 'CREATE USER through the write profile', sql: "CREATE USER 'rt_evil'@'%' IDENTIFIED BY 'owned'", roles: WRITE, status: 403, code: ['admin_command_requires_admin_profile', 'privilege_change'] },
    ];
    for (const c of refused) {
      it(`refuses (write token): ${c.name}`, async () => {
        await expectRefused(c);
      });
    }
  });

  // ===============================================================================================
  // (e) masking: inference through predicates and structure is refused
  // ===============================================================================================
  describe('masked values: inference through predicates and structure is refused', () => {
    const cases: Refusal[] = [
      { name: 'WHERE ssn LIKE', sql: "SELECT id FROM customers WHERE ssn LIKE '1%'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'WHERE equality with a bound parameter', sql: 'SELECT id FROM customers WHERE ssn = ?', params: ['123-45-6789'], status: 403, code: 'masked_column_in_predicate' },
      { name: 'WHERE through a view', sql: "SELECT id FROM customer_contacts WHERE card_number LIKE '4%'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'ORDER BY ssn', sql: 'SELECT id FROM customers ORDER BY ssn', status: 403, code: 'masked_column_in_predicate' },
      { name: 'ORDER BY output position', sql: 'SELECT id, card_number FROM customers ORDER BY 2', status: 403, code: 'masked_column_in_predicate' },
      { name: 'ORDER BY an alias of the masked column', sql: 'SELECT id, ssn AS x FROM customers ORDER BY x', status: 403, code: 'masked_column_in_predicate' },
      { name: 'GROUP BY', sql: 'SELECT COUNT(*) FROM customers GROUP BY LEFT(card_number, 1)', status: 403, code: 'masked_column_in_predicate' },
      { name: 'HAVING', sql: "SELECT 1 FROM customers GROUP BY id HAVING MAX(ssn) > '2'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'SELECT DISTINCT', sql: 'SELECT DISTINCT LEFT(card_number, 1) FROM customers', status: 403, code: 'masked_column_in_predicate' },
      { name: 'COUNT(DISTINCT)', sql: 'SELECT COUNT(DISTINCT LEFT(ssn, 1)) FROM customers', status: 403, code: 'masked_column_in_predicate' },
      { name: 'CASE WHEN', sql: "SELECT CASE WHEN ssn LIKE '1%' THEN 1 ELSE 0 END FROM customers", status: 403, code: 'masked_column_in_predicate' },
      { name: 'IF()', sql: "SELECT IF(card_number LIKE '4%', 1, 0) FROM customers", status: 403, code: 'masked_column_in_predicate' },
      { name: 'NULLIF (NULL-ness oracle)', sql: "SELECT NULLIF(LEFT(ssn, 1), '1') FROM customers", status: 403, code: 'masked_column_in_predicate' },
      { name: 'division by a value computed from it (NULL on zero)', sql: 'SELECT 1 / (ASCII(card_number) - 52) FROM customers', status: 403, code: 'masked_column_in_predicate' },
      { name: 'window ORDER BY', sql: 'SELECT id, RANK() OVER (ORDER BY card_number) FROM customers', status: 403, code: 'masked_column_in_predicate' },
      { name: 'GROUP_CONCAT ordered by the e-mail', sql: 'SELECT GROUP_CONCAT(name ORDER BY email) FROM customers', status: 403, code: 'masked_column_in_predicate' },
      { name: 'JOIN ON a masked column', sql: "SELECT a.id FROM customers a JOIN (SELECT '4111111111111111' AS x) v ON a.card_number = v.x", status: 403, code: 'masked_column_in_predicate' },
      { name: 'EXISTS with a masked WHERE', sql: "SELECT EXISTS (SELECT 1 FROM customers WHERE email LIKE 'ada%')", status: 403, code: 'masked_column_in_predicate' },
      { name: 'UNION (not ALL) dedups against a guess', sql: "SELECT ssn FROM customers UNION SELECT '123-45-6789'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'duplicate-entry error through GROUP BY and RAND(0) (allow-listed RAND)', sql: 'SELECT COUNT(*), CONCAT(ssn, FLOOR(RAND(0) * 2)) AS x FROM customers GROUP BY x', roles: RAND, status: 403, code: 'masked_column_in_predicate' },
      { name: 'EXTRACTVALUE XPath error echoing the value', sql: 'SELECT EXTRACTVALUE(1, CONCAT(0x7e, ssn)) FROM customers WHERE id = 1', status: 403, code: ['volatile_function', 'masked_column_in_fallible_expression'] },
      { name: 'UPDATEXML XPath error echoing the value', sql: 'SELECT UPDATEXML(1, CONCAT(0x7e, card_number), 1) FROM customers WHERE id = 1', status: 403, code: ['volatile_function', 'masked_column_in_fallible_expression'] },
      // On the server: a value for SSNs starting with 1 or 2, "DOUBLE value is out of range" from 3 on.
      { name: 'DOUBLE overflow error oracle (POW)', sql: 'SELECT POW(ASCII(ssn) - 40, 300) FROM customers WHERE id = 3', status: 403, code: 'masked_column_in_fallible_expression' },
      { name: 'DOUBLE overflow error (EXP)', sql: 'SELECT EXP(ASCII(ssn) * 15) FROM customers WHERE id = 1', status: 403, code: 'masked_column_in_fallible_expression' },
      // A value for an SSN starting with 1, "BIGINT value is out of range" from 2 on.
      { name: 'BIGINT overflow error oracle', sql: 'SELECT ASCII(ssn) * ASCII(ssn) * 3700000000000000 FROM customers WHERE id = 2', status: 403, code: 'masked_column_in_fallible_expression' },
      { name: 'PROCEDURE ANALYSE (min/max of each column)', sql: 'SELECT ssn, card_number FROM customers PROCEDURE ANALYSE()', status: 403 },
      { name: 'HAVING without GROUP BY on a selected masked column', sql: "SELECT id, ssn FROM customers HAVING ssn LIKE '1%'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'WHERE on a correlated scalar of the value', sql: "SELECT id FROM customers c WHERE (SELECT c.ssn) LIKE '1%'", status: 403, code: 'masked_column_in_predicate' },
      { name: 'WHERE ssn IS NULL', sql: 'SELECT id FROM customers WHERE ssn IS NULL', status: 403, code: 'masked_column_in_predicate' },
      { name: 'WHERE on the value\'s truthiness', sql: 'SELECT id FROM customers WHERE ssn', status: 403, code: 'masked_column_in_predicate' },
      { name: 'a named WINDOW ordered by the value', sql: 'SELECT id, ROW_NUMBER() OVER w AS n FROM customers WINDOW w AS (ORDER BY ssn)', status: 403, code: 'masked_column_in_predicate' },
      { name: 'window PARTITION BY', sql: 'SELECT id, COUNT(*) OVER (PARTITION BY LEFT(ssn, 1)) AS n FROM customers', status: 403, code: 'masked_column_in_predicate' },
      // (the parser does not read ORDER BY inside JSON_ARRAYAGG: refused as a parse error today)
      { name: 'JSON_ARRAYAGG ordered by the value', sql: 'SELECT JSON_ARRAYAGG(id ORDER BY ssn) AS a FROM customers', status: [400, 403], code: ['sql_parse_error', 'masked_column_in_predicate'] },
      { name: 'UNION ALL ordered by the first arm\'s masked column', sql: "SELECT ssn AS s FROM customers UNION ALL SELECT 'x' ORDER BY s", status: 403, code: 'masked_column_in_predicate' },
      { name: 'GROUP BY … WITH ROLLUP', sql: 'SELECT MAX(id) AS m FROM customers GROUP BY ssn WITH ROLLUP', status: 403, code: 'masked_column_in_predicate' },
      { name: 'SELECT DISTINCTROW (DISTINCT by another name)', sql: 'SELECT DISTINCTROW LEFT(ssn, 1) AS d FROM customers', status: [400, 403], code: ['sql_parse_error', 'masked_column_in_predicate'] },
      { name: 'IN (sub-query with a masked WHERE)', sql: "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE ssn LIKE '1%')", status: 403, code: 'masked_column_in_predicate' },
      { name: 'JOIN … USING the masked column with a guess', sql: "SELECT id FROM customers JOIN (SELECT '123-45-6789' AS ssn) g USING (ssn)", status: 403, code: 'masked_column_in_predicate' },
      { name: 'EXPLAIN of a masked predicate', sql: "EXPLAIN SELECT id FROM customers WHERE ssn = '123-45-6789'", status: 403, code: 'masked_column_in_predicate' },
    ];
    for (const c of cases) {
      it(`refuses: ${c.name}`, async () => {
        if (c.name.startsWith('PROCEDURE ANALYSE')) {
          // Refused however it is classified (parse error or policy): the point is no value comes back.
          const before = await snapshot();
          const r = await shop(c.sql);
          expect([400, 403], JSON.stringify(r.body)).toContain(r.status);
          expect(planted(r.body)).toEqual([]);
          expect(await snapshot()).toBe(before);
          return;
        }
        await expectRefused(c);
      });
    }

    it('CAST(ssn AS SIGNED) and ssn + 0 (an error or a warning quoting the value): refused, or the number comes back masked', async () => {
      for (const sql of ['SELECT CAST(ssn AS SIGNED) FROM customers WHERE id = 1', 'SELECT ssn + 0 FROM customers WHERE id = 1', 'SELECT CAST(card_number AS DECIMAL(30, 0)) * 1 FROM customers WHERE id = 1']) {
        const before = await snapshot();
        const r = await shop(sql);
        expect(planted(r.body), sql).toEqual([]);
        expect(JSON.stringify(r.body), sql).not.toMatch(/Truncated|incorrect/i);
        if (r.status === 200) {
          expect(r.body.columns[0].masked, sql).not.toBe(false);
          expect([123, '123', 4111111111111111, '4111111111111111']).not.toContain(r.body.rows[0][0]);
        } else {
          expect(r.status, JSON.stringify(r.body)).toBe(403);
          expect(codesOf(r.body)).toContain('masked_column_in_fallible_expression');
        }
        expect(await snapshot()).toBe(before);
      }
    });
  });

  // ===============================================================================================
  // (f) masking: values that flow to the output come back masked, by origin
  // ===============================================================================================
  describe('masked values: what flows to the output comes back masked', () => {
    // [name, sql, columns that must come back masked, or: the code of a refusal that is as good]
    const cases: [string, string, number[], string?][] = [
      ['alias ssn AS x', 'SELECT ssn AS x FROM customers', [0]],
      ['alias with the name of an unmasked column', 'SELECT ssn AS name, name AS ssn FROM customers', [0]],
      ['the column name in upper case', 'SELECT SSN, Card_Number FROM customers', [0, 1]],
      ['database-qualified table', 'SELECT ssn FROM {db}.customers', [0]],
      ['backticked identifiers', 'SELECT `c`.`ssn` FROM `customers` AS `c`', [0]],
      ['CONCAT(ssn, \'\')', "SELECT CONCAT(ssn, '') FROM customers", [0]],
      ['CONCAT_WS', "SELECT CONCAT_WS('|', ssn, card_number, email) FROM customers", [0]],
      ['GROUP_CONCAT(ssn)', 'SELECT GROUP_CONCAT(ssn) FROM customers', [0]],
      ['GROUP_CONCAT with a separator', "SELECT GROUP_CONCAT(card_number SEPARATOR ' ') FROM customers", [0]],
      ['JSON_OBJECT', "SELECT JSON_OBJECT('a', ssn, 'b', card_number) FROM customers", [0]],
      ['JSON_ARRAY', 'SELECT JSON_ARRAY(email, ssn) FROM customers', [0]],
      ['JSON_ARRAYAGG', 'SELECT JSON_ARRAYAGG(ssn) FROM customers', [0]],
      ['JSON_OBJECTAGG', 'SELECT JSON_OBJECTAGG(id, card_number) FROM customers', [0]],
      ['CAST(ssn AS CHAR)', 'SELECT CAST(ssn AS CHAR) FROM customers', [0]],
      ['CAST(card_number AS CHAR(32))', 'SELECT CAST(card_number AS CHAR(32)) FROM customers', [0], 'masked_column_in_fallible_expression'],
      ['CONVERT(… USING …)', 'SELECT CONVERT(email USING latin1) FROM customers', [0], 'masked_column_in_fallible_expression'],
      ['BINARY ssn', 'SELECT BINARY ssn FROM customers', [0]],
      ['HEX / TO_BASE64', 'SELECT HEX(ssn), TO_BASE64(card_number) FROM customers', [0, 1]],
      ['REVERSE / SUBSTRING / RIGHT', 'SELECT REVERSE(card_number), SUBSTRING(ssn, 1, 3), RIGHT(email, 8) FROM customers', [0, 1, 2]],
      ['REPLACE digits by letters', "SELECT REPLACE(REPLACE(card_number, '1', 'a'), '4', 'd') FROM customers", [0]],
      ['MD5 / SHA2 of the value', 'SELECT MD5(card_number), SHA2(ssn, 256) FROM customers', [0, 1]],
      // (aliased: the server names an expression column by its text, which would repeat the guess)
      ['comparison in the select list', "SELECT ssn = '123-45-6789' AS is_ada FROM customers", [0]],
      ['INSTR in the select list', "SELECT INSTR(card_number, '4111') FROM customers", [0]],
      ['COALESCE / IFNULL', "SELECT COALESCE(ssn, 'x'), IFNULL(card_number, 'y') FROM customers", [0, 1], 'masked_column_in_predicate'],
      ['scalar sub-query', 'SELECT (SELECT ssn FROM customers WHERE id = 1) AS x', [0]],
      ['derived table with a renamed column', 'SELECT x FROM (SELECT ssn AS x FROM customers) t', [0]],
      ['CTE', 'WITH t AS (SELECT card_number AS c FROM customers) SELECT c FROM t', [0]],
      ['recursive CTE carrying the value', 'WITH RECURSIVE r (n, s) AS (SELECT 1, ssn FROM customers WHERE id = 1 UNION ALL SELECT n + 1, s FROM r WHERE n < 2) SELECT s FROM r', [0]],
      ['UNION ALL of two masked columns', 'SELECT ssn FROM customers UNION ALL SELECT card_number FROM customers', [0]],
      ['UNION ALL arm after an unmasked one', 'SELECT name FROM customers UNION ALL SELECT ssn FROM customers', [0]],
      ['UNION ALL inside a derived table', 'SELECT x FROM (SELECT name AS x FROM customers UNION ALL SELECT email FROM customers) t', [0]],
      ['SELECT *', 'SELECT * FROM customers', [2, 3, 4]],
      ['SELECT c.* with a join', 'SELECT c.*, o.amount_cents FROM customers c JOIN orders o ON o.customer_id = c.id', [2, 3, 4]],
      ['a view over customers', 'SELECT * FROM customer_contacts', [2, 3, 4]],
      ['a view, aliased', 'SELECT ssn AS s, card_number AS n FROM customer_contacts v', [0, 1]],
      ['lag() window value', 'SELECT id, LAG(card_number) OVER (ORDER BY id) FROM customers', [1]],
      ['MAX / MIN of the value', 'SELECT MAX(ssn), MIN(card_number) FROM customers', [0, 1]],
      ['a bound parameter in the select list next to it', 'SELECT ?, ssn FROM customers', [1]],
      ['a view column computed from the masked one', 'SELECT tag, contact FROM customer_tags', [0, 1]],
      ['|| (logical OR by default, CONCAT under PIPES_AS_CONCAT)', "SELECT ssn || '' AS x FROM customers", [0], 'masked_column_in_predicate'],
      // (a collation of another character set fails on the server: its message is withheld)
      ['COLLATE', 'SELECT ssn COLLATE utf8mb4_bin AS x FROM customers', [0], 'query_failed'],
      ['SUM of a comparison counts the matches', "SELECT SUM(ssn = '123-45-6789') AS hits FROM customers", [0], 'masked_column_in_fallible_expression'],
      ['AVG of a character code', 'SELECT AVG(ASCII(card_number)) AS a FROM customers', [0], 'masked_column_in_fallible_expression'],
      ['FIRST_VALUE window', 'SELECT FIRST_VALUE(ssn) OVER (ORDER BY id) AS f FROM customers', [0]],
      ['correlated scalar sub-query', 'SELECT (SELECT c.ssn) AS s FROM customers c', [0]],
      ['a derived table named like an unmasked table', 'SELECT orders.ssn FROM (SELECT ssn FROM customers) AS orders', [0]],
      ['a CTE shadowing a real table and column name', 'WITH orders AS (SELECT ssn AS status FROM customers) SELECT status FROM orders', [0]],
      ['GROUP_CONCAT(DISTINCT …)', 'SELECT GROUP_CONCAT(DISTINCT LEFT(ssn, 3)) AS g FROM customers', [0], 'masked_column_in_predicate'],
      ['REPEAT of the value', 'SELECT REPEAT(ssn, 100000) AS r FROM customers', [0], 'masked_column_in_fallible_expression'],
      ['IN list in the select list', "SELECT ssn IN ('123-45-6789') AS x FROM customers", [0], 'masked_column_in_predicate'],
      ['REGEXP in the select list', "SELECT ssn REGEXP '^1' AS x FROM customers", [0], 'masked_column_in_fallible_expression'],
      ['STRCMP against a guess', "SELECT STRCMP(ssn, '2') AS x FROM customers", [0]],
      ['GREATEST / LEAST against a guess', "SELECT GREATEST(ssn, '2') AS g, LEAST(card_number, '5') AS l FROM customers", [0, 1], 'masked_column_in_predicate'],
      ['COUNT of a value that is NULL unless a guess holds', "SELECT COUNT(ELT(ASCII(card_number) - 51, 'x')) AS n FROM customers", [0], 'masked_column_in_predicate'],
      ['JSON_TABLE over the value (a table function the server names as its own origin)', "SELECT jt.x FROM customers c, JSON_TABLE(JSON_ARRAY(c.ssn), '$[*]' COLUMNS (x VARCHAR(20) PATH '$')) AS jt", [0], 'sql_parse_error'],
      ['a string literal as the alias', "SELECT ssn 'x', card_number \"y\" FROM customers", [0, 1]],
      ['a parenthesised and a unary-plus column', 'SELECT (ssn) AS p, +card_number AS q FROM customers', [0, 1], 'masked_column_in_fallible_expression'],
      ['SELECT modifiers (HIGH_PRIORITY, SQL_NO_CACHE, STRAIGHT_JOIN)', 'SELECT HIGH_PRIORITY SQL_NO_CACHE STRAIGHT_JOIN ssn FROM customers', [0], 'sql_parse_error'],
      ['comments between every token', 'SELECT/**/ssn/**/FROM/**/customers', [0]],
      ['FIELD() position of a guess', "SELECT FIELD(ssn, '123-45-6789', '234-56-7890') AS pos FROM customers", [0], 'masked_column_in_fallible_expression'],
      ['CHAR_LENGTH of the value', 'SELECT CHAR_LENGTH(email) FROM customers', [0]],
      ['derived table of SELECT *', 'SELECT * FROM (SELECT * FROM customers) AS t', [2, 3, 4]],
    ];
    for (const [name, sql, masked, refusal] of cases) {
      it(`masks${refusal ? ' or refuses' : ''}: ${name}`, async () => {
        if (refusal) {
          await expectMaskedOrRefused(sql, masked, refusal);
          return;
        }
        if (name.startsWith('a bound parameter')) {
          const before = await snapshot();
          const r = await shop(sql, READ, 'rt-agent', ['x']);
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          expect(planted(r.body)).toEqual([]);
          expect(r.body.columns[1].masked).not.toBe(false);
          expect(await snapshot()).toBe(before);
          return;
        }
        await expectMasked(sql, masked);
      });
    }

    it('NULL-ness of a value derived from a masked column does not vary between rows (one bit per cell otherwise)', async () => {
      // Each expression is NULL for some customers and not for others (ELT out of range; UNHEX of a
      // non-hex letter; FROM_BASE64 of invalid text): "[redacted]" next to null would tell them apart.
      for (const expr of ["ELT(ASCII(card_number) - 51, 'x')", "UNHEX(CONCAT(LEFT(email, 1), '0'))", 'FROM_BASE64(LEFT(email, 4))', "ELT(ASCII(ssn) - 48, 'a', 'b')"]) {
        const r = await shop(`SELECT id, ${expr} AS p FROM customers ORDER BY id`);
        expect(planted(r.body), expr).toEqual([]);
        if (r.status !== 200) {
          expect(r.status, `${expr}: ${JSON.stringify(r.body)}`).toBe(403);
          continue;
        }
        expect(r.body.columns[1].masked, expr).not.toBe(false);
        const cells = new Set((r.body.rows as unknown[][]).map((row) => JSON.stringify(row[1])));
        expect(cells.size, `${expr}: ${JSON.stringify(r.body.rows)}`).toBe(1);
      }
    });

    it('masks with the column\'s own masker on the plain column, whatever the alias', async () => {
      const body = await expectMasked('SELECT card_number AS x, email AS y, ssn AS z FROM customers WHERE id = 1', [0, 1, 2]);
      expect(body.columns.map((c: { masked: string }) => c.masked)).toEqual(['last4', 'email', 'redact']);
      expect(body.rows[0][0]).toMatch(/1111$/);
      expect(body.rows[0][1]).toMatch(/@example\.com$/);
    });

    it('the audit record of a masked read holds only masked values', async () => {
      const r = await shop('SELECT id, email, card_number, ssn FROM customers', READ, 'rt-audit');
      expect(r.status).toBe(200);
      const records = await b.audit.read(r.body.sessionId);
      expect(records.length).toBeGreaterThan(0);
      expect(planted(records)).toEqual([]);
    });

    it('the schema of shop flags the masked columns', async () => {
      const res = await b.fetch('/api/connections/shop/schema', { headers: { authorization: await bearer(READ, 'rt-agent') } });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(planted(text)).toEqual([]);
      const body = JSON.parse(text) as { tables: { name: string; columns: { name: string; masked: string | false }[] }[] };
      const masked = (table: string, column: string) => body.tables.find((t) => t.name === table)?.columns.find((c) => c.name === column)?.masked;
      expect(masked('customers', 'ssn')).toBe('redact');
      expect(masked('customers', 'name')).toBe(false);
      // views: by what their columns are computed from
      expect(masked('customer_contacts', 'card_number')).not.toBe(false);
      expect(masked('customer_tags', 'tag')).not.toBe(false);
      expect(masked('customer_tags', 'contact')).not.toBe(false);
    });

    it('content detectors mask a card number stored in an unmasked text column', async () => {
      await my.rootQuery("update orders set status = '4111111111111111' where id = 10");
      try {
        const r = await shop('SELECT id, status FROM orders WHERE id = 10');
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(planted(r.body)).toEqual([]);
      } finally {
        await my.rootQuery("update orders set status = 'open' where id = 10");
      }
    });
  });

  // ===============================================================================================
  // (g) database errors quoting a planted value
  // ===============================================================================================
  describe('database errors do not carry planted values', () => {
    it('a runtime error with a masked column in reach answers 422 with no value', async () => {
      const before = await snapshot();
      const r = await shop('SELECT ssn, card_number, POW(10, 400) FROM customers WHERE id = 1');
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(planted(r.body)).toEqual([]);
      expect(await snapshot()).toBe(before);
    });

    it('tables that hold other rows\' values (statistics, process lists) leak nothing', async () => {
      // Column statistics (min/max of each column) exist once someone ran ANALYZE … PERSISTENT.
      await my.rootQuery('analyze table customers persistent for all');
      for (const sql of [
        'SELECT min_value, max_value FROM mysql.column_stats',
        'SELECT info FROM information_schema.processlist',
        "SELECT * FROM information_schema.statistics WHERE table_name = 'customers'",
      ]) {
        const before = await snapshot();
        const logsBefore = b.logs.length;
        const r = await shop(sql);
        expect(planted(r.body), sql).toEqual([]);
        expect(planted(b.logs.slice(logsBefore).join('\n')), sql).toEqual([]);
        expect(await snapshot()).toBe(before);
      }
    });

    it('a duplicate-key error quoting an existing e-mail is sanitized (write profile)', async () => {
      const before = await snapshot();
      const logsBefore = b.logs.length;
      // The statement never spells the value: the server builds it and quotes it in "Duplicate entry".
      const r = await shop("UPDATE customers SET email = REVERSE('moc.elpmaxe@ada') WHERE id = 2", WRITE, 'rt-writer');
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(planted(r.body)).toEqual([]);
      expect(planted(b.logs.slice(logsBefore).join('\n'))).toEqual([]);
      expect(await snapshot()).toBe(before);
    });

    it('a truncation error of an approved ALTER quoting an SSN is sanitized in the request status and the logs', async () => {
      const logsBefore = b.logs.length;
      const held = await expectHeld('ALTER TABLE customers MODIFY ssn INT', 'ddl_requires_approval');
      const approver = await bearer(APPROVE, 'rt-human', 'user');
      const d = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { authorization: approver, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', sqlHash: held.sqlHash }),
      });
      expect(d.status, await d.clone().text()).toBe(200);
      const done = await pollStatus(held.requestId, await bearer(WRITE, 'rt-writer'), (s) => s === 'executed' || s === 'failed');
      expect(planted(done)).toEqual([]);
      expect(planted(b.logs.slice(logsBefore).join('\n'))).toEqual([]);
      // strict mode: the ALTER fails on '123-45-6789' and the column keeps its type and values
      expect(done.state).toBe('failed');
      const rows = await my.rootQuery<{ ssn: string }>('select ssn from customers order by id');
      expect(rows.map((x) => x.ssn)).toEqual(DEMO_SSNS);
    });
  });

  // ===============================================================================================
  // (h) caps and time limits
  // ===============================================================================================
  describe('row, byte and time caps', () => {
    it('cuts a result at the profile\'s row cap and says so', async () => {
      const r = await shop('SELECT id FROM orders', TIGHT);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.rows).toHaveLength(5);
      expect(r.body.truncated).toBe(true);
    });

    it('an explicit LIMIT above the cap does not lift it', async () => {
      const r = await shop('SELECT id FROM orders LIMIT 1000000', TIGHT);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.rows.length).toBeLessThanOrEqual(5);
      expect(r.body.truncated).toBe(true);
    });

    it('cuts a result at the profile\'s byte cap and says so', async () => {
      const r = await shop("SELECT REPEAT('x', 900) AS pad FROM orders", TIGHT);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.truncated).toBe(true);
      expect(r.body.rows.length).toBeLessThan(3);
    });

    it('a single row over the byte cap answers 422, and the next read works', async () => {
      const r = await shop("SELECT REPEAT('x', 200000) AS big", TIGHT);
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      const next = await shop('SELECT id FROM orders ORDER BY id LIMIT 2', TIGHT);
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      expect(next.body.rows).toEqual([[1], [2]]);
    });

    it('a heavy cross join of information_schema is cancelled at the statement time limit (408) and stops on the server', async () => {
      const started = performance.now();
      const r = await shop(
        'SELECT COUNT(*) AS qb_rt_heavy FROM information_schema.columns a, information_schema.columns b, information_schema.columns c',
        TIGHT,
      );
      const ms = performance.now() - started;
      expect(r.status, JSON.stringify(r.body)).toBe(408);
      expect(r.body.error.code).toBe('query_timeout');
      expect(ms).toBeLessThan(10_000);
      // Nothing of it keeps running on the server.
      expect(await stillRunning('qb_rt_heavy')).toBe(0);
    });

    it('the time limit holds after every SET refused above (a read of 3 s is cut at 1 s)', async () => {
      // SLEEP is refused, so burn time with a join instead: the session must still carry the profile's limit.
      const r = await shop('SELECT COUNT(*) AS qb_rt_heavy2 FROM information_schema.columns a, information_schema.columns b, information_schema.collations c', TIGHT);
      expect(r.status, JSON.stringify(r.body)).toBe(408);
    });
  });

  describe('MariaDB specials: compound statements, diagnostics of earlier statements, runaway recursion, lock waits', () => {
    it('refuses BEGIN NOT ATOMIC … END (procedural code outside a stored program)', async () => {
      await expectEachRefused(['BEGIN NOT ATOMIC DELETE FROM orders; END', 'BEGIN NOT ATOMIC SELECT 1; END', 'BEGIN NOT ATOMIC END']);
    });

    it('warnings and errors of earlier statements (which quote values) cannot be read back', async () => {
      // The server words them "Truncated incorrect INTEGER value: '123-45-6789'"; they stay in the
      // session's diagnostics area until the next statement that touches a table.
      await shop('SELECT CAST(ssn AS SIGNED) FROM customers WHERE id = 1');
      await shop('SELECT ssn + 0 FROM customers');
      for (const sql of ['SHOW WARNINGS', 'SHOW ERRORS', 'SHOW COUNT(*) WARNINGS', 'SELECT @@warning_count AS w', 'GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT']) {
        const logsBefore = b.logs.length;
        const r = await shop(sql);
        expect(planted(r.body), sql).toEqual([]);
        expect(JSON.stringify(r.body), sql).not.toMatch(/Truncated incorrect/);
        expect(planted(b.logs.slice(logsBefore).join('\n')), sql).toEqual([]);
      }
    });

    it('a runaway recursive CTE is bounded (recursion limit or time limit) and leaves nothing running', async () => {
      const started = performance.now();
      const r = await shop('WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) SELECT COUNT(*) AS qb_rt_runaway FROM r', TIGHT);
      // MariaDB stops recursion at max_recursive_iterations (1000 by default): a short answer is as bounded as a 408.
      expect([200, 408, 422], JSON.stringify(r.body)).toContain(r.status);
      if (r.status === 200) expect(Number(r.body.rows[0][0])).toBeLessThan(1_000_000_000);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(await stillRunning('qb_rt_runaway')).toBe(0);
    });

    it('a write that waits for a row lock gives up at the lock timeout, changes nothing and frees its connection', async () => {
      const holder = await mysql.createConnection(my.url);
      try {
        await holder.query('START TRANSACTION');
        await holder.query('SELECT id FROM orders WHERE id = 5 FOR UPDATE');
        const before = await snapshot();
        const started = performance.now();
        const r = await shop("UPDATE orders SET status = 'held' WHERE id = 5", WRITE, 'rt-writer');
        const ms = performance.now() - started;
        expect(r.status, JSON.stringify(r.body)).not.toBe(200);
        expect([408, 409, 422, 503]).toContain(r.status);
        expect(ms).toBeLessThan(10_000);
        expect(await snapshot()).toBe(before);
      } finally {
        await holder.query('ROLLBACK').catch(() => {});
        await holder.end();
      }
      const after = await shop("UPDATE orders SET status = status WHERE id = 5", WRITE, 'rt-writer');
      expect(after.status, JSON.stringify(after.body)).toBe(200);
    });
  });

  describe('approvals on MySQL', () => {
    it('a dry run of an unbounded DELETE says it would need approval and runs nothing', async () => {
      const before = await snapshot();
      const r = await b.query({ connection: 'shop', sql: 'DELETE FROM orders', dryRun: true }, WRITE, 'rt-writer');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.decision).toBe('would_need_approval');
      expect(r.body.executed).toBe(false);
      expect(await snapshot()).toBe(before);
    });

    it('a wrong hash, self-approval and an agent token cannot approve; the approved statement runs exactly', async () => {
      const before = await snapshot();
      const held = await expectHeld('UPDATE orders SET status = status', 'update_without_where');
      const self = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { authorization: await bearer([...WRITE, ...APPROVE], 'rt-writer', 'user'), 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', sqlHash: held.sqlHash }),
      });
      expect(self.status).toBe(403);
      const agent = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { authorization: await bearer(APPROVE, 'rt-agent-approver', 'app'), 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', sqlHash: held.sqlHash }),
      });
      expect(agent.status).toBe(403);
      const human = await bearer(APPROVE, 'rt-human-2', 'user');
      const wrong = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { authorization: human, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', sqlHash: '0'.repeat(64) }),
      });
      expect(wrong.status).toBe(409);
      expect(await snapshot()).toBe(before);
      const ok = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { authorization: human, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', sqlHash: held.sqlHash }),
      });
      expect(ok.status, await ok.clone().text()).toBe(200);
      const done = await pollStatus(held.requestId, await bearer(WRITE, 'rt-writer'), (st) => st === 'executed' || st === 'failed');
      expect(done.state, JSON.stringify(done)).toBe('executed');
      expect(done.sqlHash).toBe(held.sqlHash);
      // status = status: every row rewritten with its own value
      expect(await snapshot()).toBe(before);
    });
  });

  describe('a write\'s RETURNING and bound parameters', () => {
    it('RETURNING a masked value from an allowed write comes back masked (or is refused)', async () => {
      const logsBefore = b.logs.length;
      const r = await shop('INSERT INTO orders (customer_id, amount_cents) VALUES (1, 7) RETURNING id, (SELECT ssn FROM customers WHERE id = 1) AS s', WRITE, 'rt-writer');
      expect(planted(r.body)).toEqual([]);
      expect(planted(b.logs.slice(logsBefore).join('\n'))).toEqual([]);
      if (r.status === 200) expect(r.body.columns[1].masked).not.toBe(false);
      else expect([403], JSON.stringify(r.body)).toContain(r.status);
    });

    it('a ? inside a string, a comment or a quoted name is not a placeholder; the parameter binds as one value', async () => {
      const payload = "' , (SELECT ssn FROM customers WHERE id = 1) , '";
      const r = await shop("SELECT '?' AS a, `?` AS b, ? AS c /* ? */ FROM (SELECT 1 AS `?`) t # ?\n", READ, 'rt-agent', [payload]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.rows).toEqual([['?', 1, payload]]);
      expect(planted(r.body)).toEqual([]);
    });

    it('a parameter cannot close its string (quotes, backslashes, NUL, a multi-byte lead byte)', async () => {
      for (const p of ["\\' OR 1=1 -- ", '\\', "\u00bf' UNION SELECT ssn FROM customers -- ", "x\u0000' OR '1'='1"]) {
        const r = await shop('SELECT id FROM customers WHERE name = ?', READ, 'rt-agent', [p]);
        // (a NUL may be refused as an invalid request; otherwise the value matches no name)
        expect([200, 400], JSON.stringify(r.body)).toContain(r.status);
        if (r.status === 200) expect(r.body.rows).toEqual([]);
        expect(planted(r.body)).toEqual([]);
      }
    });

    it('a parameter stays one value after a "-- " comment holding a quote (the control for open finding M2)', async () => {
      const payload = ' AS a2, (SELECT HEX(GROUP_CONCAT(ssn SEPARATOR 0x7c)) FROM customers) AS leak #';
      const r = await shop("SELECT 1 AS a -- '\n, '?' AS b, ? AS c", READ, 'rt-agent', [payload]);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.rows).toEqual([[1, '?', payload]]);
    });

    it('refuses parameters that would expand into several values or col = value pairs, and a count that does not match', async () => {
      for (const params of [[[1, 2]], [{ id: 1 }], [1, 2], []]) {
        const r = await shop('SELECT id FROM orders WHERE id = ?', READ, 'rt-agent', params as unknown[]);
        expect(r.status, `${JSON.stringify(params)}: ${JSON.stringify(r.body)}`).toBe(400);
      }
    });
  });

  // ===============================================================================================
  // FINDINGS of the red team: each asserts the secure behaviour and failed on the code it was found
  // in; both are fixed and run as regression tests.
  // ===============================================================================================
  describe('FINDINGS', () => {
    it('M2 (critical, fixed): a parameter is spliced into the SQL as code: "--" + DEL is a comment to the server and the analysis, not to the binder', async () => {
      // The server (and the analysis, lexer.ts) read "--\x7f" as a comment, so the quote after it is
      // commented out and '?' on the next line is a string. The binder (execute.ts bindMysqlParams:
      // placeholderPositions) does not: it opens a string at that quote, takes the ? inside '?' for
      // the placeholder and puts the escaped parameter between two string literals, where the server
      // reads it as SQL. The analysis saw "SELECT 1 AS a, '?' AS b, ? AS c"; the server ran
      // "SELECT 1 AS a, ' ' AS a2, (SELECT HEX(GROUP_CONCAT(ssn …)) FROM customers) AS leak".
      // Today: 200 with every SSN, hex-encoded, unmasked (the plan masks nothing it did not see).
      const sql = "SELECT 1 AS a --\x7f '\n, '?' AS b, ? AS c";
      const payload = ' AS a2, (SELECT HEX(GROUP_CONCAT(ssn SEPARATOR 0x7c)) FROM customers) AS leak #';
      const before = await snapshot();
      const r = await shop(sql, READ, 'rt-agent', [payload]);
      const hexes = JSON.stringify(r.body).match(/[0-9A-F]{40,}/g) ?? [];
      const decoded = hexes.map((h) => Buffer.from(h, 'hex').toString('latin1')).join('|');
      expect(planted(decoded), JSON.stringify(r.body)).toEqual([]);
      expect(planted(r.body)).toEqual([]);
      if (r.status === 200) expect(r.body.rows).toEqual([[1, '?', payload]]);
      expect(await snapshot()).toBe(before);
    });

    it('M1 (fixed): a one-row REPLACE (a delete and an insert of an existing order) waits for a human', async () => {
      // The issue lists REPLACE among the statements that wait for a human; it ran at once (rowCount 2:
      // the old row deleted, the new one inserted) when its estimate was under the threshold.
      const body = await expectHeld('REPLACE INTO orders (id, customer_id, amount_cents) VALUES (2, 1, 1)', 'replace_statement');
      expect(body.reasons.map((r: { code: string }) => r.code)).toContain('replace_statement');
      await expectHeld('REPLACE INTO orders SET id = 2, customer_id = 1, amount_cents = 1', 'replace_statement');
    });
  });

  describe('every attack above', () => {
    it('left no planted value in any broker log line, and no lock held', async () => {
      expect(planted(b.logs.join('\n'))).toEqual([]);
      for (const l of ['qb_rt_lock', 'qb_rt_do', 'qb_rt_fn_lock']) expect(await lockIsFree(l)).toBe(true);
    });
  });
});
