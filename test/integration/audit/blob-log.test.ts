import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { AuditEventInput, AuditRecord } from '../../../src/broker/ports.js';
import { createBlobAuditLog, createAuditContainerClient, type BlobAuditLog } from '../../../src/audit/blob-log.js';
import { splitLines } from '../../../src/audit/chain.js';

const agent = { oid: 'oid-agent-a', name: 'Agent A' };
const intruder = { oid: 'oid-agent-b', name: 'Agent B' };
const approver = { oid: 'oid-approver' };

let container: ContainerClient;

function newLog(extra: Partial<Parameters<typeof createBlobAuditLog>[0]> = {}): BlobAuditLog {
  return createBlobAuditLog({ containerClient: container, ...extra });
}

function sessionId(): string {
  return `s_${randomBytes(9).toString('base64url')}`;
}

function ev(actor: { oid: string }, i: number, type: AuditEventInput['type'] = 'request.received'): AuditEventInput {
  return { type, requestId: `r_${i}`, actor, data: { sql: `select ${i}`, i } };
}

async function blobPathOf(log: BlobAuditLog, id: string): Promise<string> {
  const found = (await log.list({})).find((s) => s.sessionId === id);
  if (!found) throw new Error(`session ${id} not listed`);
  return found.path;
}

async function storedLines(path: string): Promise<string[]> {
  return splitLines((await container.getBlobClient(path).downloadToBuffer()).toString('utf8'));
}

/** What an attacker with storage keys (and no WORM policy) could do: rewrite the blob wholesale. */
async function rewriteBlob(path: string, lines: string[]): Promise<void> {
  const blob = container.getAppendBlobClient(path);
  const { metadata } = await blob.getProperties();
  await blob.delete();
  await blob.create({ metadata });
  const body = lines.map((l) => `${l}\n`).join('');
  await blob.appendBlock(body, Buffer.byteLength(body));
}

async function appendMany(log: BlobAuditLog, id: string, n: number, from = 0): Promise<AuditRecord[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => log.append(id, ev(agent, from + i))));
}

beforeAll(async () => {
  container = createAuditContainerClient({ connectionString: inject('blobConnectionString'), container: `audit-blob-log-${randomBytes(4).toString('hex')}` });
});

afterAll(async () => {
  await container.deleteIfExists();
});

describe('blob audit log on Azurite', () => {
  it('keeps one unbroken chain through 50 concurrent appends to one session', async () => {
    const log = newLog();
    const id = sessionId();
    const records = await appendMany(log, id, 50);
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await log.verify(id)).toEqual({ valid: true, events: 50, firstBadSeq: null });
    const fresh = newLog();
    expect(await fresh.verify(id)).toEqual({ valid: true, events: 50, firstBadSeq: null });
    const read = await fresh.read(id);
    expect(new Set(read.map((r) => r.requestId)).size).toBe(50);
    // What append returned is exactly what is stored.
    const bySeq = new Map(read.map((r) => [r.seq, r]));
    for (const r of records) expect(bySeq.get(r.seq)).toEqual(r);
  });

  it('does not fork when two instances write the same session at the same time', async () => {
    const first = newLog();
    const second = newLog();
    const id = sessionId();
    await first.append(id, ev(agent, -1));
    await second.append(id, ev(agent, -2)); // both now hold a cached tail that the other will invalidate
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).append(id, ev(agent, i))),
    );
    expect(new Set(results.map((r) => r.seq)).size).toBe(50);
    const verify = await newLog().verify(id);
    expect(verify).toEqual({ valid: true, events: 52, firstBadSeq: null });
    const requestIds = (await newLog().read(id)).map((r) => r.requestId);
    expect(new Set(requestIds).size).toBe(52); // none lost, none written twice
    expect(first.stats().conflicts + second.stats().conflicts).toBeGreaterThan(0);
  });

  it('makes a warm append one storage round trip', async () => {
    const log = newLog();
    const id = sessionId();
    await log.append(id, ev(agent, 0));
    const before = log.stats().storageRequests;
    for (let i = 1; i <= 10; i++) await log.append(id, ev(agent, i));
    expect(log.stats().storageRequests - before).toBe(10);
  });

  it('creates a session the caller just generated without looking it up first: three round trips, not four', async () => {
    const looked = newLog();
    await looked.append(sessionId(), ev(agent, 0));
    const generated = newLog();
    const id = sessionId();
    await generated.append(id, ev(agent, 0), { newSession: true });
    // container creation is counted once per instance in both; the new session itself: index, blob, block
    expect(looked.stats().storageRequests - generated.stats().storageRequests).toBe(1);
    const fresh = newLog();
    expect(await fresh.verify(id)).toEqual({ valid: true, events: 1, firstBadSeq: null });
    expect((await fresh.list({ oid: agent.oid })).map((s) => s.sessionId)).toContain(id);
  });

  it('still finds an existing session and its owner when told a session is new', async () => {
    const id = sessionId();
    await appendMany(newLog(), id, 3);
    // Another identity claiming the id as new is refused by the stored owner, and nothing is written.
    await expect(newLog().append(id, ev(intruder, 9), { newSession: true })).rejects.toMatchObject({ code: 'forbidden' });
    // The owner's own "new" append continues the stored chain instead of starting another.
    const next = await newLog().append(id, ev(agent, 3), { newSession: true });
    expect(next.seq).toBe(3);
    expect(await newLog().verify(id)).toEqual({ valid: true, events: 4, firstBadSeq: null });
    expect((await newLog().read(id)).map((r) => r.actor.oid)).toEqual([agent.oid, agent.oid, agent.oid, agent.oid]);
  });

  it('continues the chain from storage in a fresh instance', async () => {
    const id = sessionId();
    await appendMany(newLog(), id, 5);
    const fresh = newLog();
    const next = await fresh.append(id, ev(agent, 5));
    expect(next.seq).toBe(5);
    expect(await fresh.verify(id)).toMatchObject({ valid: true, events: 6 });
  });

  it('continues the chain from the end of a session longer than one read window', async () => {
    const id = sessionId();
    const big = { type: 'executed' as const, requestId: 'r_big', actor: agent, data: { note: 'y'.repeat(40_000) } };
    const writer = newLog();
    for (let i = 0; i < 4; i++) await writer.append(id, big);
    const fresh = newLog();
    expect((await fresh.append(id, ev(agent, 9))).seq).toBe(4);
    expect(await fresh.verify(id)).toMatchObject({ valid: true, events: 5 });
  });

  it('stores the session at sessions/yyyy/mm/dd/<id>.jsonl dated by its start', async () => {
    const id = sessionId();
    const log = newLog({ clock: { now: () => new Date('2023-12-31T23:30:00Z') } });
    await log.append(id, ev(agent, 0));
    const listed = await log.list({ day: '2023-12-31' });
    expect(listed).toContainEqual({ sessionId: id, ownerOid: agent.oid, day: '2023-12-31', path: `sessions/2023/12/31/${id}.jsonl` });
    expect(await storedLines(`sessions/2023/12/31/${id}.jsonl`)).toHaveLength(1);
  });

  it('lists sessions by day and by owner', async () => {
    const log = newLog({ clock: { now: () => new Date('2022-02-02T10:00:00Z') } });
    const mine = sessionId();
    const theirs = sessionId();
    await log.append(mine, ev(agent, 0));
    await log.append(theirs, ev(intruder, 0));
    const day = await log.list({ day: '2022-02-02' });
    expect(day.map((s) => s.sessionId).sort()).toEqual([mine, theirs].sort());
    expect((await log.list({ day: '2022-02-02', oid: intruder.oid })).map((s) => s.sessionId)).toEqual([theirs]);
    expect(await log.list({ day: '2022-02-03' })).toEqual([]);
  });

  it('reports the seq of an edited line', async () => {
    const log = newLog();
    const id = sessionId();
    for (let i = 0; i < 8; i++) await log.append(id, ev(agent, i));
    const path = await blobPathOf(log, id);
    const lines = await storedLines(path);
    lines[5] = lines[5]!.replace('select 5', 'select 6');
    await rewriteBlob(path, lines);
    expect(await log.verify(id)).toEqual({ valid: false, events: 8, firstBadSeq: 5 });
    expect(await newLog().verify(id)).toEqual({ valid: false, events: 8, firstBadSeq: 5 });
  });

  it('reports a deleted line and reordered lines', async () => {
    const log = newLog();
    const id = sessionId();
    for (let i = 0; i < 6; i++) await log.append(id, ev(agent, i));
    const path = await blobPathOf(log, id);
    const original = await storedLines(path);

    await rewriteBlob(path, original.filter((_, i) => i !== 2));
    expect(await log.verify(id)).toMatchObject({ valid: false, firstBadSeq: 2 });

    const swapped = [...original];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    await rewriteBlob(path, swapped);
    expect(await log.verify(id)).toMatchObject({ valid: false, firstBadSeq: 3 });
  });

  it('refuses to start the chain over when a session blob with records was deleted', async () => {
    const log = newLog();
    const id = sessionId();
    await appendMany(log, id, 3);
    const path = await blobPathOf(log, id);
    await container.getAppendBlobClient(path).delete();
    await expect(log.append(id, ev(agent, 3))).rejects.toMatchObject({ code: 'internal_error' });
    expect(await container.getAppendBlobClient(path).exists()).toBe(false);
  });

  it('refuses another identity appending to a session it does not own, leaving the blob unchanged', async () => {
    const owner = newLog();
    const id = sessionId();
    await owner.append(id, ev(agent, 0));
    const path = await blobPathOf(owner, id);
    const before = await storedLines(path);
    // A separate instance (no cache) must refuse too: the owner comes from storage.
    await expect(newLog().append(id, ev(intruder, 1))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(owner.append(id, ev(intruder, 1))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await storedLines(path)).toEqual(before);
    // Approval events are written on the approver's behalf.
    await newLog().append(id, ev(approver, 2, 'approval.decided'), { allowForeignActor: true });
    expect((await owner.read(id)).map((r) => r.actor.oid)).toEqual([agent.oid, approver.oid]);
  });

  it('gives a new session to exactly one of two identities racing to create it', async () => {
    const id = sessionId();
    const results = await Promise.allSettled([newLog().append(id, ev(agent, 0)), newLog().append(id, ev(intruder, 0))]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'forbidden' });
    const read = await newLog().read(id);
    expect(read).toHaveLength(1);
    expect((await newLog().list({})).find((s) => s.sessionId === id)?.ownerOid).toBe(read[0]!.actor.oid);
  });

  it('refuses malformed session ids and unknown sessions', async () => {
    const log = newLog();
    await expect(log.append('../index/sessions/x', ev(agent, 0))).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(log.verify(sessionId())).rejects.toMatchObject({ code: 'not_found' });
    await expect(log.read('no')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('answers ping', async () => {
    expect(await newLog().ping()).toBe(true);
  });
});

describe('group commit', () => {
  it('stores events issued together in one block', async () => {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const { inject } = await import('vitest');
    const { createBlobAuditLog } = await import('../../../src/audit/blob-log.js');
    const name = `audit-group-${Math.random().toString(36).slice(2, 10)}`;
    const container = BlobServiceClient.fromConnectionString(inject('blobConnectionString')).getContainerClient(name);
    const log = createBlobAuditLog({ containerClient: container });
    const actor = { oid: 'oid-group' };
    await log.append('s_group_commit_1', { type: 'request.received', requestId: 'r_0', actor, data: {} });
    const before = log.stats().blocks;
    await Promise.all(['request.received', 'decision', 'executed'].map((type, i) => log.append('s_group_commit_1', { type: type as 'decision', requestId: `r_${i + 1}`, actor, data: { i } })));
    expect(log.stats().blocks - before).toBe(1);
    expect((await log.verify('s_group_commit_1')).valid).toBe(true);
    expect((await log.read('s_group_commit_1')).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });
});
