/**
 * The approver's inbox (issue 21): GET /api/approvals lists what the caller may decide — approver
 * of the profile and not the requester — pending first and oldest first, then what was settled in
 * the last 24 hours; JSON with a bearer token, HTML for a person; in the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/run.js';
import { startApprovalBroker, WRITER, APPROVER, READER, type ApprovalTestBroker } from './harness.js';

let b: ApprovalTestBroker;
const SELF = { roles: ['Query.Write', 'Query.Approve'], sub: 'self-approver' };

beforeAll(async () => {
  b = await startApprovalBroker();
});
afterAll(async () => b?.close());

async function inbox(who: { roles: readonly string[]; sub: string }, accept?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${await b.tokenFor([...who.roles], who.sub)}` };
  if (accept) headers.accept = accept;
  return await b.fetch('/api/approvals', { headers });
}

describe('GET /api/approvals', () => {
  const held: { requestId: string; sqlHash: string }[] = [];

  it('lists pending requests oldest first with requester, connection, kind, estimate, reason and expiry; only for those who may decide them', async () => {
    for (const [sql, reason] of [['delete from orders', 'first'], ["update orders set status = 'x'", 'second']] as const) {
      const r = await b.query({ connection: 'sales', sql, reason }, [...WRITER.roles], WRITER.sub);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      held.push(r.body);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const own = await b.query({ connection: 'sales', sql: 'delete from orders', reason: 'mine' }, SELF.roles, SELF.sub);
    expect(own.status).toBe(202);

    const res = await inbox(APPROVER);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/json/);
    const body = await res.json();
    expect(body.pending.map((e: { requestId: string }) => e.requestId)).toEqual([held[0]!.requestId, held[1]!.requestId, own.body.requestId]);
    expect(body.pending[0]).toMatchObject({
      state: 'pending_approval',
      requester: { oid: `dev-${WRITER.sub}` },
      connection: 'sales',
      profile: 'agent-write',
      statementKind: 'DELETE',
      reason: 'first',
      reviewPath: `/api/approvals/${held[0]!.requestId}`,
    });
    expect(body.pending[1].statementKind).toBe('UPDATE');
    expect(Date.parse(body.pending[0].expiresAt)).toBeGreaterThan(Date.now());
    expect(body.recent).toEqual([]);

    // The requester of a request never sees it as something to decide; a non-approver sees nothing.
    const self = await (await inbox(SELF)).json();
    expect(self.pending.map((e: { requestId: string }) => e.requestId)).toEqual([held[0]!.requestId, held[1]!.requestId]);
    expect(await (await inbox(READER)).json()).toEqual({ pending: [], recent: [] });
    expect(await (await inbox(WRITER)).json()).toEqual({ pending: [], recent: [] });
  });

  it('a decided request moves below, with its decision', async () => {
    const d = await b.decide(held[1]!.requestId, { decision: 'reject', sqlHash: held[1]!.sqlHash, comment: 'no' }, [...APPROVER.roles], APPROVER.sub);
    expect(d.status).toBe(200);
    const body = await (await inbox(APPROVER)).json();
    expect(body.pending.map((e: { requestId: string }) => e.requestId)).not.toContain(held[1]!.requestId);
    expect(body.recent).toHaveLength(1);
    expect(body.recent[0]).toMatchObject({ requestId: held[1]!.requestId, state: 'rejected', decision: { outcome: 'rejected', approver: { oid: `dev-${APPROVER.sub}` } } });
  });

  it('is a page for a person: rows link to the review pages; a browser without a session is sent to sign in', async () => {
    const res = await inbox(APPROVER, 'text/html');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<a href="/api/approvals/${held[0]!.requestId}">`);
    expect(html).toMatch(/<table id="pending">[\s\S]*first[\s\S]*<\/table>/);
    expect(html).toMatch(/<table id="recent">[\s\S]*rejected[\s\S]*<\/table>/);
    const anonymous = await b.fetch('/api/approvals', { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toContain('/api/dev/sign-in');
    const badToken = await b.fetch('/api/approvals', { headers: { authorization: 'Bearer nope', accept: 'application/json' } });
    expect(badToken.status).toBe(401);
  });

  it('the review page links to it, and the OpenAPI document lists it', async () => {
    const page = await b.fetch(`/api/approvals/${held[0]!.requestId}`, { headers: { authorization: `Bearer ${await b.tokenFor([...APPROVER.roles], APPROVER.sub)}` } });
    expect(await page.text()).toContain('<a href="/api/approvals" id="inbox-link">');
    const doc = await (await b.fetch('/api/openapi.json')).json();
    expect(doc.paths['/api/approvals']).toHaveProperty('get');
    expect(doc.components.schemas).toHaveProperty('ApprovalInbox');
  });

  it('qb approvals prints the same', async () => {
    let out = '';
    let err = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {}, readStdin: async () => '' };
    const code = await runCli(['approvals', '--url', b.url, '--token', await b.tokenFor([...APPROVER.roles], APPROVER.sub)], io);
    expect(code, err).toBe(0);
    expect(out).toMatch(/^Pending \(2\), oldest first:/);
    expect(out.indexOf(held[0]!.requestId)).toBeGreaterThan(0);
    expect(out).toContain(`${held[0]!.requestId}  pending_approval  DELETE on sales (profile agent-write)`);
    expect(out).toContain('reason: first');
    expect(out).toMatch(/Decided or expired in the last 24 hours:\n[\s\S]*rejected by Test approver-1 \(dev-approver-1\)/);
    expect(out.indexOf(held[0]!.requestId)).toBeLessThan(out.indexOf('Decided or expired'));
  });
});
