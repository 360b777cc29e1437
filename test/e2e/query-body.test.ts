/**
 * POST /api/query reads its body once, in its own handler (the hot path has no validator
 * middleware): a non-JSON content type, a chunked body over the limit and a missing token are
 * each refused with their precise code, and nothing runs.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;
let token: string;

beforeAll(async () => {
  b = await startTestBroker();
  token = await b.token({ sub: 'body-agent', roles: ['Query.Read', 'Query.Write'] });
}, 60_000);
afterAll(async () => b?.close());

const orders = async () => (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]?.n;

/**
 * A raw request on a fresh connection, so the test decides on content-length and chunking itself;
 * with `gapMs`, each chunk leaves in its own write after a pause (a client streaming its body).
 */
function raw(headers: http.OutgoingHttpHeaders, chunks: string[], gapMs = 0, agent: http.Agent | false = false): Promise<{ status: number; json: any; connection?: string }> {
  const u = new URL(`${b.url}/api/query`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), path: u.pathname, method: 'POST', headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8') || 'null'), connection: res.headers.connection }));
    });
    req.on('error', reject);
    void (async () => {
      for (const c of chunks) {
        req.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      req.end();
    })();
  });
}

describe('POST /api/query body handling', () => {
  it('refuses a body that is not declared JSON, and nothing runs', async () => {
    const before = await orders();
    const body = JSON.stringify({ connection: 'sales', sql: 'delete from orders where id = 1' });
    const res = await raw({ 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` }, [body]);
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe('unsupported_media_type');
    expect(res.json.error.message).toContain('Content-Type: application/json');
    expect(await orders()).toBe(before);
  });

  it('counts a chunked body without content-length against the limit (413)', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const res = await raw({ 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` }, ['{"connection":"sales","sql":"select \'', ...Array.from({ length: 6 }, () => chunk), '\'"}']);
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('request_too_large');
  });

  it('reads a chunked body under the limit and answers the query', async () => {
    const body = JSON.stringify({ connection: 'sales', sql: 'select id, name from customers where id = 1' });
    const half = Math.floor(body.length / 2);
    const res = await raw({ 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` }, [body.slice(0, half), body.slice(half)], 30);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ decision: 'allowed', rowCount: 1, columns: [{ name: 'id' }, { name: 'name' }] });
    expect(res.json.rows[0][0]).toBe(1);
  });

  it('answers a chunked query sent on a kept-alive connection after a refused oversized body', async () => {
    // The refusal answers before the rest of the body arrives: the connection must not be offered
    // for reuse while that body is still on the wire, or the next request on it hangs up.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const headers = { 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` };
      const big = 'x'.repeat(64 * 1024);
      const refused = await raw(headers, ['{"connection":"sales","sql":"select \'', ...Array.from({ length: 6 }, () => big), '\'"}'], 0, agent);
      expect(refused.status).toBe(413);
      expect(refused.connection).toBe('close');
      const body = JSON.stringify({ connection: 'sales', sql: 'select id from customers where id = 2' });
      const res = await raw(headers, [body.slice(0, 12), body.slice(12)], 10, agent);
      expect(res.status).toBe(200);
      expect(res.json.rows).toEqual([[2]]);
    } finally {
      agent.destroy();
    }
  });

  it('refuses a chunked write under the limit by policy, and nothing changes', async () => {
    const before = await orders();
    const body = JSON.stringify({ connection: 'sales', sql: 'delete from orders' });
    const res = await raw({ 'content-type': 'application/json', 'transfer-encoding': 'chunked', authorization: `Bearer ${token}` }, [body.slice(0, 10), body.slice(10)]);
    expect([202, 403]).toContain(res.status);
    expect(await orders()).toBe(before);
  });

  it('asks for a token before it looks at the body', async () => {
    const res = await raw({ 'content-type': 'application/json', 'content-length': 3 }, ['{x}']);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('invalid_token');
  });

  it('names the field a well-formed body gets wrong', async () => {
    const body = JSON.stringify({ connection: 'sales', sql: 'select 1', maxRows: -1 });
    const res = await raw({ 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` }, [body]);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('Invalid maxRows') });
  });
});
