import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { startApprovalBroker, WRITER, APPROVER, SECOND_APPROVER, AUDITOR, READER, type ApprovalTestBroker } from '../integration/approval/harness.js';

/**
 * The approval flow over HTTP with bearer tokens (agent, approvers, auditors, CLI): the 202, the
 * status the agent polls, approve / reject / expiry, and every abuse refused, recorded in the
 * requester's audit chain, with the database unchanged.
 */
let b: ApprovalTestBroker;

beforeAll(async () => {
  b = await startApprovalBroker();
});
afterAll(async () => b?.close());

const ordersCount = async () => (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;

async function holdDelete(sql = 'delete from orders') {
  const r = await b.query({ connection: 'sales', sql, reason: 'clean up test orders' }, [...WRITER.roles], WRITER.sub);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r;
}

async function refusedCodes(sessionId: string, requestId: string): Promise<string[]> {
  return (await b.events(sessionId, requestId)).filter((e) => e.type === 'approval.attempt_refused').map((e) => String(e.data.code));
}

describe('held for approval', () => {
  it('answers 202 with requestId, sqlHash, reasons, statusUrl and Location; the status is visible to requester, approvers and auditors only', async () => {
    const before = await ordersCount();
    const r = await holdDelete();
    const { requestId, sessionId, sqlHash, statusUrl } = r.body;
    expect(r.body.decision).toBe('pending_approval');
    expect(sqlHash).toBe(createHash('sha256').update('delete from orders').digest('hex'));
    expect(r.body.reasons.map((x: { code: string }) => x.code)).toContain('delete_without_where');
    expect(statusUrl).toBe(`/api/requests/${requestId}`);
    expect(r.headers.get('location')).toBe(statusUrl);
    expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now() + 50 * 60_000);

    const mine = await b.status(requestId, [...WRITER.roles], WRITER.sub);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ requestId, sessionId, state: 'pending_approval', sqlHash, sql: 'delete from orders', connection: 'sales', params: [] });
    expect((await b.status(requestId, [...APPROVER.roles], APPROVER.sub)).body.state).toBe('pending_approval');
    const audited = await b.status(requestId, [...AUDITOR.roles], AUDITOR.sub);
    expect(audited.status).toBe(200);
    expect(audited.body.params).toBeUndefined();
    // Another agent (even with the same roles) and a reader: the request does not exist for them.
    expect((await b.status(requestId, [...WRITER.roles], 'other-writer')).status).toBe(404);
    expect((await b.status(requestId, [...READER.roles], READER.sub)).status).toBe(404);
    expect((await b.status('r_doesnotexist000000', [...WRITER.roles], WRITER.sub)).status).toBe(404);

    // Recorded and announced: approval.requested in the chain, a notification with the review link.
    const events = await b.events(sessionId, requestId);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['decision', 'approval.requested']));
    const n = b.notifications.find((x) => x.requestId === requestId);
    expect(n).toMatchObject({ sql: 'delete from orders', sqlHash, connection: 'sales', reviewUrl: `${b.url}/api/approvals/${requestId}` });
    expect(await ordersCount()).toBe(before);
  });
});

describe('OpenAPI', () => {
  it('describes the request status and the approval routes', async () => {
    const doc = await (await b.fetch('/api/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/requests/{requestId}', '/api/approvals/{requestId}']));
    expect(Object.keys(doc.paths['/api/approvals/{requestId}'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(doc.paths['/api/approvals/{requestId}'].post.requestBody.content).toHaveProperty('application/json');
    expect(doc.components.schemas).toHaveProperty('RequestStatus');
  });
});

describe('approve, reject', () => {
  it('an approver approves with the sqlHash; the agent\'s poll returns executed with the result', async () => {
    const r = await b.query(
      { connection: 'sales', sql: "update orders set status = 'archived' returning id, status", reason: 'archive' },
      [...WRITER.roles],
      WRITER.sub,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;
    const total = await ordersCount();
    expect((await b.db.query<{ n: number }>("select count(*)::int as n from orders where status = 'archived'")).rows[0]!.n).toBe(0);

    const d = await b.decide(requestId, { decision: 'approve', sqlHash, comment: 'ok for the test' }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body.state).toMatch(/approved|executed/);

    const done = await b.pollUntilSettled(requestId, [...WRITER.roles], WRITER.sub);
    expect(done.state).toBe('executed');
    expect(done.decision).toMatchObject({ outcome: 'approved', approver: { oid: `dev-${APPROVER.sub}` }, comment: 'ok for the test' });
    expect(done.result.rowCount).toBe(total);
    expect(done.result.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'status']);
    expect(done.result.rows.every((row: unknown[]) => row[1] === 'archived')).toBe(true);
    expect((await b.db.query<{ n: number }>("select count(*)::int as n from orders where status = 'archived'")).rows[0]!.n).toBe(total);

    // In order: held, announced, decided, executed.
    const types = (await b.events(sessionId, requestId)).map((e) => e.type).filter((t) => t !== 'request.received');
    expect(types).toEqual(['decision', 'approval.requested', 'approval.decided', 'executed']);
    expect((await b.audit.verify(sessionId)).valid).toBe(true);
  });

  it('a rejection ends it: nothing runs, the poll says rejected, a second decision is refused', async () => {
    const before = await ordersCount();
    const { body } = await holdDelete();
    const d = await b.decide(body.requestId, { decision: 'reject', sqlHash: body.sqlHash, comment: 'no' }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status).toBe(200);
    expect(d.body.state).toBe('rejected');
    expect((await b.pollUntilSettled(body.requestId, [...WRITER.roles], WRITER.sub)).state).toBe('rejected');
    const again = await b.decide(body.requestId, { decision: 'approve', sqlHash: body.sqlHash }, [...SECOND_APPROVER.roles], SECOND_APPROVER.sub);
    expect(again.status).toBe(409);
    expect(again.body.error.reasons[0].code).toBe('already_decided');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await ordersCount()).toBe(before);
    expect(await refusedCodes(body.sessionId, body.requestId)).toEqual(['already_decided']);
    const decided = (await b.events(body.sessionId, body.requestId)).filter((e) => e.type === 'approval.decided');
    expect(decided.map((e) => e.data.decision)).toEqual(['rejected']);
  });
});

describe('refused attempts (recorded, database unchanged)', () => {
  it('self-approval, a non-approver, an application holding the approver role, a wrong sqlHash, a forged principal header', async () => {
    const before = await ordersCount();
    // The requester also holds the approver role: still not allowed to approve their own request.
    const selfRoles = ['Query.Write', 'Query.Approve'];
    const r = await b.query({ connection: 'sales', sql: 'delete from orders' }, selfRoles, 'self-approver');
    expect(r.status).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;

    const self = await b.decide(requestId, { decision: 'approve', sqlHash }, selfRoles, 'self-approver');
    expect(self.status).toBe(403);
    expect(self.body.error.reasons[0].code).toBe('self_approval');

    const nonApprover = await b.decide(requestId, { decision: 'approve', sqlHash }, ['Query.Read', 'Query.Write'], 'another-agent');
    expect(nonApprover.status).toBe(403);
    expect(nonApprover.body.error.reasons[0].code).toBe('not_an_approver');

    // An application (an agent) that was given the approver role: approvals are for people.
    const appApprover = await b.token({ sub: 'approver-app', roles: ['Query.Approve'], idtyp: 'app' });
    const byApp = await b.fetch(`/api/approvals/${requestId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${appApprover}` },
      body: JSON.stringify({ decision: 'approve', sqlHash }),
    });
    expect(byApp.status).toBe(403);
    expect((await byApp.json()).error.reasons[0].code).toBe('approver_not_a_person');

    const wrongHash = await b.decide(requestId, { decision: 'approve', sqlHash: createHash('sha256').update('delete from orders where id = 1').digest('hex') }, [...APPROVER.roles], APPROVER.sub);
    expect(wrongHash.status).toBe(409);
    expect(wrongHash.body.error.reasons[0].code).toBe('sql_hash_mismatch');

    // Outside Azure a client wrote this header: refused even with a valid approver token beside it.
    const forgedPrincipal = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'forged-admin' }, { typ: 'roles', val: 'Query.Approve' }], role_typ: 'roles' }),
    ).toString('base64');
    const forged = await b.fetch(`/api/approvals/${requestId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ms-client-principal': forgedPrincipal, 'x-ms-client-principal-idp': 'aad' },
      body: JSON.stringify({ decision: 'approve', sqlHash }),
    });
    // (With the app-wide bearer check in front, an unauthenticated request may stop at 401 before the route.)
    expect(forged.status).toBe(401);
    const forgedWithToken = await b.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub, { 'x-ms-client-principal': forgedPrincipal });
    expect(forgedWithToken.status).toBe(401);
    expect(forgedWithToken.body.error.reasons[0].code).toBe('untrusted_principal_header');

    const codes = await refusedCodes(sessionId, requestId);
    expect(codes).toEqual(expect.arrayContaining(['self_approval', 'not_an_approver', 'approver_not_a_person', 'sql_hash_mismatch', 'untrusted_principal_header']));
    const forgedEvent = (await b.events(sessionId, requestId)).find((e) => e.type === 'approval.attempt_refused' && e.data.code === 'untrusted_principal_header');
    expect(forgedEvent?.actor.oid).toBe('unverified');
    expect(JSON.stringify(forgedEvent?.data)).toContain('forged-admin');

    // Still pending, nothing ran, the chain is intact.
    expect((await b.status(requestId, [...WRITER.roles], 'self-approver')).body.state).toBe('pending_approval');
    expect(await ordersCount()).toBe(before);
    expect((await b.events(sessionId, requestId)).some((e) => e.type === 'approval.decided' || e.type === 'executed')).toBe(false);
    expect((await b.audit.verify(sessionId)).valid).toBe(true);

    // The legitimate approver can still decide afterwards: refusals did not consume the request.
    const ok = await b.decide(requestId, { decision: 'reject', sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(ok.status).toBe(200);
  });

  it('rejects a decision body that is not a decision', async () => {
    const { body } = await holdDelete();
    const bad = await b.decide(body.requestId, { decision: 'maybe', sqlHash: body.sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(bad.status).toBe(400);
    const unknown = await b.decide('r_doesnotexist000000', { decision: 'approve', sqlHash: body.sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(unknown.status).toBe(404);
  });
});

describe('expiry', () => {
  let e: ApprovalTestBroker;
  beforeAll(async () => {
    e = await startApprovalBroker({ approvals: { expiresAfterMs: () => 1500 } });
  });
  afterAll(async () => e?.close());

  it('expires by its timer: the poll says expired, a late approval is refused and recorded, nothing ran', async () => {
    const before = (await e.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    const r = await e.query({ connection: 'sales', sql: 'delete from orders' }, [...WRITER.roles], WRITER.sub);
    expect(r.status).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;
    expect(Date.parse(r.body.expiresAt) - Date.now()).toBeLessThan(2000);

    const settled = await e.pollUntilSettled(requestId, [...WRITER.roles], WRITER.sub, 10_000);
    expect(settled.state).toBe('expired');
    // Wait for the timer's settle activity to record the expiry.
    await e.approvals.runner.completion(requestId);
    const late = await e.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(late.status).toBe(409);
    expect(late.body.error.reasons[0].code).toBe('expired');

    const events = await e.events(sessionId, requestId);
    expect(events.filter((x) => x.type === 'approval.decided').map((x) => x.data.decision)).toEqual(['expired']);
    expect(events.filter((x) => x.type === 'approval.attempt_refused').map((x) => x.data.code)).toEqual(['expired']);
    expect(events.some((x) => x.type === 'executed')).toBe(false);
    expect((await e.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n).toBe(before);
    expect((await e.status(requestId, [...WRITER.roles], WRITER.sub)).body.state).toBe('expired');
  });
});

describe('approved statements under a just-in-time role', () => {
  let j: ApprovalTestBroker;
  const adminEnv = `QB_TEST_ADMIN_${Date.now()}`;
  beforeAll(async () => {
    j = await startApprovalBroker({
      policyPatch: (p) => {
        p.connections.sales.admin = { credentials: { env: adminEnv } };
      },
    });
    // The admin credential: this test database's superuser URL (may CREATE ROLE and grant qb_agent_write).
    process.env[adminEnv] = j.db.adminUrl;
  });
  afterAll(async () => {
    await j?.close();
    delete process.env[adminEnv];
  });

  it('runs as a fresh login role that holds the profile role, and drops it afterwards', async () => {
    const r = await j.query({ connection: 'sales', sql: "update orders set status = 'jit' returning id, session_user::text as login, current_user::text as acting" }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const d = await j.decide(r.body.requestId, { decision: 'approve', sqlHash: r.body.sqlHash }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status).toBe(200);
    const done = await j.pollUntilSettled(r.body.requestId, [...WRITER.roles], WRITER.sub);
    expect(done.state, JSON.stringify(done.error)).toBe('executed');
    const logins = new Set(done.result.rows.map((row: unknown[]) => row[1]));
    expect(logins.size).toBe(1);
    expect([...logins][0]).toMatch(/^qb_jit_[0-9a-f]{12}_[0-9a-f]{8}$/);
    expect(new Set(done.result.rows.map((row: unknown[]) => row[2]))).toEqual(new Set(['qb_agent_write']));
    expect((await j.db.query<{ n: number }>("select count(*)::int as n from orders where status = 'jit'")).rows[0]!.n).toBe(50);
    const left = await j.db.query('select rolname from pg_roles where rolname = $1', [[...logins][0]]);
    expect(left.rows).toEqual([]);
  });
});

describe('the stored result of an exempt requester is masked for everyone who can read it', () => {
  // The demo's planted values (customer 1) and the role that sees them in clear.
  const PLANTED = ['4111111111111111', '123-45-6789', 'ada@example.com'];
  const EXEMPT_WRITER = { roles: [...WRITER.roles, 'PII.Read'], sub: 'exempt-writer' } as const;
  const planted = (x: unknown) => PLANTED.filter((p) => JSON.stringify(x).includes(p));

  it('approver, auditor and the requester read masked values; the executed event keeps no clear sample', async () => {
    const r = await b.query({ connection: 'sales', sql: 'update customers set name = name returning id, email, card_number, ssn' }, [...EXEMPT_WRITER.roles], EXEMPT_WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;
    expect((await b.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub)).status).toBe(200);
    const done = await b.pollUntilSettled(requestId, [...EXEMPT_WRITER.roles], EXEMPT_WRITER.sub);
    expect(done.state, JSON.stringify(done.error)).toBe('executed');

    const seen = [
      done,
      (await b.status(requestId, [...APPROVER.roles], APPROVER.sub)).body,
      (await b.status(requestId, [...AUDITOR.roles], AUDITOR.sub)).body,
    ];
    for (const body of seen) {
      expect(planted(body)).toEqual([]);
      expect(body.result.columns.map((c: { masked: unknown }) => c.masked)).toEqual([false, 'email', 'last4', 'redact']);
      expect(body.result.rows.length).toBe(body.result.rowCount);
    }
    // Masked, not dropped: customer 1's card keeps its last four digits.
    const first = done.result.rows.find((row: unknown[]) => row[0] === 1);
    expect(String(first[2])).toMatch(/1111$/);

    const events = await b.events(sessionId, requestId);
    expect(events.some((e) => e.type === 'executed')).toBe(true);
    expect(planted(events)).toEqual([]);
  });

  it('a statement that cannot be masked for a non-exempt viewer runs, but its rows are withheld from the stored result', async () => {
    // Writes a value derived from ssn into a clear column: refused for anyone not exempt, so no
    // masked form of its result exists. (substr(ssn, 1, 0) is '': the names do not change.)
    const names = async () => (await b.db.query<{ n: string }>("select string_agg(name, ',' order by id) as n from customers")).rows[0]!.n;
    const before = await names();
    const r = await b.query({ connection: 'sales', sql: 'update customers set name = name || substr(ssn, 1, 0) returning id, ssn, card_number' }, [...EXEMPT_WRITER.roles], EXEMPT_WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { requestId, sessionId, sqlHash } = r.body;
    expect((await b.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub)).status).toBe(200);
    const done = await b.pollUntilSettled(requestId, [...EXEMPT_WRITER.roles], EXEMPT_WRITER.sub);
    expect(done.state, JSON.stringify(done.error)).toBe('executed');
    expect(done.result.rows).toEqual([]);
    expect(done.result.rowCount).toBeGreaterThan(0);
    expect(done.result.rowsWithheld).toMatch(/withheld/);
    expect(done.result.columns.every((c: { masked: unknown }) => c.masked === 'withheld')).toBe(true);
    expect(planted((await b.status(requestId, [...AUDITOR.roles], AUDITOR.sub)).body)).toEqual([]);

    const events = await b.events(sessionId, requestId);
    const executed = events.find((e) => e.type === 'executed');
    expect(executed?.data.rowsDigest).toBeTruthy();
    expect(planted(events)).toEqual([]);
    expect(await names()).toBe(before);
  });
});

describe('refused attempts without a verified identity are throttled before they reach the chain', () => {
  it('30 anonymous decisions: every one refused with 401, at most 5 recorded; a verified refusal is still recorded', async () => {
    const before = await ordersCount();
    const { body } = await holdDelete();
    const { requestId, sessionId, sqlHash } = body;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await b.fetch(`/api/approvals/${requestId}`, {
        method: 'POST',
        // A forwarded-for header is the caller's to write: it must not buy a fresh bucket.
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.0.${i}` },
        body: JSON.stringify({ decision: 'approve', sqlHash }),
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    const recorded = await refusedCodes(sessionId, requestId);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThanOrEqual(5);

    const outsider = await b.decide(requestId, { decision: 'approve', sqlHash }, [...READER.roles], READER.sub);
    expect(outsider.status).toBe(403);
    expect((await refusedCodes(sessionId, requestId)).at(-1)).toBe('not_an_approver');

    expect((await b.status(requestId, [...WRITER.roles], WRITER.sub)).body.state).toBe('pending_approval');
    expect(await ordersCount()).toBe(before);
    expect((await b.audit.verify(sessionId)).valid).toBe(true);
  });
});
