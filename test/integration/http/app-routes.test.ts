/**
 * The routes of the composed app, called in-process with `app.request`: no server and no socket
 * (those stay in test/e2e, where the transport matters: streaming, abort, the browser).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { composeTestApp, type TestApp } from '../../helpers/app.js';

let t: TestApp;

beforeAll(async () => {
  t = await composeTestApp();
});
afterAll(async () => t?.close());

function query(body: Record<string, unknown>, roles: string[] = ['Query.Read'], sub = 'app-agent') {
  return t.request('/api/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), roles, sub });
}

describe('health and the API description', () => {
  it('GET /api/health answers without a token and names its dependencies', async () => {
    const r = await t.request('/api/health', { roles: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', dependencies: { audit: 'ok', policy: 'ok' } });
  });

  it('GET /api/openapi.json documents the routes the composition root mounted', async () => {
    const r = await t.request('/api/openapi.json', { roles: null });
    expect(r.status).toBe(200);
    const paths = Object.keys(r.body.paths as Record<string, unknown>);
    for (const p of ['/api/query', '/api/connections', '/api/sessions', '/api/mcp', '/api/requests/{requestId}', '/api/.well-known/oauth-protected-resource']) expect(paths).toContain(p);
  });

  it('refuses a route without a token with invalid_token and the resource metadata to get one', async () => {
    const r = await t.request('/api/connections', { roles: null });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_token');
    expect(r.headers.get('www-authenticate')).toContain('http://broker.test/api/.well-known/oauth-protected-resource');
  });
});

describe('POST /api/query', () => {
  it('runs an allowed read and masks the card numbers', async () => {
    const r = await query({ connection: 'sales', sql: 'select name, card_number from customers order by id limit 2' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'allowed', executed: true, rowCount: 2 });
    const text = JSON.stringify(r.body);
    expect(text).not.toContain('4111111111111111');
    expect(text).toContain('1111');
  });

  it('denies a write to a read token, and the database is unchanged', async () => {
    const before = await t.db.query<{ n: string }>('select count(*)::text as n from customers');
    const r = await query({ connection: 'sales', sql: "delete from customers where country = 'GB'" });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('policy_denied');
    expect(r.body.requestId).toMatch(/^r_/);
    const after = await t.db.query<{ n: string }>('select count(*)::text as n from customers');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('holds a write without WHERE for a human: 202 with the status URL, and the status route serves it', async () => {
    const r = await query({ connection: 'sales', sql: 'update orders set status = status' }, ['Query.Write'], 'app-writer');
    expect(r.status).toBe(202);
    expect(r.body.decision).toBe('pending_approval');
    expect(r.headers.get('location')).toBe(`/api/requests/${r.body.requestId}`);
    const status = await t.request(`/api/requests/${r.body.requestId}`, { roles: ['Query.Write'], sub: 'app-writer' });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ requestId: r.body.requestId, state: 'pending_approval', approvalUrl: expect.stringContaining('http://broker.test/') });
    // Someone else's request is not theirs to see.
    expect((await t.request(`/api/requests/${r.body.requestId}`, { roles: ['Query.Read'], sub: 'app-other' })).status).toBe(404);
  });
});

describe('connections', () => {
  it('lists the connections a read token may use', async () => {
    const r = await t.request('/api/connections');
    expect(r.status).toBe(200);
    expect(r.body.connections).toEqual([expect.objectContaining({ name: 'sales', access: 'read', profile: 'agent-read' })]);
  });

  it('describes the schema with the masked columns flagged', async () => {
    const r = await t.request('/api/connections/sales/schema?table=customers');
    expect(r.status).toBe(200);
    const customers = (r.body.tables as { name: string; columns: { name: string; masked?: unknown }[] }[]).find((x) => x.name === 'customers');
    expect(customers?.columns.find((c) => c.name === 'card_number')?.masked).toBe('last4');
  });
});

describe('sessions', () => {
  it('refuses the record to a non-auditor, and shows an auditor the session of a query', async () => {
    const r = await query({ connection: 'sales', sql: 'select count(*) from orders' }, ['Query.Read'], 'app-recorded');
    expect(r.status).toBe(200);
    expect((await t.request(`/api/sessions/${r.body.sessionId}`)).status).toBe(403);
    const s = await t.request(`/api/sessions/${r.body.sessionId}`, { roles: ['Audit.Read'], sub: 'app-auditor' });
    expect(s.status).toBe(200);
    const events = s.body.events as { type: string; requestId: string }[];
    expect(events.filter((e) => e.requestId === r.body.requestId).map((e) => e.type)).toEqual(expect.arrayContaining(['request.received', 'decision', 'executed']));
  });
});
