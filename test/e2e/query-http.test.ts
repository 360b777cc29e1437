import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => b?.close());

async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await b.fetch('/api/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('GET /api/health', () => {
  it('answers without a token and lists dependencies', async () => {
    const res = await b.fetch('/api/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', dependencies: { audit: 'ok' } });
  });
});

describe('POST /api/query — the first read', () => {
  it('returns rows from PostgreSQL through a read profile, with bind parameters', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id, name, country from customers where id <= $1 order by id', params: [2] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'allowed', rowCount: 2, truncated: false });
    expect(r.body.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name', 'country']);
    expect(r.body.rows).toEqual([
      [1, 'Ada Lovelace', 'GB'],
      [2, 'Alan Turing', 'GB'],
    ]);
    expect(r.body.requestId).toMatch(/^r_/);
    expect(r.body.sessionId).toMatch(/^s_/);
  });

  it('caps rows at maxRows and says the result was truncated', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id from orders order by id', maxRows: 7 });
    expect(r.status).toBe(200);
    expect(r.body.rowCount).toBe(7);
    expect(r.body.rows).toHaveLength(7);
    expect(r.body.truncated).toBe(true);
  });

  it('refuses a write for a read profile and the table is unchanged', async () => {
    const before = await b.db.query('select count(*)::int as n, sum(amount_cents)::bigint as s from orders');
    const r = await b.query({ connection: 'sales', sql: "update orders set amount_cents = 0 where id = 1" });
    expect(r.status).toBe(403);
    expect(r.body.decision).toBe('denied');
    expect(r.body.error.code).toBe('policy_denied');
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('write_on_read_only_profile');
    const after = await b.db.query('select count(*)::int as n, sum(amount_cents)::bigint as s from orders');
    expect(after.rows).toEqual(before.rows);
  });

  it('refuses an unknown connection and a token that matches no profile', async () => {
    const unknown = await b.query({ connection: 'nope', sql: 'select 1' });
    expect(unknown.status).toBe(403);
    expect(unknown.body.error.reasons[0].code).toBe('unknown_connection');
    const noProfile = await b.query({ connection: 'sales', sql: 'select 1' }, ['Something.Else']);
    expect(noProfile.status).toBe(403);
    expect(noProfile.body.error.reasons[0].code).toBe('no_matching_profile');
  });
});

describe('POST /api/query — tokens', () => {
  const body = { connection: 'sales', sql: 'select 1' };

  it('401 with WWW-Authenticate for a missing token', async () => {
    const r = await post(body);
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('invalid_token');
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  // Expiry, nbf and issuer checks are pinned in test/unit/identity/verify.test.ts with the same verifier.
  it('401 for a malformed token, a forged signature and a wrong audience', async () => {
    expect((await post(body, { authorization: 'Bearer abc.def' })).status).toBe(401);
    const pair = await generateKeyPair('RS256');
    const forged = await new SignJWT({ roles: ['Query.Read'] })
      .setProtectedHeader({ alg: 'RS256', kid: (b.devIssuer.jwks().keys[0] as { kid: string }).kid })
      .setIssuer(b.devIssuer.issuer)
      .setAudience('api://query-broker')
      .setSubject('a')
      .setExpirationTime('5m')
      .sign(pair.privateKey);
    expect((await post(body, { authorization: `Bearer ${forged}` })).status).toBe(401);
    const wrongAud = await new SignJWT({ roles: ['Query.Read'] })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(b.devIssuer.issuer)
      .setAudience('api://someone-else')
      .setSubject('a')
      .setExpirationTime('5m')
      .sign(pair.privateKey);
    expect((await post(body, { authorization: `Bearer ${wrongAud}` })).status).toBe(401);
  });

  it('401 for alg=none', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const none = `${b64({ alg: 'none' })}.${b64({ iss: b.devIssuer.issuer, aud: 'api://query-broker', sub: 'a', exp: now + 300, roles: ['Query.Read'] })}.`;
    const r = await post(body, { authorization: `Bearer ${none}` });
    expect(r.status).toBe(401);
  });
});

describe('POST /api/query — bad requests', () => {
  let auth: Record<string, string>;
  beforeAll(async () => {
    auth = { authorization: `Bearer ${await b.token({ sub: 'agent-1', roles: ['Query.Read'] })}` };
  });

  it('400 invalid_request for bad JSON, a missing field and a wrong type', async () => {
    expect((await post('{"connection":', auth)).json.error.code).toBe('invalid_request');
    const missing = await post({ connection: 'sales' }, auth);
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('invalid_request');
    expect(missing.json.error.message).toMatch(/sql/);
    const wrongType = await post({ connection: 'sales', sql: 42 }, auth);
    expect(wrongType.status).toBe(400);
    const unknownKey = await post({ connection: 'sales', sql: 'select 1', execute: true }, auth);
    expect(unknownKey.status).toBe(400);
  });

  it('400 sql_parse_error and multiple_statements, and nothing ran', async () => {
    const parse = await post({ connection: 'sales', sql: 'selec * from customers' }, auth);
    expect(parse.status).toBe(400);
    expect(parse.json.error.code).toBe('sql_parse_error');
    expect(parse.json.error.dialect).toBe('PostgreSQL');
    expect(parse.json.error.hint).toMatch(/exactly one PostgreSQL statement/);
    const multi = await post({ connection: 'sales', sql: 'select 1; delete from orders' }, auth);
    expect(multi.status).toBe(400);
    expect(multi.json.error.code).toBe('multiple_statements');
    expect((await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]?.n).toBe(50);
  });

  it('413 for a body over the limit and for SQL over the length cap', async () => {
    const huge = await post({ connection: 'sales', sql: `select '${'x'.repeat(300 * 1024)}'` }, auth);
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe('request_too_large');
  });
});
