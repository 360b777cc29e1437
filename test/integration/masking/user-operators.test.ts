/**
 * Operators resolve like functions: by search_path and argument types, so a user-defined `||` for
 * (text, int) is what `card_number || 1` calls, not the server's own. Such an operator runs user
 * code: it can fail on the value (a 1-bit oracle on a masked column) or have side effects. Planted
 * here by the database owner, as an extension or a DBA might; the agent only uses them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { leaksIn } from './planted.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker();
  await b.db.query(`
    create function public.qb_oracle_cat(text, int) returns text language plpgsql immutable as $$
      begin
        if left($1, 1) = '4' then raise exception 'starts with 4'; end if;
        return $1 || $2::text;
      end $$;
    create operator public.|| (leftarg = text, rightarg = int, function = public.qb_oracle_cat);
    create function public.qb_oracle_eq(text, int) returns boolean language plpgsql immutable as $$
      begin
        if left($1, 1) = '4' then raise exception 'starts with 4'; end if;
        return false;
      end $$;
    create operator public.= (leftarg = text, rightarg = int, function = public.qb_oracle_eq);
    create table public.qb_op_calls (n int);
    create function public.qb_side_effect(int, int) returns int language sql volatile as 'insert into public.qb_op_calls values (1) returning 1';
    create operator public.### (leftarg = int, rightarg = int, function = public.qb_side_effect);
    create function public.qb_locking_step(int, int) returns int language sql volatile as 'select coalesce($1, 0) + $2 + (pg_advisory_lock(731002)::text = '''')::int';
    create aggregate public.qb_locking_sum(int) (sfunc = public.qb_locking_step, stype = int);
    grant execute on function public.qb_oracle_cat(text, int), public.qb_oracle_eq(text, int), public.qb_side_effect(int, int), public.qb_locking_step(int, int), public.qb_locking_sum(int) to qb_agent_read;
  `);
});

afterAll(async () => b?.close());

describe('user-defined operators', () => {
  it('the planted operator is what the server calls (premise)', async () => {
    const raw = await b.db.query("select card_number || 1 as v from customers where card_number like '4%' limit 1").then(
      () => 'no error',
      (e: Error) => e.message,
    );
    expect(raw).toContain('starts with 4');
  });

  it('refuses a masked value flowing into an operator that is not the server’s own', async () => {
    for (const sql of [
      'select card_number || 1 from customers where id = 1',
      "select email || 'x' from customers where id = 1",
      'select card_number = any (select 1) from customers where id = 1',
      'select card_number = 1 from customers where id = 1',
    ]) {
      const r = await b.query({ connection: 'sales', sql });
      expect(r.status, `${sql}: ${JSON.stringify(r.body)}`).toBe(403);
      expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('masked_column_in_fallible_expression');
      expect(leaksIn(JSON.stringify(r.body))).toEqual([]);
    }
  });

  it('still lets unmasked values through such an operator', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select name || 1 as v from customers order by id limit 1' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });

  it('refuses an operator whose function is volatile, and nothing ran', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select 1 ### 2' });
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    const reasons = r.body.error.reasons as { code: string; message: string }[];
    expect(reasons.map((x) => x.code)).toContain('volatile_function');
    expect(reasons.map((x) => x.message).join(' ')).toContain('qb_side_effect');
    const calls = await b.db.query('select count(*)::int as n from public.qb_op_calls');
    expect(calls.rows[0]!.n).toBe(0);
  });
});

describe('aggregates', () => {
  it('refuses an aggregate whose transition function is volatile, and it did not run', async () => {
    expect((await b.db.query("select provolatile from pg_proc where proname = 'qb_locking_sum'")).rows[0]!.provolatile).toBe('i'); // what pg_proc says
    const r = await b.query({ connection: 'sales', sql: 'select qb_locking_sum(id) from customers' });
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('volatile_function');
    const locks = await b.db.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = 731002");
    expect(locks.rows[0]!.n).toBe(0);
  });
});

describe('implicit casts of the database’s own', () => {
  let c: TestBroker;
  beforeAll(async () => {
    c = await startTestBroker();
    // What old applications add back ("implicit casts before 8.3"): text converts to a number where needed.
    await c.db.query('create cast (text as int8) with inout as implicit');
  });
  afterAll(async () => c?.close());

  it('the server converts the masked text before comparing, and that fails on non-digits (premise)', async () => {
    await expect(c.db.query("select translate(substr(card_number, 1, 1), '0123456789', 'xxxx1xxxxx') = 1 from customers where id = 1")).resolves.toBeDefined();
    await expect(c.db.query("select translate(substr(card_number, 1, 1), '0123456789', 'xxxxx1xxxx') = 1 from customers where id = 1")).rejects.toThrow(/invalid input syntax/);
  });

  it('refuses operators on masked values while such a cast exists', async () => {
    const r = await c.query({ connection: 'sales', sql: "select translate(substr(card_number, 1, 1), '0123456789', 'xxxx1xxxxx') = 1 from customers where id = 1" });
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('masked_column_in_fallible_expression');
    const clear = await c.query({ connection: 'sales', sql: 'select name = name from customers where id = 1' });
    expect(clear.status, JSON.stringify(clear.body)).toBe(200);
  });
});
