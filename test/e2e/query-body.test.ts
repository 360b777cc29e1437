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

/** A raw request, so the test decides on content-length and chunking itself. */
function raw(headers: http.OutgoingHttpHeaders, chunks: string[]): Promise<{ status: number; json: any }> {
  const u = new URL(`${b.url}/api/query`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), path: u.pathname, method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
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
