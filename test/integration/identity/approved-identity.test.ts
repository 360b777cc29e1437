/**
 * An approved write runs as the requester's (qb.principal_oid …) with the approver in
 * qb.approved_by: checked by a DBA's trigger that records what it saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApprovalBroker, WRITER, APPROVER, type ApprovalTestBroker } from '../approval/harness.js';

let b: ApprovalTestBroker;

beforeAll(async () => {
  b = await startApprovalBroker();
  await b.db.query(`
    create table public.qb_seen (order_id int, principal_oid text, request_id text, session_id text, approved_by text, app_name text);
    create function public.qb_seen_writer() returns trigger language plpgsql security definer as $$
    begin
      insert into public.qb_seen values (new.id, current_setting('qb.principal_oid'), current_setting('qb.request_id'),
        current_setting('qb.session_id'), current_setting('qb.approved_by'), current_setting('application_name'));
      return new;
    end $$;
    create trigger qb_orders_seen after update on public.orders for each row execute function public.qb_seen_writer();
  `);
});
afterAll(async () => b?.close());

describe('approved work carries the requester and the approver', () => {
  it('the trigger sees the requester as principal and the approver as qb.approved_by', async () => {
    const r = await b.query({ connection: 'sales', sql: "update orders set status = 'reviewed'", reason: 'identity test' }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;
    expect((await b.db.query('select count(*)::int as n from qb_seen')).rows[0]!.n).toBe(0);
    const d = await b.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    const done = await b.pollUntilSettled(requestId, [...WRITER.roles], WRITER.sub);
    expect(done.state, JSON.stringify(done)).toBe('executed');
    const total = (await b.db.query('select count(*)::int as n from orders')).rows[0]!.n;
    const seen = (await b.db.query('select distinct principal_oid, request_id, session_id, approved_by, app_name from qb_seen')).rows;
    expect(seen).toEqual([{ principal_oid: `dev-${WRITER.sub}`, request_id: requestId, session_id: sessionId, approved_by: `dev-${APPROVER.sub}`, app_name: expect.stringMatching(new RegExp(`^qb ${requestId} `)) }]);
    expect((await b.db.query('select count(*)::int as n from qb_seen')).rows[0]!.n).toBe(total);
  });
});
