/**
 * Requests without a `sessionId` join their identity's default session (per broker instance and
 * UTC day): against real Azurite, the steady state is one storage request per audited read, the
 * records of several requests form one valid chain in one blob, and another identity neither gets
 * nor can write into nor read someone else's default session.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createAuditContainerClient, createBlobAuditLog, type BlobAuditLog } from '../../../src/audit/blob-log.js';
import { splitLines } from '../../../src/audit/chain.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const READ = { connection: 'sales', sql: 'select id, name from customers where id = 1' };

let broker: TestBroker;
let audit: BlobAuditLog;
const container = createAuditContainerClient({ connectionString: inject('blobConnectionString'), container: `audit-default-${randomBytes(5).toString('hex')}` });

beforeAll(async () => {
  await container.createIfNotExists();
  audit = createBlobAuditLog({ containerClient: container });
  broker = await startTestBroker({ audit });
}, 60_000);

afterAll(async () => {
  await broker?.close();
});

/** The stored lines of a session's blob, read straight from Azurite (not through the broker). */
async function blobLines(sessionId: string): Promise<string[]> {
  const fresh = createBlobAuditLog({ containerClient: container });
  const listed = (await fresh.list({})).find((s) => s.sessionId === sessionId);
  if (!listed) throw new Error(`session ${sessionId} is not listed`);
  return splitLines((await container.getBlobClient(listed.path).downloadToBuffer()).toString('utf8'));
}

async function readWithoutSession(sub: string): Promise<{ sessionId: string; storageRequests: number }> {
  const before = audit.stats().storageRequests;
  const res = await broker.query(READ, ['Query.Read'], sub);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { sessionId: res.body.sessionId as string, storageRequests: audit.stats().storageRequests - before };
}

describe('the default session of requests without sessionId', () => {
  it('puts two requests of one identity in one blob with a valid chain; from the second on, one storage request per read', async () => {
    const first = await readWithoutSession('default-a');
    const second = await readWithoutSession('default-a');
    const third = await readWithoutSession('default-a');
    expect(second.sessionId).toBe(first.sessionId);
    expect(third.sessionId).toBe(first.sessionId);
    // Started without a look-up: index, blob, append. Then one append per read.
    expect(first.storageRequests).toBe(3);
    expect(second.storageRequests).toBe(1);
    expect(third.storageRequests).toBe(1);

    const lines = await blobLines(first.sessionId);
    expect(lines).toHaveLength(9); // received, decision, executed per read
    const records = lines.map((l) => JSON.parse(l) as { seq: number; actor: { oid: string }; type: string });
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(records.map((r) => r.actor.oid))).toEqual(new Set(['dev-default-a']));
    const reader = createBlobAuditLog({ containerClient: container });
    expect(await reader.verify(first.sessionId)).toEqual({ valid: true, events: 9, firstBadSeq: null });
    expect(await reader.list({ oid: 'dev-default-a' })).toEqual([expect.objectContaining({ sessionId: first.sessionId, ownerOid: 'dev-default-a' })]);
  });

  it('gives concurrent first requests of one identity one session, and another identity another', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => broker.query(READ, ['Query.Read'], 'default-c')));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ids = new Set(replies.map((r) => r.body.sessionId as string));
    expect(ids.size).toBe(1);
    const [sessionC] = [...ids];
    expect(await createBlobAuditLog({ containerClient: container }).verify(sessionC!)).toEqual({ valid: true, events: 18, firstBadSeq: null });

    const d = await readWithoutSession('default-d');
    expect(d.sessionId).not.toBe(sessionC);
    expect(await blobLines(d.sessionId)).toHaveLength(3);
  });

  it("refuses another identity's write into a default session, and its read of it", async () => {
    const owner = await readWithoutSession('default-owner');
    const before = await blobLines(owner.sessionId);

    const intrusion = await broker.query({ ...READ, sessionId: owner.sessionId }, ['Query.Read'], 'default-intruder');
    expect(intrusion.status).toBe(403);
    expect(intrusion.body.error.code).toBe('forbidden');
    expect(await blobLines(owner.sessionId)).toEqual(before);

    const token = await broker.token({ sub: 'default-intruder', roles: ['Query.Read'] });
    const read = await broker.fetch(`/api/sessions/${owner.sessionId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(403);
    expect(await read.text()).not.toContain('customers');

    // The intruder's own request without a sessionId lands in its own session, not the owner's.
    const own = await readWithoutSession('default-intruder');
    expect(own.sessionId).not.toBe(owner.sessionId);
    expect(await blobLines(owner.sessionId)).toEqual(before);
  });

  it('is listed for auditors like any other session', async () => {
    const { sessionId } = await readWithoutSession('default-listed');
    const token = await broker.token({ sub: 'auditor-1', roles: ['Audit.Read'] });
    const res = await broker.fetch('/api/sessions?oid=dev-default-listed', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sessions: { sessionId: string }[] };
    expect(body.sessions.map((s) => s.sessionId)).toEqual([sessionId]);
  });
});
