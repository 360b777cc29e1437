/**
 * Required justification (issue 21): a profile's `requireReason` refuses a request without a
 * reason with 400 and a hint (database unchanged, refusal recorded); a given reason travels to the
 * approval notification and its Teams card, the review page, the audit records and the broker events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApprovalBroker, WRITER, APPROVER, READER, type ApprovalTestBroker } from './harness.js';
import { buildApprovalCard } from '../../../src/approval/notify/card.js';
import type { BrokerEvent } from '../../../src/broker/ports.js';

let b: ApprovalTestBroker;
const published: BrokerEvent[] = [];
const REASON = 'Ticket OPS-4711: remove the orders of the load test <b>now</b>';

beforeAll(async () => {
  b = await startApprovalBroker({
    policyPatch: (p) => {
      p.profiles['agent-write'].requireReason = 'writes';
      p.profiles['agent-read'].requireReason = 'all';
    },
  });
  b.publisher.subscribe('*', (e) => void published.push(e));
});
afterAll(async () => b?.close());

const ordersCount = async () => (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;

describe('requireReason', () => {
  it('writes: a write without a reason (or with a blank one) is refused with 400 and a hint, nothing runs, the refusal is recorded', async () => {
    const before = await ordersCount();
    for (const body of [{ connection: 'sales', sql: 'delete from orders where id = 1' }, { connection: 'sales', sql: 'delete from orders where id = 1', reason: '   ' }]) {
      const r = await b.query(body, [...WRITER.roles], WRITER.sub);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toEqual(['reason_required']);
      expect(r.body.error.hint).toMatch(/"reason"/);
      const events = await b.events(r.body.sessionId, r.body.requestId);
      expect(events.find((e) => e.type === 'decision')?.data).toMatchObject({ outcome: 'denied', reasons: [{ code: 'reason_required' }] });
    }
    expect(await ordersCount()).toBe(before);
  });

  it('writes: a read through the same profile needs no reason; all: a read without one is refused, with one it runs', async () => {
    expect((await b.query({ connection: 'sales', sql: 'select count(*) from orders' }, [...WRITER.roles], WRITER.sub)).status).toBe(200);
    const refused = await b.query({ connection: 'sales', sql: 'select count(*) from orders' }, [...READER.roles], READER.sub);
    expect(refused.status).toBe(400);
    expect(refused.body.error.reasons[0].code).toBe('reason_required');
    const ok = await b.query({ connection: 'sales', sql: 'select count(*) from orders', reason: 'count for the weekly report' }, [...READER.roles], READER.sub);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it('the reason reaches the notification, the card, the review page, the audit records and the events', async () => {
    const r = await b.query({ connection: 'sales', sql: 'delete from orders', reason: REASON }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sessionId } = r.body;

    // The notification is sent by the workflow's activity, after the 202.
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const n = b.notifications.find((x) => x.requestId === requestId);
    expect(n?.reason).toBe(REASON);
    const card = JSON.stringify(buildApprovalCard(n!));
    expect(card).toContain("Agent's reason");
    expect(card).toContain('Ticket OPS\\\\-4711');

    const page = await b.fetch(`/api/approvals/${requestId}`, { headers: { authorization: `Bearer ${await b.tokenFor([...APPROVER.roles], APPROVER.sub)}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<dd id="agent-reason">Ticket OPS-4711: remove the orders of the load test &#60;b&#62;now&#60;/b&#62;</dd>');
    expect(html).not.toContain('<b>now</b>');

    const events = await b.events(sessionId, requestId);
    expect(events.find((e) => e.type === 'request.received')?.data.reason).toBe(REASON);
    expect(events.find((e) => e.type === 'approval.requested')?.data.reason).toBe(REASON);
    await b.publisher.settled();
    // The broker event of the request's audit record (Service Bus in Azure) carries it.
    const announced = published.filter((e) => (e.data as { requestId?: string }).requestId === requestId);
    const details = (type: string) => (announced.find((e) => e.type === type)?.data as { details?: Record<string, unknown> } | undefined)?.details;
    expect(details('audit.request.received')?.reason).toBe(REASON);
  });

  it('approval.requested and approval.decided reach the event publisher with the request, requester, approver and reason', async () => {
    const r = await b.query({ connection: 'sales', sql: 'delete from orders where amount_cents > 0', reason: REASON }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sqlHash } = r.body;
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const d = await b.decide(requestId, { decision: 'reject', sqlHash, comment: 'not during business hours' }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    await b.pollUntilSettled(requestId, [...WRITER.roles], WRITER.sub);
    await b.publisher.settled();
    type Announced = { requestId?: string; actor?: { oid?: string }; details?: Record<string, any> };
    const of = (type: string) => published.find((e) => e.type === type && (e.data as Announced).requestId === requestId)?.data as Announced | undefined;
    const requested = of('audit.approval.requested');
    expect(requested?.actor?.oid).toBe(`dev-${WRITER.sub}`);
    expect(requested?.details).toMatchObject({ reason: REASON, sqlHash, connection: 'sales', profile: 'agent-write' });
    const decided = of('audit.approval.decided');
    expect(decided?.actor?.oid).toBe(`dev-${APPROVER.sub}`);
    expect(decided?.details).toMatchObject({ decision: 'rejected', approver: { oid: `dev-${APPROVER.sub}` }, sqlHash, comment: 'not during business hours' });
    expect(await ordersCount()).toBeGreaterThan(0);
  });
});
