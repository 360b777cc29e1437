import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => b?.close());

const WRITE = ['Query.Write'];
const statuses = async () => (await b.db.query<{ status: string; n: number }>('select status, count(*)::int as n from orders group by status order by status')).rows;

describe('bulk writes over the approval threshold', () => {
  it('holds a write the planner underestimates: rolled back, nothing changed, sent for approval', async () => {
    const before = await statuses();
    // Expressions without statistics get default selectivities: the planner estimates ~2 of 50 rows.
    const sql = "update orders set status = 'archived' where (id * 1) > 0 and (customer_id * 1) > 0 and (amount_cents * 1) > 0";
    const dry = await b.query({ connection: 'sales', sql, dryRun: true }, WRITE);
    expect(dry.status).toBe(200);
    expect(dry.body.estimatedRows).toBeLessThanOrEqual(10);

    const r = await b.query({ connection: 'sales', sql }, WRITE);
    expect(r.status).toBe(202);
    expect(r.body.decision).toBe('pending_approval');
    expect(r.body.reasons.map((x: { code: string }) => x.code)).toEqual(['affected_rows_over_threshold']);
    expect(r.body.reasons[0].message).toMatch(/50 rows/);
    expect(await statuses()).toEqual(before);

    const status = await b.fetch(r.body.statusUrl, { headers: { authorization: `Bearer ${await b.token({ sub: 'agent-1', roles: WRITE, name: 'Test agent-1' })}` } });
    expect(status.status).toBe(200);
    expect((await status.json()).state).toBe('pending_approval');

    // The dry run above shares the identity's default session: this request's events, in order.
    const timeline = (await b.audit.read(r.body.sessionId)).filter((e) => e.requestId === r.body.requestId);
    expect(timeline.map((e) => [e.type, e.data.outcome])).toEqual([
      ['request.received', undefined],
      ['decision', 'allowed'],
      ['decision', 'pending_approval'],
      ['approval.requested', undefined],
    ]);
  });

  it('commits a write under the threshold', async () => {
    const r = await b.query({ connection: 'sales', sql: "update orders set status = 'shipped' where id in (1, 2, 3)" }, WRITE);
    expect(r.status).toBe(200);
    expect(r.body.rowCount).toBe(3);
    expect((await b.db.query('select count(*)::int as n from orders where id in (1,2,3) and status = $1', ['shipped'])).rows[0]).toEqual({ n: 3 });
  });
});
