/**
 * Every answer of POST /api/query tells the agent the truth (issue 15), over HTTP: the status, the
 * code, the words that let it fix the request, and the route to call next.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { OpenAPIHono } from '@hono/zod-openapi';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createJsonLogger } from '../../src/log.js';
import { sendError } from '../../src/http/errors.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker({ policyPatch: (p) => (p.profiles['agent-read'].statementTimeoutMs = 300) });
});
afterAll(async () => b?.close());

const orders = async () => (await b.db.query<{ n: number; s: string }>('select count(*)::int as n, sum(amount_cents)::text as s from orders')).rows[0];

describe('wrong requests answer 400/415 with what to change, never 503 or 500', () => {
  it('counts placeholders against params: too few, too many, none', async () => {
    const few = await b.query({ connection: 'sales', sql: 'select $1::int + $2::int', params: [1] });
    expect(few.status).toBe(400);
    expect(few.body.error.code).toBe('invalid_request');
    expect(few.body.error.message).toContain('The statement has 2 placeholders, 1 param given');
    expect(few.body.error.reasons[0].code).toBe('param_count_mismatch');

    const many = await b.query({ connection: 'sales', sql: 'select $1::int', params: [1, 2, 3] });
    expect(many.status).toBe(400);
    expect(many.body.error.message).toContain('1 placeholder, 3 params given');

    const none = await b.query({ connection: 'sales', sql: 'select $1::int + $2::int' });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain('2 placeholders, 0 params given');

    // A placeholder-looking text in a string literal or comment is not a placeholder.
    const literal = await b.query({ connection: 'sales', sql: "select '$1' as t -- $2" });
    expect(literal.status).toBe(200);
  });

  it('refuses a NUL character in the SQL with 400, and nothing runs', async () => {
    const before = await orders();
    const r = await b.query({ connection: 'sales', sql: 'delete from orders where id = 1\u0000; select 1' }, ['Query.Write']);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toMatch(/NUL character/);
    expect(await orders()).toEqual(before);
  });

  it('answers 415 with what to send for text/plain and for no Content-Type', async () => {
    const token = await b.token({ sub: 'agent-1', roles: ['Query.Read'] });
    const body = JSON.stringify({ connection: 'sales', sql: 'select 1' });
    const plain = await b.fetch('/api/query', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body });
    expect(plain.status).toBe(415);
    const p = await plain.json();
    expect(p.error.code).toBe('unsupported_media_type');
    expect(p.error.message).toContain('Content-Type: application/json');
    const none = await b.fetch('/api/query', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: new TextEncoder().encode(body) });
    expect(none.status).toBe(415);
    expect((await none.json()).error.message).toContain('no Content-Type');
  });

  it('says which field was meant for an unknown body field', async () => {
    const r = await b.query({ connection: 'sales', query: 'select 1' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toContain('"query" (did you mean "sql"?)');
  });
});

describe('the database refused it: the SQLSTATE in words, the server text unless a masked column is really in reach', () => {
  it('names an undefined table and points to the schema route', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select * from nonexistent' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('query_failed');
    expect(r.body.error.sqlstate).toBe('42P01');
    expect(r.body.error.message).toMatch(/undefined table/);
    expect(r.body.error.message).toContain('relation "nonexistent" does not exist');
    expect(r.body.error.message).not.toMatch(/masked/);
    expect(r.body.error.hint).toContain('GET /api/connections/{name}/schema');
  });

  it('names an undefined column, with the server\'s catalog suggestion', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select amount from orders' });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/undefined column/);
    expect(r.body.error.message).toContain('column "amount" does not exist');
    expect(r.body.error.message).not.toMatch(/masked/);
  });

  it('names invalid input for a bad parameter value', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id from orders where id = $1', params: ['abc'] });
    expect(r.status).toBe(422);
    expect(r.body.error.sqlstate).toBe('22P02');
    expect(r.body.error.message).toMatch(/invalid input/);
    expect(r.body.error.message).not.toMatch(/masked/);
  });

  it('withholds the server text when a masked column is in reach, and says so and why', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select email from customers where id = $1', params: ['not-a-number'] });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/invalid input/);
    expect(r.body.error.message).toMatch(/withheld because masked columns are within reach.*public\.customers\.email/);
    expect(r.body.error.message).not.toContain('not-a-number');
    expect(r.body.error.serverMessageWithheld).toBe(true);
  });

  it('says an unknown function does not exist and suggests close names from the catalog', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select cout(*) from orders' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('query_failed');
    expect(r.body.error.reasons[0].code).toBe('unknown_function');
    expect(r.body.error.message).toContain('cout() does not exist');
    expect(r.body.error.suggestions.cout).toContain('count');
    expect(JSON.stringify(r.body)).not.toMatch(/volatile|allow-list/);
  });

  it('refuses a cast of a masked column as masked_column_in_fallible_expression', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select ssn::int from customers' });
    expect(r.status).toBe(403);
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toEqual(['masked_column_in_fallible_expression']);
    expect(JSON.stringify(r.body)).not.toContain('123-45-6789');
  });

  it('states the time limit of a query_timeout', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select count(*) from generate_series(1, 1000000000)' });
    expect(r.status).toBe(408);
    expect(r.body.error.code).toBe('query_timeout');
    expect(r.body.error.message).toContain('300 ms');
    expect(r.body.error.timeoutMs).toBe(300);
  });
});

describe('hints per reason code name HTTP routes', () => {
  it('an unknown connection lists the ones this identity may use', async () => {
    const r = await b.query({ connection: 'nope', sql: 'select 1' });
    expect(r.status).toBe(403);
    expect(r.body.error.reasons[0].code).toBe('unknown_connection');
    expect(r.body.error.connections).toEqual(['sales']);
    expect(r.body.error.message).toContain('You may use: sales');
    expect(r.body.error.hint).toContain('GET /api/connections');
  });

  it('a masked column in WHERE gets its own hint, naming the schema route', async () => {
    const r = await b.query({ connection: 'sales', sql: "select id from customers where email = 'x'" });
    expect(r.status).toBe(403);
    expect(r.body.error.reasons[0].code).toBe('masked_column_in_predicate');
    expect(r.body.error.hint).toMatch(/unmasked columns.*GET \/api\/connections\/\{name\}\/schema/);
  });
});

describe('approval answers carry the review link; a dry run holds nothing', () => {
  it('202 and the request status carry approvalUrl on the public base URL, with the table\'s row estimate', async () => {
    const before = await orders();
    const r = await b.query({ connection: 'sales', sql: 'delete from orders' }, ['Query.Write']);
    expect(r.status).toBe(202);
    expect(r.body.approvalUrl).toBe(`${b.url}/api/approvals/${r.body.requestId}`);
    expect(r.body.estimatedRows).toBe(50);
    const token = await b.token({ sub: 'agent-1', roles: ['Query.Write'], name: 'Test agent-1' });
    const status = await (await b.fetch(`/api/requests/${r.body.requestId}`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(status.approvalUrl).toBe(r.body.approvalUrl);
    expect(status.estimatedRows).toBe(50);
    expect(await orders()).toEqual(before);
  });

  it('a dry run of a write that needs approval answers 200 would_need_approval with reasons and estimate, and creates no request', async () => {
    const before = await orders();
    const r = await b.query({ connection: 'sales', sql: 'update orders set status = $1', params: ['x'], dryRun: true }, ['Query.Write']);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'would_need_approval', executed: false, estimatedRows: 50 });
    expect(r.body.reasons[0].code).toBe('update_without_where');
    expect(r.body.requestId).toBeUndefined();
    expect(r.body.statusUrl).toBeUndefined();
    expect(JSON.stringify(r.body)).not.toMatch(/waiting|pending/i);
    expect(await orders()).toEqual(before);
  });
});

describe('the approver\'s confirmation page', () => {
  it('shows the outcome of the approved write once it ran (executed, N rows)', async () => {
    const r = await b.query({ connection: 'sales', sql: "update orders set status = 'confirmed'" }, ['Query.Write'], 'answers-writer');
    expect(r.status).toBe(202);
    const approver = await b.token({ sub: 'answers-approver', roles: ['Query.Approve'], idtyp: 'user', name: 'Approver' });
    const session = `qb_approver_session=${approver}`;
    const review = await b.fetch(`/api/approvals/${r.body.requestId}`, { headers: { cookie: session } });
    expect(review.status).toBe(200);
    const html = await review.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const csrfCookie = review.headers.get('set-cookie')!.split(';')[0]!;
    const done = await b.fetch(`/api/approvals/${r.body.requestId}`, {
      method: 'POST',
      headers: { cookie: `${session}; ${csrfCookie}`, 'content-type': 'application/x-www-form-urlencoded', origin: b.url },
      body: new URLSearchParams({ decision: 'approve', sqlHash: r.body.sqlHash, csrf }).toString(),
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toMatch(/Decision recorded[\s\S]*Approved and executed: 50 rows\./);
    expect((await b.db.query("select count(*)::int as n from orders where status = 'confirmed'")).rows[0]!.n).toBe(50);
  });
});

describe('logs: refusals are not errors; every 5xx has a request id the log also has', () => {
  it('logs a policy refusal at warn with its request id and code, never as an unhandled error', async () => {
    const r = await b.query({ connection: 'sales', sql: 'update orders set amount_cents = 0 where id = 1' });
    expect(r.status).toBe(403);
    const lines = b.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.requestId === r.body.requestId)).toMatchObject({ level: 'warn', code: 'policy_denied', reasons: ['write_on_read_only_profile'] });
    expect(lines.filter((l) => l.message === 'unhandled error')).toEqual([]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a 503 carries a request id and the error log line has it', async () => {
    const audit = createMemoryAuditLog();
    const broken = await startTestBroker({ audit: { ...audit, append: async () => { throw new Error('store down'); } } });
    try {
      const r = await broken.query({ connection: 'sales', sql: 'select 1' });
      expect(r.status).toBe(503);
      expect(r.body.requestId).toMatch(/^r_/);
      const line = broken.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === r.body.requestId);
      expect(line).toMatchObject({ level: 'error', code: 'dependency_unavailable', status: 503 });
    } finally {
      await broken.close();
    }
  });

  it('a 500 from an unexpected failure gets a fresh request id, logged at error', async () => {
    const logs: string[] = [];
    const log = createJsonLogger((l) => logs.push(l));
    const app = new OpenAPIHono();
    app.onError((e, c) => sendError(c, e, log));
    app.get('/boom', () => {
      throw new TypeError('x is undefined');
    });
    const res = await app.request('/boom');
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error.code).toBe('internal_error');
    expect(body.requestId).toMatch(/^r_/);
    expect(JSON.parse(logs[0]!)).toMatchObject({ level: 'error', requestId: body.requestId, cause: 'TypeError' });
    expect(logs[0]).not.toContain('x is undefined');
  });
});

describe('OpenAPI lists every documented status of POST /api/query', () => {
  it('has 408, 413, 415, 422, 429 and 503 with the error schema', async () => {
    const doc = await (await b.fetch('/api/openapi.json')).json();
    const responses = doc.paths['/api/query'].post.responses;
    for (const status of ['400', '401', '403', '408', '413', '415', '422', '429', '500', '503']) {
      expect(responses[status]?.content?.['application/json']?.schema?.$ref, status).toBe('#/components/schemas/Error');
    }
  });
});
