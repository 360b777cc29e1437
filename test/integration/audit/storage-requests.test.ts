/**
 * An audited read costs one storage request in steady state, with a sessionId and without one.
 * Against real Azurite, through a broker composed as `npm start` composes it (blob audit log behind
 * the event publishing wrapper), with two witnesses: a proxy in front of Azurite that sees every
 * HTTP request the broker sends to storage (the SDK's own retries included), and the audit log's
 * counters by kind as the broker exposes them. After a session's first read, N reads cost exactly
 * N append requests and no read, create, listing or properties request; every event is stored and
 * the chain verifies.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { statsDelta } from '../../../src/audit/stats.js';
import type { AuditLogStats } from '../../../src/broker/ports.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const READ = { connection: 'sales', sql: 'select id, name from customers where id = 1' };
const N = 12;

/** Every request the broker sends to storage, as "METHOD comp" (e.g. "PUT appendblock"). */
function countingProxy(target: URL): { server: Server; seen: string[]; ready: Promise<number> } {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    seen.push(`${req.method} ${url.searchParams.get('comp') ?? url.searchParams.get('restype') ?? 'blob'}`);
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const ready = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return { server, seen, ready };
}

const direct = inject('blobConnectionString');
let proxy: ReturnType<typeof countingProxy>;
let broker: TestBroker;

beforeAll(async () => {
  proxy = countingProxy(new URL(/BlobEndpoint=([^;]+)/.exec(direct)![1]!));
  const port = await proxy.ready;
  broker = await startTestBroker({ blobConnectionString: direct.replace(/BlobEndpoint=http:\/\/[^/]+/, `BlobEndpoint=http://127.0.0.1:${port}`) });
}, 60_000);

afterAll(async () => {
  await broker?.close();
  await new Promise<void>((resolve) => proxy?.server.close(() => resolve()));
});

function stats(): AuditLogStats {
  const s = broker.audit.stats?.();
  if (!s) throw new Error('the broker’s audit log exposes no storage counters');
  return s;
}

async function read(sub: string, sessionId?: string): Promise<string> {
  const res = await broker.query(sessionId === undefined ? READ : { ...READ, sessionId }, ['Query.Read'], sub);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.sessionId as string;
}

/** What `work` cost in storage: the proxy's view and the audit log's counters. */
async function measure(work: () => Promise<void>): Promise<{ http: string[]; counted: AuditLogStats }> {
  const before = stats();
  const from = proxy.seen.length;
  await work();
  return { http: proxy.seen.slice(from), counted: statsDelta(before, stats()) };
}

/** The stored chain, downloaded whole and recomputed (after the measured window: it costs reads). */
async function expectVerified(sessionId: string, events: number): Promise<void> {
  expect(await broker.audit.verify(sessionId)).toEqual({ valid: true, events, firstBadSeq: null });
}

function expectOnlyAppends(cost: { http: string[]; counted: AuditLogStats }, n: number): void {
  expect(cost.http).toEqual(Array.from({ length: n }, () => 'PUT appendblock'));
  expect(cost.counted.storageRequestsByKind).toEqual({ append: n, create: 0, read: 0, properties: 0, list: 0, container: 0 });
  expect(cost.counted.storageRequests).toBe(n);
  expect(cost.counted.blocks).toBe(n);
  expect(cost.counted.appends).toBe(3 * n); // received, decision, executed: every event stored
  expect(cost.counted.conflicts).toBe(0);
}

describe('storage requests per audited read in steady state', () => {
  it('with a sessionId: the first read creates the session, then N reads cost N appends', async () => {
    const sessionId = `s_req_${randomBytes(6).toString('hex')}`;
    const first = await measure(async () => void (await read('req-a', sessionId)));
    // A session the client named is looked up first (404), then created: its index entry (the
    // container too, on this broker's first write), its blob, then the block. The counters agree
    // with what storage was sent.
    expect(first.counted.storageRequestsByKind).toEqual({ append: 1, create: 3, read: 1, properties: 0, list: 0, container: 1 });
    expect(first.http).toEqual(['GET blob', 'PUT blob', 'PUT container', 'PUT blob', 'PUT blob', 'PUT appendblock']);

    const steady = await measure(async () => {
      for (let i = 0; i < N; i++) expect(await read('req-a', sessionId)).toBe(sessionId);
    });
    expectOnlyAppends(steady, N);
    await expectVerified(sessionId, 3 * (N + 1));
  });

  it('without a sessionId: the default session costs the same, one append per read', async () => {
    const sessionId = await read('req-b');
    const steady = await measure(async () => {
      for (let i = 0; i < N; i++) expect(await read('req-b')).toBe(sessionId);
    });
    expectOnlyAppends(steady, N);
    await expectVerified(sessionId, 3 * (N + 1));
  });

  it('with concurrent clients, each in its own session (a sessionId, or none): still one append per read', async () => {
    const clients = Array.from({ length: 8 }, (_, i) => ({ sub: `req-c${i}`, sessionId: i % 2 === 0 ? `s_req_${randomBytes(6).toString('hex')}` : undefined }));
    const sessions = await Promise.all(clients.map((c) => read(c.sub, c.sessionId)));
    const rounds = 4;
    const steady = await measure(async () => {
      await Promise.all(
        clients.map(async (c, i) => {
          for (let r = 0; r < rounds; r++) expect(await read(c.sub, c.sessionId)).toBe(sessions[i]);
        }),
      );
    });
    expectOnlyAppends(steady, clients.length * rounds);
    for (const s of sessions) await expectVerified(s, 3 * (rounds + 1));
  });
});
