/**
 * Red team: a hostile agent with a valid read or write token, an outsider with no token and a
 * malicious approver, against a real broker on a real socket with its own seeded demo database.
 *
 * Attacks the broker refuses are ordinary tests that assert the refusal AND its effect: no
 * planted value in the body or the logs, the database unchanged. Holes found are demonstrated in
 * the `OPEN FINDINGS` block (skipped so the suite stays green): each test asserts the secure
 * behaviour and FAILS today; remove `.skip` to see it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, createSign } from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { APPROVE, codesOf, DEMO_PLANTED, READ, redTeam, WRITE } from '../helpers/redteam.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => b?.close());

/** A digest of every row of every demo table, read as the superuser. */
async function snapshot(): Promise<string> {
  const r = await b.db.query<{ c: string; o: string }>(
    `select (select md5(string_agg(t::text, '|' order by id)) from customers t) as c,
            (select md5(string_agg(t::text, '|' order by id)) from orders t) as o`,
  );
  return `${r.rows[0]!.c}/${r.rows[0]!.o}`;
}

const rt = redTeam({ broker: () => b, snapshot, planted: DEMO_PLANTED });
const { planted, bearer } = rt;

async function jsonFetch(path: string, init: RequestInit & { auth?: string } = {}): Promise<{ status: number; body: any; text: string }> {
  const headers = new Headers(init.headers);
  if (init.auth) headers.set('authorization', init.auth);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await b.fetch(path, { ...init, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* html or empty */
  }
  return { status: res.status, body, text };
}

interface Refusal {
  name: string;
  sql: string;
  roles?: string[];
  /** expected HTTP status */
  status: number;
  /** a reason code (or error code) the refusal must carry */
  code?: string;
  params?: unknown[];
}

/** Send an attack; assert it is refused as expected, nothing planted came back, the database is unchanged. */
async function expectRefused(a: Refusal): Promise<any> {
  const send = () => b.query({ connection: 'sales', sql: a.sql, ...(a.params ? { params: a.params } : {}) }, a.roles ?? READ, 'rt-agent');
  const r = await rt.attack(send, (r) => {
    expect(r.status, JSON.stringify(r.body)).toBe(a.status);
    if (a.code) expect(codesOf(r.body), JSON.stringify(r.body)).toContain(a.code);
  });
  return r.body;
}

/** Send an attack that is allowed to run but must come back masked; the database is unchanged. */
async function expectMasked(sql: string, roles: string[] = READ): Promise<any> {
  const send = () => b.query({ connection: 'sales', sql }, roles, 'rt-agent');
  const r = await rt.attack(send, (r) => expect(r.status, JSON.stringify(r.body)).toBe(200), { logs: false });
  return r.body;
}

async function decide(requestId: string, body: Record<string, unknown>, auth: string, extra: Record<string, string> = {}) {
  return jsonFetch(`/api/approvals/${requestId}`, { method: 'POST', auth, headers: extra, body: JSON.stringify(body) });
}

async function pollStatus(requestId: string, auth: string, until: (s: string) => boolean): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const r = await jsonFetch(`/api/requests/${requestId}`, { auth });
    if (r.status === 200 && until(r.body.state)) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`request ${requestId} never reached the expected state`);
}

// =================================================================================================
// (a) reading a masked value: refused
// =================================================================================================

describe('masked values: inference through predicates and structure is refused', () => {
  const cases: Refusal[] = [
    { name: 'WHERE equality on a card', sql: "select id from customers where card_number = '4111111111111111'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'WHERE with a bound parameter', sql: 'select id from customers where ssn = $1', params: ['123-45-6789'], status: 403, code: 'masked_column_in_predicate' },
    { name: 'LIKE prefix probe', sql: "select count(*) from customers where card_number like '4%'", status: 403, code: 'masked_column_in_predicate' },
    { name: '= ANY(array)', sql: "select id from customers where card_number = any(array['4111111111111111'])", status: 403, code: 'masked_column_in_predicate' },
    { name: 'function-call equality hidden in AND', sql: "select * from customers where id = 1 and pg_catalog.texteq(card_number, '4111111111111111')", status: 403, code: 'masked_column_in_predicate' },
    { name: 'ORDER BY a masked column', sql: 'select id from customers order by ssn', status: 403, code: 'masked_column_in_predicate' },
    { name: 'ORDER BY output position', sql: 'select id, card_number from customers order by 2', status: 403, code: 'masked_column_in_predicate' },
    { name: 'GROUP BY ROLLUP', sql: 'select count(*) from customers group by rollup (substr(card_number, 1, 1))', status: 403, code: 'masked_column_in_predicate' },
    { name: 'GROUPING SETS', sql: 'select count(*) from customers group by grouping sets ((email), ())', status: 403, code: 'masked_column_in_predicate' },
    { name: 'HAVING', sql: "select 1 from customers group by id having max(ssn) > '2'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'DISTINCT ON', sql: 'select distinct on (substr(card_number,1,1)) id from customers', status: 403, code: 'masked_column_in_predicate' },
    { name: 'SELECT DISTINCT over a masked column', sql: 'select distinct substr(card_number, 1, 1) from customers', status: 403, code: 'masked_column_in_predicate' },
    { name: 'window PARTITION BY', sql: 'select id, count(*) over (partition by substr(card_number,1,1)) from customers', status: 403, code: 'masked_column_in_predicate' },
    { name: 'window ORDER BY (rank)', sql: 'select id, rank() over (order by card_number) from customers', status: 403, code: 'masked_column_in_predicate' },
    { name: 'aggregate FILTER', sql: "select count(*) filter (where ssn like '1%') from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'aggregate ORDER BY (array_agg of ids in card order)', sql: 'select array_agg(id order by card_number) from customers', status: 403, code: 'masked_column_in_predicate' },
    { name: 'string_agg ordered by the email', sql: "select string_agg(name, ',' order by email) from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'CASE WHEN on a masked column', sql: "select case when card_number like '4%' then 1 else 0 end from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'NULLIF', sql: "select nullif(substr(ssn,1,1), '1') from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'division by a value computed from it', sql: "select 1 / (ascii(card_number) - 52) from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'failing cast to int', sql: 'select card_number::bigint from customers', status: 403, code: 'masked_column_in_fallible_expression' },
    { name: 'boolean cast to int', sql: "select (card_number = '4111111111111111')::int from customers", status: 403, code: 'masked_column_in_fallible_expression' },
    { name: 'cast to bytea for encode()', sql: "select encode(card_number::bytea, 'hex') from customers", status: 403, code: 'masked_column_in_fallible_expression' },
    { name: 'parsing function (to_number)', sql: "select to_number(ssn, '999-99-9999') from customers", status: 403, code: 'masked_column_in_fallible_expression' },
    { name: 'JSON parse of the value', sql: "select ('\"' || email || '\"')::jsonb from customers", status: 403, code: 'masked_column_in_fallible_expression' },
    { name: 'generate_series row count', sql: 'select count(*) from customers c, generate_series(1, ascii(c.card_number)) g', status: 403, code: 'masked_column_in_predicate' },
    { name: 'set-returning regexp_matches', sql: "select regexp_matches(card_number, '^4') from customers", status: 403, code: 'masked_column_in_predicate' },
    { name: 'LATERAL sub-query filter', sql: "select c.id from customers c cross join lateral (select 1 where c.ssn like '1%') s", status: 403, code: 'masked_column_in_predicate' },
    { name: 'EXISTS with a masked WHERE', sql: "select exists (select 1 from customers where email like 'ada%')", status: 403, code: 'masked_column_in_predicate' },
    { name: 'scalar sub-query in LIMIT', sql: 'select id from orders limit (select ascii(card_number) from customers where id = 1)', status: 403, code: 'masked_column_in_predicate' },
    { name: 'INTERSECT with a guess', sql: "select card_number from customers intersect select '4111111111111111'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'EXCEPT with a guess', sql: "select ssn from customers except select '123-45-6789'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'UNION (not ALL) dedups', sql: "select card_number from customers union select '4111111111111111'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'JOIN ON a masked column', sql: "select a.id from customers a join (values ('4111111111111111')) v(x) on a.card_number = v.x", status: 403, code: 'masked_column_in_predicate' },
    { name: 'JOIN USING a masked column', sql: 'select id from customers a join customers b using (card_number)', status: 403, code: 'masked_column_in_predicate' },
    { name: 'recursive CTE walking the value', sql: "with recursive r(n, s) as (select 1, card_number from customers where id = 1 union all select n + 1, s from r where substr(s, n, 1) = '4' and n < 20) select max(n) from r", status: 403, code: 'masked_column_in_predicate' },
    { name: 'TABLESAMPLE seeded by the value', sql: 'select id from customers tablesample bernoulli (50) repeatable (length(card_number))', status: 403, code: 'masked_column_in_predicate' },
    { name: 'pg_stats most_common_vals of a masked column', sql: "select most_common_vals::text from pg_stats where tablename = 'customers' and attname = 'card_number'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'pg_stats histogram bounds filtered by text', sql: "select 1 from pg_catalog.pg_stats where histogram_bounds::text like '%123-45%'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'pg_stats_ext', sql: "select * from pg_stats_ext where statistics_name = 'x'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'query_to_xml runs SQL given as text', sql: "select query_to_xml('select card_number from customers', true, false, '')", status: 403, code: 'sql_string_function' },
    { name: 'pg_read_file', sql: "select pg_read_file('/etc/passwd')", status: 403, code: 'server_file_access' },
    { name: 'EXPLAIN of a masked predicate', sql: "explain select * from customers where card_number = '4111111111111111'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'EXPLAIN ANALYZE of a masked predicate', sql: "explain analyze select * from customers where ssn = '123-45-6789'", status: 403, code: 'masked_column_in_predicate' },
    { name: 'cursor (DECLARE)', sql: 'declare c cursor for select card_number from customers', status: 403, code: 'session_state_change' },
    { name: 'PREPARE hides the statement', sql: 'prepare p as select card_number from customers', status: 403, code: 'session_state_change' },
    { name: 'COPY', sql: 'copy (select card_number from customers) to stdout', status: 403, code: 'copy_statement' },
    { name: 'current_query() echoes statements', sql: 'select pg_catalog.current_query()', status: 403, code: 'volatile_function' },
    // JSON access is NULL where a key is absent: on masked documents it would branch on the value.
    { name: 'to_jsonb ->> field', sql: "select to_jsonb(c) ->> 'card_number' from customers c", status: 403, code: 'masked_column_in_fallible_expression' },
    // Collecting computed values over rows the agent can multiply: the 1 GB limit would measure them.
    { name: 'xmlagg of xmlelement', sql: 'select xmlagg(xmlelement(name a, card_number)) from customers', status: 403, code: 'masked_column_in_fallible_expression' },
    // Its memory, time and row figures depend on the masked values the run touches.
    { name: 'EXPLAIN ANALYZE of a read with masked columns', sql: 'explain (analyze, verbose) select card_number from customers', status: 403, code: 'masked_column_in_fallible_expression' },
  ];
  for (const c of cases) {
    it(`refuses: ${c.name}`, async () => {
      await expectRefused(c);
    });
  }
});

describe('masked values: values that flow to the output come back masked', () => {
  const cases: [string, string][] = [
    ['plain select', 'select id, email, card_number, ssn from customers order by id'],
    ['select *', 'select * from customers'],
    ['TABLE customers', 'table customers'],
    ['row_to_json of the row', 'select row_to_json(c) from customers c'],
    ['column notation c.row_to_json', 'select c.row_to_json from customers c'],
    ['json_agg of rows', 'select json_agg(c) from customers c'],
    ['array_agg / string_agg', "select array_agg(ssn), string_agg(email, ',') from customers"],
    ['xmlforest', 'select xmlforest(card_number, ssn) from customers'],
    ['format()', "select format('%s|%s', card_number, ssn) from customers"],
    ['md5 / sha256 of the value', 'select md5(card_number), sha256(convert_to(ssn, \'UTF8\')) from customers'],
    ['translate digits to letters', "select translate(card_number, '0123456789', 'abcdefghij') from customers"],
    ['reverse / substrings', 'select reverse(card_number), substr(ssn, 1, 3), right(email, 8) from customers'],
    ['to_char of the length', "select to_char(length(card_number), '99') from customers"],
    ['regexp_replace', "select regexp_replace(email, '@.*', '') from customers"],
    ['lag() window value', 'select id, lag(card_number) over (order by id) from customers'],
    ['CTE with renamed column', 'with t(x) as (select card_number from customers) select x from t'],
    ['sub-select in FROM with alias columns', 'select a from (select card_number, ssn from customers) s(a, b)'],
    ['scalar sub-query', 'select (select card_number from customers where id = 1)'],
    ['ARRAY sub-query', 'select array(select ssn from customers)'],
    ['LATERAL projection', 'select s.x from customers c cross join lateral (select c.card_number || \'\' as x) s'],
    ['VALUES with a sub-query', 'select column1 from (values ((select email from customers where id = 1))) v'],
    ['UNION ALL of two masked columns', 'select card_number from customers union all select ssn from customers'],
    ['UNION ALL arm mixing a planted guess', "select email from customers union all select 'ada@example.com'"],
    ['whole-row text', 'select c::text from customers c'],
    ['record field access', 'select (r).f2 from (select row(id, card_number) as r from customers) s'],
    ['ssn as varchar(3)', 'select ssn::varchar(3) from customers'],
    ['boolean comparison in the select list', "select card_number = '4111111111111111' from customers"],
    ['pg_stats without a filter', 'select attname, most_common_vals::text, histogram_bounds::text from pg_stats'],
    ['pg_stat_activity query texts', 'select query from pg_stat_activity'],
    ['EXPLAIN VERBOSE shows no values', 'explain (verbose) select * from customers where id = 1'],
  ];
  for (const [name, sql] of cases) {
    it(`masks: ${name}`, async () => {
      const body = await expectMasked(sql);
      expect(body.decision).toBe('allowed');
    });
  }

  it('masks with the column\'s own masker on the plain column, redact on anything derived', async () => {
    const body = await expectMasked('select card_number, card_number || \'\' as d, email from customers where id = 1');
    expect(body.rows[0]).toEqual(['****1111', '[redacted]', '***@example.com']);
    expect(body.columns.map((c: { masked: string }) => c.masked)).toEqual(['last4', 'redact', 'email']);
  });

  it('database errors are sanitized: a failing cast inside a view-free sub-query does not echo the value', async () => {
    // The cast is refused before it runs; an error that does run has its quoted text removed.
    const r = await expectRefused({ name: 'cast', sql: 'select (select card_number from customers where id = 1)::numeric', status: 403, code: 'masked_column_in_fallible_expression' });
    expect(JSON.stringify(r)).not.toMatch(/411111/);
    // A runtime error that does run, with a masked column in reach: a fixed sentence, no value.
    const e = await b.query({ connection: 'sales', sql: 'select card_number, 1 / (id - id) from customers where id = 1' }, READ, 'rt-agent');
    expect(e.status).toBe(422);
    expect(e.body.error.sqlstate).toBe('22012');
    expect(planted(e.body)).toEqual([]);
    // Handing the value to a function that can fail on it (here: "is it a setting name?") is refused.
    const oracle = await b.query({ connection: 'sales', sql: 'select current_setting(card_number) from customers where id = 1' }, READ, 'rt-agent');
    expect(oracle.status).toBe(403);
    expect(oracle.body.error.reasons.map((x: { code: string }) => x.code)).toContain('masked_column_in_fallible_expression');
  });

  it('the audit record of a masked read holds only masked values', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id, email, card_number, ssn from customers' }, READ, 'rt-audit');
    expect(r.status).toBe(200);
    const records = await b.audit.read(r.body.sessionId);
    expect(records.length).toBeGreaterThan(0);
    expect(planted(records)).toEqual([]);
  });
});

// =================================================================================================
// (b) changing data or session state with a read profile (and session state with a write profile)
// =================================================================================================

describe('a read profile changes nothing; no profile changes session state', () => {
  const cases: Refusal[] = [
    { name: 'UPDATE', sql: 'update orders set amount_cents = 0 where id = 1', status: 403, code: 'write_on_read_only_profile' },
    { name: 'DELETE', sql: 'delete from orders where id = 1', status: 403, code: 'write_on_read_only_profile' },
    { name: 'INSERT … SELECT', sql: 'insert into orders (customer_id, amount_cents) select 1, 1', status: 403, code: 'write_on_read_only_profile' },
    { name: 'MERGE', sql: 'merge into orders o using (select 1 as id) s on o.id = s.id when matched then delete', status: 403, code: 'write_on_read_only_profile' },
    { name: 'data-modifying CTE', sql: 'with d as (delete from orders where id = 1 returning *) select * from d', status: 403, code: 'write_on_read_only_profile' },
    { name: 'SELECT … FOR UPDATE', sql: 'select * from orders where id = 1 for update', status: 403, code: 'write_on_read_only_profile' },
    { name: 'SELECT INTO', sql: 'select * into stolen from customers', status: 403, code: 'write_on_read_only_profile' },
    { name: 'CREATE TEMP TABLE AS', sql: 'create temp table t as select 1', status: 403, code: 'write_on_read_only_profile' },
    { name: 'EXPLAIN ANALYZE of a DELETE', sql: 'explain analyze delete from orders where id = 1', status: 403, code: 'write_on_read_only_profile' },
    { name: 'TRUNCATE', sql: 'truncate orders', status: 403, code: 'write_on_read_only_profile' },
    { name: 'nextval()', sql: "select nextval('orders_id_seq')", status: 403, code: 'volatile_function' },
    { name: 'setval()', sql: "select setval('orders_id_seq', 1)", status: 403, code: 'volatile_function' },
    { name: 'set_config()', sql: "select set_config('default_transaction_read_only', 'off', false)", status: 403, code: 'session_state_change' },
    { name: 'schema-qualified set_config()', sql: "select pg_catalog.set_config('statement_timeout', '0', false)", status: 403, code: 'session_state_change' },
    { name: 'SET', sql: 'set statement_timeout = 0', status: 403, code: 'session_state_change' },
    { name: 'SET LOCAL', sql: 'set local default_transaction_read_only = off', status: 403, code: 'session_state_change' },
    { name: 'SET ROLE', sql: 'set role qb_agent_write', status: 403, code: 'session_state_change' },
    { name: 'RESET ROLE', sql: 'reset role', status: 403, code: 'session_state_change' },
    { name: 'SET SESSION AUTHORIZATION', sql: 'set session authorization default', status: 403, code: 'session_state_change' },
    { name: 'BEGIN', sql: 'begin', status: 403, code: 'transaction_control' },
    { name: 'COMMIT', sql: 'commit', status: 403, code: 'transaction_control' },
    { name: 'LISTEN', sql: 'listen x', status: 403, code: 'session_state_change' },
    { name: 'pg_notify()', sql: "select pg_notify('x', 'y')", status: 403, code: 'notification' },
    { name: 'DISCARD', sql: 'discard all', status: 403, code: 'session_state_change' },
    { name: 'advisory lock', sql: 'select pg_advisory_lock(42)', status: 403, code: 'advisory_lock' },
    { name: 'large object', sql: 'select lo_creat(-1)', status: 403, code: 'large_object_function' },
    { name: 'DO block', sql: "do $$ begin perform 1; end $$", status: 403, code: 'procedural_code' },
    { name: 'terminate another backend', sql: 'select pg_terminate_backend(pg_backend_pid())', status: 403, code: 'server_control_function' },
    { name: 'two statements', sql: 'select 1; delete from orders', status: 400, code: 'multiple_statements' },
    { name: 'two statements behind a comment', sql: 'select 1 /* ; */; delete from orders', status: 400, code: 'multiple_statements' },
    { name: 'two statements behind a dollar quote', sql: 'select $q$;$q$; delete from orders', status: 400, code: 'multiple_statements' },
    // Lexed differently by standard_conforming_strings on/off: refused as ambiguous either way.
    { name: 'a backslash-quote trick', sql: "select 'a\\'; delete from orders; --'", status: 400, code: 'sql_parse_error' },
    // One string literal for libpg-query and for the server alike: it runs as a SELECT and deletes nothing.
    { name: 'an E-string backslash-quote trick', sql: "select E'a\\'; delete from orders; --'", status: 200 },
  ];
  for (const c of cases) {
    it(`refuses: ${c.name}`, async () => {
      await expectRefused(c);
    });
  }

  it('the read pool keeps read-only, the timeout and its role after every refusal above', async () => {
    const r = await b.query(
      { connection: 'sales', sql: "select current_setting('default_transaction_read_only') as ro, current_setting('statement_timeout') as st, current_user as u" },
      READ,
      'rt-agent',
    );
    expect(r.status).toBe(200);
    expect(r.body.rows[0]).toEqual(['on', '5s', 'qb_agent_read']);
  });

  const writeCases: Refusal[] = [
    { name: 'UPDATE pg_settings (calls set_config)', sql: "update pg_settings set setting = 'off' where name = 'default_transaction_read_only'", roles: WRITE, status: 403, code: 'session_state_change' },
    { name: 'schema-qualified UPDATE pg_catalog.pg_settings', sql: "update pg_catalog.pg_settings set setting = '0' where name = 'statement_timeout'", roles: WRITE, status: 403, code: 'session_state_change' },
    { name: 'cursor WITH HOLD outliving the request', sql: 'declare c cursor with hold for select card_number from customers', roles: WRITE, status: 403, code: 'session_state_change' },
    { name: 'set_config in RETURNING', sql: "update orders set status = status where id = 1 returning set_config('role', 'qb_agent_write', false)", roles: WRITE, status: 403, code: 'session_state_change' },
    { name: 'copy a card into an unmasked column', sql: 'update orders set status = (select card_number from customers where id = 1) where id = 1', roles: WRITE, status: 403, code: 'masked_column_in_write' },
    { name: 'copy a card into the email column (weaker masker)', sql: 'update customers set email = card_number where id = 1', roles: WRITE, status: 403, code: 'masked_column_in_write' },
    { name: 'INSERT … SELECT a masked value into a new row\'s name', sql: "insert into customers (name, email, card_number, ssn) select ssn, 'x@example.com', 'x', 'x' from customers where id = 1", roles: WRITE, status: 403, code: 'masked_column_in_write' },
    { name: 'UPDATE with a masked WHERE', sql: "update orders set status = 'x' where customer_id = (select id from customers where ssn = '123-45-6789')", roles: WRITE, status: 403, code: 'masked_column_in_predicate' },
    { name: 'not-null violation whose DETAIL would repeat the row', sql: 'update customers set name = null where id = 1', roles: WRITE, status: 422 },
    { name: 'DDL creating a view (held, but not run)', sql: 'create view v_cards as select card_number from customers', roles: ['Query.Read'], status: 403, code: 'write_on_read_only_profile' },
  ];
  for (const c of writeCases) {
    it(`refuses (write token): ${c.name}`, async () => {
      await expectRefused(c);
    });
  }

  it('the write pool keeps its settings after the attempts above', async () => {
    const r = await b.query(
      { connection: 'sales', sql: "update orders set status = status where id = 1 returning current_setting('statement_timeout'), current_user" },
      WRITE,
      'rt-agent',
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows[0]).toEqual(['5s', 'qb_agent_write']);
  });
});

// =================================================================================================
// (c) nothing runs unrecorded
// =================================================================================================

describe('every attempt is recorded before (or while) it runs', () => {
  it('a refused attack and an executed read both land in the session chain, and the chain verifies', async () => {
    const sessionId = 'rt-session-0001';
    // (the guess is not a planted value: the record holds the agent's SQL as sent)
    const refused = await b.query({ connection: 'sales', sql: "select id from customers where ssn = '999-00-0000'", sessionId }, READ, 'rt-recorder');
    expect(refused.status).toBe(403);
    const ok = await b.query({ connection: 'sales', sql: 'select count(*) from orders', sessionId }, READ, 'rt-recorder');
    expect(ok.status).toBe(200);
    const records = await b.audit.read(sessionId);
    const types = records.map((r: any) => `${r.type}:${r.requestId}`);
    expect(types).toEqual(
      expect.arrayContaining([`request.received:${refused.body.requestId}`, `decision:${refused.body.requestId}`, `request.received:${ok.body.requestId}`, `executed:${ok.body.requestId}`]),
    );
    expect((await b.audit.verify(sessionId)).valid).toBe(true);
    expect(planted(records)).toEqual([]);
  });

  it('another identity cannot write into (or read) someone else\'s session', async () => {
    const sessionId = 'rt-session-0002';
    expect((await b.query({ connection: 'sales', sql: 'select 1', sessionId }, READ, 'rt-owner')).status).toBe(200);
    const hijack = await b.query({ connection: 'sales', sql: 'select 2', sessionId }, READ, 'rt-intruder');
    expect(hijack.status).toBe(403);
    const read = await jsonFetch(`/api/sessions/${sessionId}`, { auth: await bearer(READ, 'rt-intruder') });
    expect(read.status).toBe(403);
    expect((await b.audit.read(sessionId)).every((r: any) => r.actor?.oid !== 'dev-rt-intruder')).toBe(true);
  });
});

// =================================================================================================
// (d) approvals
// =================================================================================================

describe('approvals: no self-approval, no substitution, no outsider', () => {
  async function hold(sql = 'delete from orders', sub = 'rt-writer', roles = WRITE) {
    const r = await b.query({ connection: 'sales', sql }, roles, sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body as { requestId: string; sqlHash: string; sessionId: string };
  }

  it('refuses self-approval, an app token with the approver role, a wrong hash, an outsider and a forged principal header; nothing runs', async () => {
    const before = await snapshot();
    const selfRoles = [...WRITE, ...APPROVE];
    const { requestId, sqlHash } = await hold('delete from orders', 'rt-self', selfRoles);
    expect((await decide(requestId, { decision: 'approve', sqlHash }, await bearer(selfRoles, 'rt-self', 'user'))).status).toBe(403);
    expect((await decide(requestId, { decision: 'approve', sqlHash }, await bearer(APPROVE, 'rt-agent-approver', 'app'))).status).toBe(403);
    const other = createHash('sha256').update('delete from orders where id = 1').digest('hex');
    expect((await decide(requestId, { decision: 'approve', sqlHash: other }, await bearer(APPROVE, 'rt-human', 'user'))).status).toBe(409);
    const anon = await jsonFetch(`/api/approvals/${requestId}`, { method: 'POST', body: JSON.stringify({ decision: 'approve', sqlHash }) });
    expect(anon.status).toBe(401);
    const forged = Buffer.from(JSON.stringify({ claims: [{ typ: 'oid', val: 'boss' }, { typ: 'roles', val: 'Query.Approve' }] })).toString('base64');
    const withHeader = await decide(requestId, { decision: 'approve', sqlHash }, await bearer(APPROVE, 'rt-human', 'user'), { 'x-ms-client-principal': forged });
    expect(withHeader.status).toBe(401);
    const st = await jsonFetch(`/api/requests/${requestId}`, { auth: await bearer(selfRoles, 'rt-self') });
    expect(st.body.state).toBe('pending_approval');
    expect(await snapshot()).toBe(before);
  });

  it('a cookie-borne session cannot post a JSON decision, and a cross-site form is refused', async () => {
    const { requestId, sqlHash } = await hold('delete from orders where id > 0 or true');
    const token = await b.token({ sub: 'rt-human-2', roles: APPROVE, idtyp: 'user' });
    const json = await jsonFetch(`/api/approvals/${requestId}`, { method: 'POST', headers: { cookie: `qb_approver_session=${token}` }, body: JSON.stringify({ decision: 'approve', sqlHash }) });
    expect(json.status).toBe(403);
    const form = await b.fetch(`/api/approvals/${requestId}`, {
      method: 'POST',
      headers: { cookie: `qb_approver_session=${token}`, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ decision: 'approve', sqlHash }).toString(),
    });
    expect(form.status).toBe(403);
    const st = await jsonFetch(`/api/requests/${requestId}`, { auth: await bearer(WRITE, 'rt-writer') });
    expect(st.body.state).toBe('pending_approval');
  });

  it('another agent cannot see a held request (404), and the review page escapes the SQL', async () => {
    const { requestId } = await hold("delete from orders where status = '<script>alert(1)</script>' or true");
    expect((await jsonFetch(`/api/requests/${requestId}`, { auth: await bearer(READ, 'rt-nosy') })).status).toBe(404);
    const page = await b.fetch(`/api/approvals/${requestId}`, { headers: { authorization: await bearer(APPROVE, 'rt-human', 'user') } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'none'/);
  });

  it('runs exactly the approved statement (and its own parameters)', async () => {
    const before = (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    const snap = await snapshot();
    // No WHERE: held for a human; it rewrites every row with its own value, so nothing changes.
    const { requestId, sqlHash } = await hold('update orders set status = status');
    const d = await decide(requestId, { decision: 'approve', sqlHash }, await bearer(APPROVE, 'rt-human', 'user'));
    expect(d.status, d.text).toBe(200);
    const done = await pollStatus(requestId, await bearer(WRITE, 'rt-writer'), (s) => s === 'executed' || s === 'failed');
    expect(done.state).toBe('executed');
    expect(done.sqlHash).toBe(sqlHash);
    expect((await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n).toBe(before);
    expect(await snapshot()).toBe(snap);
  });
});

// =================================================================================================
// (e) authentication
// =================================================================================================

describe('authentication cannot be bypassed', () => {
  const queryBody = JSON.stringify({ connection: 'sales', sql: 'select card_number from customers' });
  const post = (auth?: string, extra: Record<string, string> = {}) => jsonFetch('/api/query', { method: 'POST', ...(auth ? { auth } : {}), headers: extra, body: queryBody });

  function b64url(x: unknown): string {
    return Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
  }
  const claims = () => ({ iss: b.devIssuer.issuer, aud: 'api://query-broker', sub: 'evil', oid: 'evil', roles: ['Query.Read', 'PII.Read'], exp: Math.floor(Date.now() / 1000) + 600, iat: Math.floor(Date.now() / 1000) });

  it('no token, a garbage token, lower-case scheme', async () => {
    expect((await post()).status).toBe(401);
    expect((await post('Bearer not-a-jwt')).status).toBe(401);
    expect((await post(`bearer ${await b.token({ sub: 'x', roles: READ })}`)).status).toBe(401);
  });

  it('alg=none', async () => {
    const t = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`;
    const r = await post(`Bearer ${t}`);
    expect(r.status).toBe(401);
    expect(planted(r.body)).toEqual([]);
  });

  it('HS256 signed with the issuer\'s public key (alg confusion)', async () => {
    const jwks = (await (await b.fetch('/api/dev/jwks')).json()) as { keys: { kid: string; n: string }[] };
    const key = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const t = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]!.kid }).sign(key);
    expect((await post(`Bearer ${t}`)).status).toBe(401);
  });

  it('a self-signed token carrying its own key in jwk / jku headers', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const t1 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', jwk }).sign(privateKey);
    const t2 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', jku: 'http://127.0.0.1:1/jwks', kid: 'x' }).sign(privateKey);
    expect((await post(`Bearer ${t1}`)).status).toBe(401);
    expect((await post(`Bearer ${t2}`)).status).toBe(401);
  });

  it('the right key id but another key (kid reuse)', async () => {
    const jwks = (await (await b.fetch('/api/dev/jwks')).json()) as { keys: { kid: string }[] };
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const header = b64url({ alg: 'RS256', kid: jwks.keys[0]!.kid, typ: 'JWT' });
    const payload = b64url(claims());
    const sig = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(privateKey).toString('base64url');
    expect((await post(`Bearer ${header}.${payload}.${sig}`)).status).toBe(401);
  });

  it('a signature spliced from a valid token onto other claims', async () => {
    const good = await b.token({ sub: 'splice', roles: READ });
    const [h, , s] = good.split('.');
    expect((await post(`Bearer ${h}.${b64url(claims())}.${s}`)).status).toBe(401);
  });

  it('a token for another audience from another key', async () => {
    const other = await generateKeyPair('RS256');
    const wrongAud = await new SignJWT({ ...claims(), aud: 'api://other' }).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
    expect((await post(`Bearer ${wrongAud}`)).status).toBe(401);
  });

  it('App Service principal headers on the query route grant nothing', async () => {
    const forged = Buffer.from(JSON.stringify({ claims: [{ typ: 'oid', val: 'x' }, { typ: 'roles', val: 'PII.Read' }] })).toString('base64');
    const r = await post(undefined, { 'x-ms-client-principal': forged, 'x-ms-client-principal-id': 'x' });
    expect(r.status).toBe(401);
    expect(planted(r.body)).toEqual([]);
  });

  it('a token with no matching profile gets 403, and auditor routes refuse agents', async () => {
    expect((await post(await bearer(['Nothing'], 'rt-none'))).status).toBe(403);
    expect((await jsonFetch('/api/sessions', { auth: await bearer(READ, 'rt-agent') })).status).toBe(403);
  });
});

describe('logs carry no planted value after every attack above', () => {
  it('no card, SSN or e-mail in any broker log line', () => {
    expect(planted(b.logs.join('\n'))).toEqual([]);
  });
});

describe('fixed findings: approved results and refused attempts', () => {
  it('F5 (medium, fixed): approvers and auditors without PII.Read do not see an exempt requester\'s approved result in clear', async () => {
    // The result is stored on the request, which GET /api/requests/{id} shows to approvers and
    // auditors too: it is stored masked as for a non-exempt viewer, whoever asked.
    const requester = [...WRITE, 'PII.Read'];
    const held = await b.query({ connection: 'sales', sql: 'update customers set name = name returning id, card_number, ssn' }, requester, 'rt-f5-human');
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    const { requestId, sqlHash } = held.body;
    const approver = await bearer(APPROVE, 'rt-f5-approver', 'user');
    expect((await decide(requestId, { decision: 'approve', sqlHash }, approver)).status).toBe(200);
    const seenByApprover = await pollStatus(requestId, approver, (s) => s === 'executed' || s === 'failed');
    const seenByAuditor = await jsonFetch(`/api/requests/${requestId}`, { auth: await bearer(['Audit.Read'], 'rt-f5-auditor', 'user') });
    expect(planted(seenByApprover)).toEqual([]);
    expect(planted(seenByAuditor.body)).toEqual([]);
  });

  it('F6 (low, fixed): an unauthenticated caller cannot append unlimited refused-attempt events to a requester\'s audit chain', async () => {
    const held = await b.query({ connection: 'sales', sql: 'delete from orders' }, WRITE, 'rt-f6');
    const { requestId, sessionId, sqlHash } = held.body;
    const before = (await b.audit.read(sessionId)).length;
    for (let i = 0; i < 30; i++) await jsonFetch(`/api/approvals/${requestId}`, { method: 'POST', body: JSON.stringify({ decision: 'approve', sqlHash }) });
    const after = (await b.audit.read(sessionId)).length;
    // secure: anonymous attempts are rate-limited (per client address) before they are recorded
    expect(after - before).toBeLessThan(30);
  });
});

// =================================================================================================
// Fixed findings: masking (F1–F4). Each asserted the secure behaviour and failed before the fix.
// =================================================================================================

describe('fixed findings: masking (F1–F4)', () => {
  it('F1 (high): NULL-ness of a derived value survives masking, so one query reconstructs every card', async () => {
    // regexp_match(...) is NULL when the pattern does not match; the masker leaves NULLs alone, so
    // "[redacted]" vs null is one bit per cell. 16 positions x 10 digits = one query, whole card.
    const cols: string[] = [];
    for (let pos = 0; pos < 16; pos++) for (let d = 0; d < 10; d++) cols.push(`regexp_match(card_number, '^.{${pos}}${d}') as p${pos}_${d}`);
    const r = await b.query({ connection: 'sales', sql: `select ${cols.join(', ')} from customers where id = 1` }, READ, 'rt-f1');
    let recovered = '';
    if (r.status === 200) {
      const row = r.body.rows[0] as (string | null)[];
      for (let pos = 0; pos < 16; pos++) for (let d = 0; d < 10; d++) if (row[pos * 10 + d] !== null) recovered += String(d);
    }
    expect(recovered).not.toBe('4111111111111111');
  });

  it('F2 (high): count(x) and count(distinct x) of a value derived from a masked column are returned in clear', async () => {
    // count(plain column ref) is treated as revealing nothing, but the column may be a derived
    // value (NULL iff a guess fails) or a UNION ALL of the value and a guess (distinct = 1 iff equal).
    const a = await b.query({ connection: 'sales', sql: "select count(x) from (select substring(ssn from '^123-45') x from customers where id = 1) s" }, READ, 'rt-f2');
    const c = await b.query({ connection: 'sales', sql: "select count(distinct x) from (select ssn x from customers where id = 1 union all select '123-45-6789') s" }, READ, 'rt-f2');
    // secure: refused, or the count is masked
    expect(a.status === 200 && a.body.rows[0][0] === '1').toBe(false);
    expect(c.status === 200 && c.body.rows[0][0] === '1').toBe(false);
  });

  it('F3 (high): error messages echo numbers computed from a masked value (get_bit / make_date), SSN recovered', async () => {
    // "index 49 out of valid range, 0..7": stripValues() removes quoted text and 4+ digit runs, not this.
    let recovered = '';
    for (let pos = 1; pos <= 11; pos++) {
      const r = await b.query({ connection: 'sales', sql: `select get_bit('\\x00'::bytea, ascii(substr(ssn, ${pos}, 1))) from customers where id = 1` }, READ, 'rt-f3');
      const m = /index (\d+) out of valid range/.exec(JSON.stringify(r.body));
      recovered += m ? String.fromCharCode(Number(m[1])) : '?';
    }
    const md = await b.query({ connection: 'sales', sql: 'select make_date(2000, 1, ascii(substr(card_number, 1, 1))) from customers where id = 1' }, READ, 'rt-f3');
    expect(recovered).not.toBe('123-45-6789');
    expect(JSON.stringify(md.body)).not.toMatch(/-01-52/);
  });

  it('F4 (medium): whether an error comes back depends on the masked value (sqrt of a negative, integer overflow)', async () => {
    // One bit per request, binary search per character; the design promises masked values may not
    // decide "whether an error comes back", but only division, casts, parsers and NULLIF are guarded.
    const sqrt = async (threshold: number) =>
      (await b.query({ connection: 'sales', sql: `select sqrt(ascii(substr(card_number, 1, 1)) - ${threshold}) from customers where id = 1` }, READ, 'rt-f4')).status;
    const overflow = await b.query({ connection: 'sales', sql: 'select (ascii(substr(card_number, 1, 1)) - 48) * 1000000000 from customers where id = 1' }, READ, 'rt-f4');
    // secure: both refused up front (403), never "200 for one guess, 422 for the other"
    expect([await sqrt(52), await sqrt(53)]).not.toEqual([200, 422]);
    expect(overflow.status).toBe(403);
  });
});
