/**
 * Names resolve for the profile's role, as the server resolves them. A schema named after the
 * profile's database role comes first on the default search_path ("$user", public) for that role's
 * sessions, but not for the broker's login role: a table or function there shadows the public one
 * only in the agent's session. The masking plan and the volatility check must see the same shadow,
 * or an expression over a masked column is planned as if it read the public table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const PLANTED = 'SHADOW-SECRET-7731';
let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker({
    policyPatch: (p) => {
      p.masking.rules.push({ column: 'qb_agent_read.sp_orders.status', with: 'redact' });
    },
  });
  await b.db.query(`
    create table public.sp_orders (status text);
    insert into public.sp_orders values ('open');
    grant select on public.sp_orders to qb_agent_read;
    create schema qb_agent_read;
    grant usage on schema qb_agent_read to qb_agent_read;
    create table qb_agent_read.sp_orders (status text);
    insert into qb_agent_read.sp_orders values ('${PLANTED}');
    grant select on qb_agent_read.sp_orders to qb_agent_read;
    create function public.sp_touch() returns int language sql immutable as 'select 1';
    create function qb_agent_read.sp_touch() returns int language sql volatile as 'select pg_advisory_lock(731001)::text::int + 2';
    grant execute on function public.sp_touch(), qb_agent_read.sp_touch() to qb_agent_read;
  `);
});

afterAll(async () => b?.close());

function leaks(text: string): boolean {
  return text.toUpperCase().includes(PLANTED) || text.toLowerCase().includes(PLANTED.toLowerCase());
}

describe('names resolve on the search_path of the profile role', () => {
  it('the shadowing table is what the agent reads (the premise of the tests below)', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select status from sp_orders' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.columns[0].masked).toBe('redact');
    expect(leaks(JSON.stringify(r.body))).toBe(false);
  });

  it('masks an expression over the shadowing table’s masked column', async () => {
    for (const sql of ['select upper(status) as s from sp_orders', 'select status || \'\' as s from sp_orders', 'select lower(status) from sp_orders o']) {
      const r = await b.query({ connection: 'sales', sql });
      expect(leaks(JSON.stringify(r.body)), `${sql}: ${JSON.stringify(r.body)}`).toBe(false);
      if (r.status === 200) expect(r.body.columns[0].masked, sql).not.toBe(false);
    }
    expect(b.logs.some(leaks)).toBe(false);
  });

  it('judges an unqualified function by the one the agent’s session would call', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select sp_touch()' });
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('volatile_function');
    // …and it did not run: its session-level advisory lock is held by no one.
    const locks = await b.db.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = 731001");
    expect(locks.rows[0]!.n).toBe(0);
  });
});
