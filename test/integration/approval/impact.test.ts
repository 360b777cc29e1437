/**
 * The impact preview (issue 21): for a held UPDATE/DELETE the approver sees the exact number of
 * rows it would touch now and the first 10, masked as their own reads — computed by a SELECT built
 * from the statement's tree, never by running the write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApprovalBroker, WRITER, APPROVER, type ApprovalTestBroker } from './harness.js';
import { computeImpact, previewQueries, type ImpactDeps } from '../../../src/approval/review/impact.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import type { ApprovalRequestRecord } from '../../../src/approval/types.js';
import type { Principal } from '../../../src/identity/principal.js';

let b: ApprovalTestBroker;
beforeAll(async () => {
  b = await startApprovalBroker();
});
afterAll(async () => b?.close());

const approver = (roles: string[]): Principal => ({ oid: 'dev-approver-x', sub: 'approver-x', roles, groups: [], idtyp: 'user', exp: 0 });

function record(sql: string, params: unknown[] = []): ApprovalRequestRecord {
  const now = new Date().toISOString();
  return {
    v: 1, requestId: 'r_impacttest000000000000', sessionId: 's_impacttest', state: 'pending_approval', sqlHash: '0'.repeat(64), sql, params, reasons: [],
    requester: { oid: `dev-${WRITER.sub}`, sub: WRITER.sub, roles: [...WRITER.roles], groups: [], idtyp: 'app' },
    connection: 'sales', profile: 'agent-write', createdAt: now, expiresAt: now, updatedAt: now,
  } as ApprovalRequestRecord;
}


const impactDeps = (): ImpactDeps => ({ executor: () => b.runtime.broker, policy: b.runtime.policy });

describe('impact preview', () => {
  it('a WHERE that reads session state gets no preview: the read-only preview session is not the session the approved write runs in', async () => {
    // Before: 'would touch 0 row(s)' for a DELETE of every order (the preview's transaction is read-only).
    const all = (await b.db.query('select count(*)::int as n from orders')).rows[0]!.n;
    expect(all).toBeGreaterThan(0);
    for (const [where, shown] of [
      ["current_setting('transaction_read_only') = 'off'", 'current_setting()'],
      ["current_user <> 'nobody' and session_user = current_user", 'current_user'],
      ["not exists (select 1 from pg_settings where name = 'transaction_read_only' and setting = 'on')", 'pg_settings'],
      ["(select count(*) from pg_catalog.pg_stat_activity where query like 'delete%') >= 0", 'pg_catalog.pg_stat_activity'],
    ] as const) {
      const p = await computeImpact(impactDeps(), record(`delete from orders where id > 0 and ${where}`), approver(['Query.Approve']));
      expect(p, where).toMatchObject({ kind: 'unavailable', message: expect.stringContaining(`reads the session's own state (${shown})`) });
    }
  });


  it('count and rows match the database, through USING and parameters; nothing is changed', async () => {
    const sql = 'delete from orders o using customers c where o.customer_id = c.id and c.country = $1 and o.amount_cents > $2';
    const before = (await b.db.query('select count(*)::int as n from orders')).rows[0]!.n;
    const p = await computeImpact(impactDeps(), record(sql, ['GB', 1000]), approver(['Query.Approve']));
    expect(p?.kind, JSON.stringify(p)).toBe('rows');
    if (p?.kind !== 'rows') return;
    const truth = await b.db.query<{ id: number }>("select o.id from orders o join customers c on o.customer_id = c.id where c.country = 'GB' and o.amount_cents > 1000 order by o.id");
    expect(p.rowCount).toBe(truth.rows.length);
    expect(p.rows).toHaveLength(Math.min(10, truth.rows.length));
    const idColumn = p.columns.findIndex((c) => c.name === 'id');
    const shown = p.rows.map((r) => Number(r[idColumn]));
    for (const id of shown) expect(truth.rows.map((r) => r.id)).toContain(id);
    expect(p.columns.map((c) => c.name)).toEqual(['id', 'customer_id', 'amount_cents', 'status', 'created_at']);
    expect(Date.parse(p.computedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await b.db.query('select count(*)::int as n from orders')).rows[0]!.n).toBe(before);
  });

  it('a masked column is masked for a non-exempt approver and clear for an exempt one', async () => {
    const sql = "update customers set country = 'XX' where country = 'GB'";
    const masked = await computeImpact(impactDeps(), record(sql), approver(['Query.Approve']));
    const clear = await computeImpact(impactDeps(), record(sql), approver(['Query.Approve', 'PII.Read']));
    if (masked?.kind !== 'rows' || clear?.kind !== 'rows') throw new Error(JSON.stringify({ masked, clear }));
    expect(masked.rowCount).toBe(2);
    const email = masked.columns.findIndex((c) => c.name === 'email');
    expect(masked.columns[email]!.masked).toBe('email');
    const cell = JSON.stringify(masked.rows);
    expect(cell).not.toContain('ada@example.com');
    expect(cell).not.toContain('123-45-6789');
    expect(JSON.stringify(clear.rows)).toContain('ada@example.com');
    expect((await b.db.query("select count(*)::int as n from customers where country = 'XX'")).rows[0]!.n).toBe(0);
  });

  it('a statement whose preview cannot be built says so', async () => {
    const withWrite = 'with gone as (delete from orders returning id) update customers set name = name where id in (select id from gone)';
    const p = await computeImpact(impactDeps(), record(withWrite), approver(['Query.Approve']));
    expect(p).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/data-modifying WITH/) });
    const setOnly = await computeImpact(impactDeps(), record("update customers set name = $1 where country = 'GB'", ['x']), approver(['Query.Approve']));
    expect(setOnly).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/SET list/) });
    expect(await previewQueries(analyzeSql('select 1').stmt.stmt)).toHaveProperty('error');
    const policy = b.runtime.policy;
    const mysql = { ...policy, connections: { ...policy.connections, sales: { ...policy.connections.sales!, engine: 'mysql' as const } } };
    expect(await computeImpact({ executor: () => b.runtime.broker, policy: mysql }, record('truncate orders'), approver(['Query.Approve']))).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/PostgreSQL and MySQL connections only/) });
  });

  it('the review page shows it for a held DELETE', async () => {
    const held = await b.query({ connection: 'sales', sql: 'delete from customers', reason: 'impact' }, [...WRITER.roles], WRITER.sub);
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    const page = await b.fetch(`/api/approvals/${held.body.requestId}`, { headers: { authorization: `Bearer ${await b.tokenFor([...APPROVER.roles], APPROVER.sub)}` } });
    const html = await page.text();
    expect(html).toContain('<strong id="impact-count">5</strong>');
    expect(html).toContain('id="impact-computed-at"');
    expect(html).not.toContain('ada@example.com');
    expect((await b.db.query('select count(*)::int as n from customers')).rows[0]!.n).toBe(5);
  });

  it('the notification (and so the card) carries the count in one line', async () => {
    const held = await b.query({ connection: 'sales', sql: "update customers set country = country where $1::int > 0", params: [1], reason: 'card' }, [...WRITER.roles], WRITER.sub);
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === held.body.requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const n = b.notifications.find((x) => x.requestId === held.body.requestId);
    expect(n?.impact).toMatch(/^would touch 5 row\(s\) \(computed /);
  });
});

describe('impact preview of TRUNCATE, DROP and ALTER TABLE', () => {
  const ROWS = 5000;
  beforeAll(async () => {
    await b.db.query(`create table impact_big (id int primary key, note text);
      insert into impact_big select g, repeat('x', 100) from generate_series(1, ${ROWS}) g;
      analyze impact_big;
      create view impact_big_v as select id from impact_big where id < 10;
      create table impact_child (id int primary key, big_id int references impact_big(id));
      insert into impact_child values (1, 1);
      create table impact_fresh (id int);
      create schema impact_s;
      create table impact_s.a (id int);
      create table impact_s.b (id int);
      create view impact_outside as select * from impact_s.a;
      create schema impact_priv;
      create table impact_priv.t (id int);
      grant select on all tables in schema public to qb_agent_read, qb_agent_write`);
  });
  const truth = async (name: string) => (await b.db.query<{ bytes: string; pretty: string }>(`select pg_total_relation_size($1::regclass)::text as bytes, pg_size_pretty(pg_total_relation_size($1::regclass)) as pretty`, [name])).rows[0]!;
  const bigRows = async () => (await b.db.query<{ n: number }>('select count(*)::int as n from impact_big')).rows[0]!.n;
  const preview = async (sql: string) => {
    const p = await computeImpact(impactDeps(), record(sql), approver(['Query.Approve']));
    if (p?.kind !== 'objects') throw new Error(JSON.stringify(p));
    return p;
  };

  it('TRUNCATE shows the row estimate and total size; CASCADE names the referencing table; nothing is emptied', async () => {
    const p = await preview('truncate impact_big cascade');
    const size = await truth('impact_big');
    expect(p.objects).toEqual([{ name: 'public.impact_big', exists: true, kind: 'table', rowEstimate: ROWS, totalBytes: Number(size.bytes), totalSize: size.pretty }]);
    expect(p.dependents).toEqual(['table public.impact_child']);
    expect(Date.parse(p.computedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await bigRows()).toBe(ROWS);
  });

  it('DROP TABLE … CASCADE lists the dependent view and the foreign key, not the table\'s own parts; nothing is dropped', async () => {
    const p = await preview('drop table public.impact_big cascade');
    expect(p.statement).toBe('DROP TABLE');
    expect(p.dependents).toContain('view public.impact_big_v');
    expect(p.dependents?.some((d) => /impact_child_big_id_fkey on public\.impact_child/.test(d))).toBe(true);
    expect(p.dependents?.some((d) => /impact_big_pkey|type /.test(d))).toBe(false);
    expect((await b.db.query("select to_regclass('impact_big_v') is not null as ok")).rows[0]!.ok).toBe(true);
    expect(await bigRows()).toBe(ROWS);
  });

  it('a missing object says it does not exist; a never analyzed table says so; a schema gives its relations and size', async () => {
    const missing = await preview('drop table if exists impact_nope, impact_fresh');
    expect(missing.objects[0]).toEqual({ name: 'impact_nope', exists: false });
    expect(missing.objects[1]).toMatchObject({ name: 'public.impact_fresh', exists: true, rowEstimate: 'never analyzed' });
    expect(missing.dependents).toBeUndefined();
    const schema = await preview('drop schema impact_s cascade');
    expect(schema.objects[0]).toMatchObject({ name: 'impact_s', kind: 'schema', relations: 2 });
    expect(schema.dependents).toEqual(['view public.impact_outside']);
    const hidden = await preview('truncate impact_priv.t');
    expect(hidden.objects).toEqual([{ name: 'impact_priv.t', exists: false, hidden: true }]);
    const alter = await preview('alter table impact_big add column extra int');
    expect(alter).toMatchObject({ statement: 'ALTER TABLE', objects: [{ name: 'public.impact_big', kind: 'table', rowEstimate: ROWS }] });
  });

  it('a schema change without an object preview says why; ALTER INDEX and DROP INDEX … CASCADE are previewed', async () => {
    const fn = await computeImpact(impactDeps(), record('drop function if exists impact_f()'), approver(['Query.Approve']));
    expect(fn).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^DROP FUNCTION is not previewed/) });
    expect(await computeImpact(impactDeps(), record('create table impact_new (id int)'), approver(['Query.Approve']))).toBeUndefined();
    expect(await preview('alter index impact_big_pkey set (fillfactor = 90)')).toMatchObject({ statement: 'ALTER INDEX', objects: [{ name: 'public.impact_big_pkey', kind: 'index', rowEstimate: ROWS }] });
    expect(await preview('alter table impact_big rename column note to remark')).toMatchObject({ statement: 'ALTER TABLE', objects: [{ name: 'public.impact_big' }] });
    const index = await preview('drop index impact_big_pkey cascade');
    expect(index.dependents?.some((d) => /impact_child_big_id_fkey/.test(d))).toBe(true);
  });

  it('the review page and the card line show a held TRUNCATE\'s estimate and size, and a held DROP … CASCADE\'s dependent view', async () => {
    const size = await truth('impact_big');
    const token = await b.tokenFor([...APPROVER.roles], APPROVER.sub);
    const truncate = await b.query({ connection: 'sales', sql: 'truncate impact_big', reason: 'impact' }, [...WRITER.roles], WRITER.sub);
    expect(truncate.status, JSON.stringify(truncate.body)).toBe(202);
    const html = await (await b.fetch(`/api/approvals/${truncate.body.requestId}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(html).toContain('<ul id="impact-objects"><li>table <code>public.impact_big</code>, about <strong>5,000</strong> rows (planner estimate, not a count)');
    expect(html).toContain(`<strong>${size.pretty}</strong> (${Number(size.bytes).toLocaleString('en-US')} bytes`);
    expect(html).toContain('id="impact-computed-at"');
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === truncate.body.requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.notifications.find((x) => x.requestId === truncate.body.requestId)?.impact).toMatch(new RegExp(`^TRUNCATE public\\.impact_big: ~5,000 rows, ${size.pretty} \\(computed `));

    const drop = await b.query({ connection: 'sales', sql: 'drop table impact_big cascade', reason: 'impact' }, [...WRITER.roles], WRITER.sub);
    expect(drop.status, JSON.stringify(drop.body)).toBe(202);
    const dropHtml = await (await b.fetch(`/api/approvals/${drop.body.requestId}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(dropHtml).toMatch(/With CASCADE: 2 dependent object\(s\) would go too/);
    expect(dropHtml).toContain('<li><code>view public.impact_big_v</code></li>');
    expect(await bigRows()).toBe(ROWS);
  });
});
