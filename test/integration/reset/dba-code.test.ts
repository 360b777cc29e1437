/**
 * The volatility check sees the DBA's code a read reaches (issue 17): views it reads, SQL function
 * bodies (a STABLE/IMMUTABLE one that calls a volatile function is a "liar"), defaults of omitted
 * arguments, domain CHECKs and cast functions. Planted by the database owner; the agent only uses
 * them. Refusals are checked by effect: the lock was not taken, the sequence did not move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let b: TestBroker;

const PLANT = `
  create view public.qb_lock_view as select pg_try_advisory_lock(731201) as locked;
  create view public.qb_path_view as select set_config('search_path', 'pg_catalog', false) as path;
  create function public.qb_liar() returns boolean language sql stable as 'select pg_try_advisory_lock(731202)';
  create view public.qb_liar_view as select public.qb_liar() as locked;
  create function public.qb_atomic_liar() returns boolean immutable return pg_try_advisory_lock(731203);
  create sequence public.qb_seq;
  create function public.qb_default(a bigint default nextval('public.qb_seq')) returns bigint language sql immutable as 'select $1';
  create domain public.qb_checked as int check (pg_try_advisory_lock(731204) or value > 0);
  create type public.qb_pair as (a int, b int);
  create function public.qb_to_pair(int) returns public.qb_pair language sql volatile as 'select pg_try_advisory_lock(731205)::int, $1';
  create cast (int as public.qb_pair) with function public.qb_to_pair(int);
  create function public.qb_honest(t text) returns text language sql stable as 'select upper(t) || now()::text';
  create view public.qb_honest_view as select public.qb_honest('a') as h, upper('x') as u, now() as t;
  create function public.qb_nested() returns boolean language sql stable as 'select locked from public.qb_liar_view';
  create schema qb_other;
  grant usage on schema qb_other to qb_agent_read;
  create function qb_other.pg_relation_size(regclass) returns bigint language sql volatile as 'select pg_try_advisory_lock(731206)::int::bigint';
  grant execute on function qb_other.pg_relation_size(regclass) to qb_agent_read;
  create table public.qb_rls (id int);
  insert into public.qb_rls values (1);
  alter table public.qb_rls enable row level security;
  create policy qb_locking_policy on public.qb_rls using (pg_try_advisory_lock(731207) or id > 0);
  grant select on all tables in schema public to qb_agent_read;
  grant usage on sequence public.qb_seq to qb_agent_read;
  grant execute on all functions in schema public to qb_agent_read;
`;

async function advisoryLocks(): Promise<number> {
  const r = await b.db.query<{ n: number }>("select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())");
  return r.rows[0]!.n;
}

async function expectRefusedAsVolatile(sql: string, mentions: string): Promise<void> {
  const r = await b.query({ connection: 'sales', sql });
  expect(r.status, `${sql}: ${JSON.stringify(r.body)}`).toBe(403);
  const reasons = r.body.error.reasons as { code: string; message: string }[];
  expect(reasons.map((x) => x.code), sql).toContain('volatile_function');
  expect(reasons.map((x) => x.message).join(' '), sql).toContain(mentions);
  expect(await advisoryLocks(), sql).toBe(0);
}

beforeAll(async () => {
  b = await startTestBroker();
  await b.db.query(PLANT);
});

afterAll(async () => b?.close());

describe('code the statement does not show', () => {
  it('the planted objects really take locks and move the sequence (premise)', async () => {
    await b.db.query('select public.qb_liar(), public.qb_atomic_liar(), public.qb_default(), 1::public.qb_checked, 2::public.qb_pair');
    expect(await advisoryLocks()).toBeGreaterThanOrEqual(4); // the pool's connection holds them
    await b.db.query('select pg_advisory_unlock_all(); select setval(\'public.qb_seq\', 1, false)');
  });

  it('a view that calls an advisory lock function is refused', async () => {
    await expectRefusedAsVolatile('select * from qb_lock_view', 'pg_try_advisory_lock');
  });

  it('a view that calls set_config(…, false) is refused, and the next request sees the default search_path', async () => {
    await expectRefusedAsVolatile('select path from qb_path_view', 'set_config');
    const r = await b.query({ connection: 'sales', sql: "select current_setting('search_path') as p" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toEqual([['"$user", public']]);
  });

  it('a STABLE SQL function whose body takes a lock (a liar) is refused, called directly or through a view', async () => {
    await expectRefusedAsVolatile('select public.qb_liar()', 'pg_try_advisory_lock');
    await expectRefusedAsVolatile('select locked from qb_liar_view', 'pg_try_advisory_lock');
    await expectRefusedAsVolatile('select public.qb_nested()', 'pg_try_advisory_lock');
  });

  it('an IMMUTABLE function with a SQL-standard body that calls a volatile function is refused', async () => {
    await expectRefusedAsVolatile('select qb_atomic_liar()', 'pg_try_advisory_lock');
  });

  it('the volatile default of an omitted argument is refused, and the sequence did not move', async () => {
    await expectRefusedAsVolatile('select public.qb_default()', 'nextval');
    const seq = await b.db.query<{ called: boolean }>('select is_called as called from public.qb_seq');
    expect(seq.rows[0]!.called).toBe(false);
  });

  it('a cast to a domain whose CHECK calls a volatile function is refused', async () => {
    await expectRefusedAsVolatile('select 1::public.qb_checked', 'pg_try_advisory_lock');
  });

  it('a table whose row-level security policy calls a volatile function is refused', async () => {
    await expectRefusedAsVolatile('select id from public.qb_rls', 'pg_try_advisory_lock');
  });

  it('an explicit cast WITH FUNCTION that is volatile is refused', async () => {
    await expectRefusedAsVolatile('select cast(2 as public.qb_pair)', 'qb_to_pair');
  });
});

describe('no false positives', () => {
  it('the size functions are allowed for reads', async () => {
    const r = await b.query({
      connection: 'sales',
      sql: "select pg_total_relation_size('customers'), pg_relation_size('customers'), pg_table_size('customers'), pg_indexes_size('customers'), pg_database_size(current_database())",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // (pg_relation_size may come back masked here: the planted same-named function below makes the
    // masking catalog treat the name as not only the server's own.)
    const sizes = (r.body.rows[0] as string[]).filter((v, i) => r.body.columns[i].masked === false);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    for (const v of sizes) expect(Number(v)).toBeGreaterThan(0);
  });

  it('…only the server’s own: a volatile same-named function elsewhere is refused', async () => {
    await expectRefusedAsVolatile("select qb_other.pg_relation_size('customers')", 'pg_relation_size');
  });

  it('views and SQL functions that call only stable functions, and the server’s own views, are allowed', async () => {
    for (const sql of ['select h, u from qb_honest_view', "select public.qb_honest('b')", 'select count(*) from pg_stat_activity', 'select count(*) from information_schema.tables']) {
      const r = await b.query({ connection: 'sales', sql });
      expect(r.status, `${sql}: ${JSON.stringify(r.body)}`).toBe(200);
    }
  });
});
