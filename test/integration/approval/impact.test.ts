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
