import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { createAuditContainerClient, createBlobAuditLog } from '../../src/audit/blob-log.js';
import { splitLines } from '../../src/audit/chain.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const PLANTED_CARD = '4111111111111111';
const PLANTED_SSN = '123-45-6789';

let b: TestBroker;
let container: ContainerClient;
let sessionId: string;
let refusedRequestId: string;

beforeAll(async () => {
  // Our own container, so the test can rewrite a session blob the way an attacker with storage keys could.
  container = createAuditContainerClient({ connectionString: inject('blobConnectionString'), container: `audit-sessions-${randomBytes(4).toString('hex')}` });
  await container.createIfNotExists();
  b = await startTestBroker({ audit: createBlobAuditLog({ containerClient: container }) });
  const first = await b.query({ connection: 'sales', sql: 'select id, card_number, ssn from customers where id = $1', params: [1] }, ['Query.Read'], 'recorded-agent');
  expect(first.status).toBe(200);
  sessionId = first.body.sessionId;
  const refused = await b.query({ connection: 'sales', sql: 'delete from orders', sessionId }, ['Query.Read'], 'recorded-agent');
  expect(refused.status).toBe(403);
  refusedRequestId = refused.body.requestId;
});
afterAll(async () => {
  await b?.close();
  await container?.deleteIfExists();
});

async function get(path: string, roles: string[]): Promise<{ status: number; body: any }> {
  const res = await b.fetch(path, { headers: { authorization: `Bearer ${await b.token({ sub: roles.includes('Audit.Read') ? 'auditor' : 'reader', roles, idtyp: 'user' })}` } });
  return { status: res.status, body: await res.json() };
}

describe('sessions: auditors only', () => {
  it.each([['/api/sessions'], ['/api/sessions/SESSION'], ['/api/sessions/SESSION/verify']])('refuses %s to a token without the auditor role', async (path) => {
    const r = await get(path.replace('SESSION', sessionId), ['Query.Read', 'Query.Write', 'Query.Approve']);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect(JSON.stringify(r.body)).not.toContain('card_number');
  });
});

describe('GET /api/sessions/{sessionId}', () => {
  it('returns the timeline: who ran what, what was decided, what the agent received (masked)', async () => {
    const r = await get(`/api/sessions/${sessionId}`, ['Audit.Read']);
    expect(r.status).toBe(200);
    expect(r.body.sessionId).toBe(sessionId);
    const events = r.body.events as { seq: number; type: string; actor: { oid: string }; data: Record<string, unknown> }[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['decision', 'executed']));
    expect(events.every((e) => e.actor.oid === 'dev-recorded-agent')).toBe(true);
    // The refused statement is on record too, with its text.
    const refusal = events.filter((e) => (e as { requestId?: string }).requestId === refusedRequestId);
    expect(refusal.find((e) => e.type === 'decision')?.data.outcome).toMatch(/^den(y|ied)$/);
    expect(refusal.some((e) => e.data.sql === 'delete from orders')).toBe(true);
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(PLANTED_CARD);
    expect(text).not.toContain(PLANTED_SSN);
  });

  it('404 for a session that was never recorded, 400 for a malformed id', async () => {
    const missing = await get('/api/sessions/s_never_recorded_here', ['Audit.Read']);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const malformed = await get('/api/sessions/a.b', ['Audit.Read']);
    expect(malformed.status).toBe(400);
  });
});

describe('GET /api/sessions', () => {
  it('lists sessions by day and by owner', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await get(`/api/sessions?day=${today}`, ['Audit.Read']);
    expect(byDay.status).toBe(200);
    expect(byDay.body.sessions).toContainEqual(expect.objectContaining({ sessionId, ownerOid: 'dev-recorded-agent', day: today }));
    const byOwner = await get('/api/sessions?oid=dev-recorded-agent', ['Audit.Read']);
    expect(byOwner.body.sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual([sessionId]);
    expect((await get('/api/sessions?oid=dev-someone-else', ['Audit.Read'])).body.sessions).toEqual([]);
    expect((await get('/api/sessions?day=2020-13-45', ['Audit.Read'])).status).toBe(400);
  });
});

describe('GET /api/sessions/{sessionId}/verify', () => {
  it('verifies an intact chain, then reports the first altered event', async () => {
    const intact = await get(`/api/sessions/${sessionId}/verify`, ['Audit.Read']);
    expect(intact.status).toBe(200);
    expect(intact.body).toEqual({ valid: true, events: expect.any(Number), firstBadSeq: null });
    expect(intact.body.events).toBeGreaterThanOrEqual(3);

    const [summary] = await b.audit.list({ oid: 'dev-recorded-agent' });
    const blob = container.getAppendBlobClient(summary!.path);
    const lines = splitLines((await blob.downloadToBuffer()).toString('utf8'));
    lines[1] = lines[1]!.replace(/"rowCount":1/, '"rowCount":0').replace(/"outcome":"[a-z_]+"/, '"outcome":"allow"');
    const { metadata } = await blob.getProperties();
    await blob.delete();
    await blob.create({ metadata });
    const body = lines.map((l) => `${l}\n`).join('');
    await blob.appendBlock(body, Buffer.byteLength(body));

    const tampered = await get(`/api/sessions/${sessionId}/verify`, ['Audit.Read']);
    expect(tampered.body).toEqual({ valid: false, events: intact.body.events, firstBadSeq: 1 });
  });
});
