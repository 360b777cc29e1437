/**
 * Section 2: closed-loop throughput over HTTP with 1, 8 and 32 concurrent clients, audit on
 * (Azurite) and off. Each client is its own identity with its own session, as distinct agents are.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { HttpClient, type BrokerServer } from '../lib/http.js';
import { median, nowUs, round, summarize } from '../lib/stats.js';
import { cpuGroups, serversOf, type BenchContext } from '../lib/context.js';
import { cpuDelta, sampleCpu, type CpuGroup } from '../lib/cpu.js';
import { ONE_ROW_SQL } from '../lib/workload.js';
import { AUDIT_STORAGE_REQUEST_KINDS, statsDelta, type AuditStorageRequestKind } from '../../src/audit/stats.js';

/** Storage requests per answered request: in all, and by kind (append, create, read, …). */
export interface StoragePerRequest {
  total: number;
  byKind: Record<AuditStorageRequestKind, number>;
}

export interface ThroughputRow {
  audit: 'on (Azurite)' | 'off';
  clients: number;
  /** how requests pick their session */
  sessions: 'one per client' | 'no sessionId';
  qps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  runs: number;
  /** storage requests of the audit log per answered request in the measured window; null when the log counts none (audit off) */
  storageRequestsPerRequest: StoragePerRequest | null;
  /** CPU µs per request in the broker server, the PostgreSQL backends and Azurite; and in the bench's own load generator */
  cpuUsPerRequest: { broker: number; postgres: number; azurite: number; loadGenerator: number };
  /** cores × 1 s over the CPU a request costs in all three: the ceiling on an otherwise idle machine */
  ceilingQps: number;
  /** the same without Azurite's CPU: what the broker and PostgreSQL alone could serve (Azure Blob Storage runs elsewhere) */
  ceilingQpsWithoutAzurite: number;
}

export interface ThroughputOptions {
  /** measured seconds per run (after warm-up) */
  seconds: number;
  warmupSeconds: number;
}

export interface RunFigures {
  qps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  storageRequestsPerRequest: StoragePerRequest | null;
  cpuUsPerRequest: Record<string, number>;
}

/** One closed-loop run: every client sends its next request as soon as the previous one answers. */
export async function runClosedLoop(server: BrokerServer, clients: number, withoutSession: boolean, o: ThroughputOptions, tokens: string[], cpu: CpuGroup[] = []): Promise<RunFigures> {
  const http = new HttpClient(server.url, clients);
  const sessions = tokens.map(() => `s_tp_${randomBytes(6).toString('hex')}`);
  let measuring = false;
  let stop = false;
  let done = 0;
  let errors = 0;
  /** answered since the window opened, including those finishing after it closed (see storage below) */
  let answered = 0;
  let draining = false;
  /** clients with at least one answer: their session exists before the window opens */
  const warmed = new Set<number>();
  let firstError = '';
  const latencies: number[] = [];
  /** a barrier before the window: every client waits here, so nothing is in flight when it opens */
  let barrier: { waiting: number; release: Promise<void>; open(): void } | undefined;
  let allWaiting: (() => void) | undefined;
  const worker = async (i: number) => {
    while (!stop) {
      if (barrier) {
        barrier.waiting++;
        if (barrier.waiting === clients) allWaiting?.();
        await barrier.release;
      }
      const body: Record<string, unknown> = { connection: 'sales', sql: ONE_ROW_SQL };
      if (!withoutSession) body.sessionId = sessions[i];
      const t0 = nowUs();
      const r = await http.postJson('/api/query', body, tokens[i]).catch((e: unknown) => ({ status: 0, body: String(e) }));
      warmed.add(i);
      if (!measuring && !draining) continue;
      answered++;
      if (!measuring) continue;
      if (r.status === 200) {
        done++;
        latencies.push(nowUs() - t0);
      } else {
        errors++;
        firstError ||= `${r.status} ${r.body.slice(0, 200)}`;
      }
    }
  };
  const workers = Array.from({ length: clients }, (_, i) => worker(i));
  await sleep(o.warmupSeconds * 1000);
  for (let waited = 0; warmed.size < clients && waited < 30_000; waited += 50) await sleep(50);
  // Let every request in flight answer, count storage from that quiet point, then open the window.
  let open = () => {};
  const release = new Promise<void>((r) => (open = r));
  const quiet = new Promise<void>((r) => (allWaiting = r));
  barrier = { waiting: 0, release, open };
  await quiet;
  const storage0 = await server.auditStats();
  barrier = undefined;
  measuring = true;
  open();
  const cpu0 = sampleCpu(cpu);
  const t0 = nowUs();
  await sleep(o.seconds * 1000);
  const elapsedS = (nowUs() - t0) / 1e6;
  measuring = false;
  draining = true;
  const counted = done;
  const cpuUsed = cpuDelta(cpu0, sampleCpu(cpu));
  stop = true;
  await Promise.all(workers);
  // Storage per request from the window's start until every request has answered: nothing was in
  // flight at either end, so every storage request counted belongs to a request counted.
  const storage1 = await server.auditStats();
  http.close();
  if (errors > 0) process.stderr.write(`throughput: ${errors} errors, first: ${firstError}\n`);
  const s = summarize(latencies);
  const cpuUsPerRequest = Object.fromEntries(Object.entries(cpuUsed).map(([k, us]) => [k, counted ? us / counted : Number.NaN]));
  let storageRequestsPerRequest: StoragePerRequest | null = null;
  if (storage0 && storage1) {
    const d = statsDelta(storage0, storage1);
    const per = (n: number) => (answered ? n / answered : Number.NaN);
    storageRequestsPerRequest = { total: per(d.storageRequests), byKind: perKind((k) => per(d.storageRequestsByKind[k])) };
  }
  return { qps: counted / elapsedS, p50Ms: s.p50 / 1000, p99Ms: s.p99 / 1000, errors, storageRequestsPerRequest, cpuUsPerRequest };
}

function perKind(f: (kind: AuditStorageRequestKind) => number): Record<AuditStorageRequestKind, number> {
  return Object.fromEntries(AUDIT_STORAGE_REQUEST_KINDS.map((k) => [k, f(k)])) as Record<AuditStorageRequestKind, number>;
}

/** The median of the runs' figures, kind by kind; null when any run had none. */
function medianStorage(runs: (StoragePerRequest | null)[]): StoragePerRequest | null {
  if (runs.length === 0 || runs.some((r) => r === null)) return null;
  const all = runs as StoragePerRequest[];
  return { total: round(median(all.map((r) => r.total)), 2), byKind: perKind((k) => round(median(all.map((r) => r.byKind[k])), 2)) };
}

/** "1 (append 1)" or "1.03 (append 1, read 0.02, create 0.01)": the kinds seen; "unmeasured" without counters. */
export function formatStoragePerRequest(s: StoragePerRequest | null): string {
  if (s === null) return 'unmeasured';
  const kinds = AUDIT_STORAGE_REQUEST_KINDS.filter((k) => s.byKind[k] !== 0).map((k) => `${k} ${s.byKind[k]}`);
  return kinds.length ? `${s.total} (${kinds.join(', ')})` : String(s.total);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function measureThroughput(ctx: BenchContext, o: ThroughputOptions): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const cases: { audit: ThroughputRow['audit']; server: BrokerServer; clients: number; sessions: ThroughputRow['sessions'] }[] = [];
  const servers = serversOf(ctx);
  for (const [audit, server] of [
    ['off', servers.memory],
    ['on (Azurite)', servers.blob],
  ] as const) {
    for (const clients of [1, 8, 32]) cases.push({ audit, server, clients, sessions: 'one per client' });
  }
  // Agents that send no sessionId join their identity's default session (one per identity and instance and UTC day).
  cases.push({ audit: 'on (Azurite)', server: servers.blob, clients: 32, sessions: 'no sessionId' });

  const tokenCache = new Map<string, string[]>();
  for (const c of cases) {
    const key = `${c.server.url}|${c.clients}`;
    let tokens = tokenCache.get(key);
    if (!tokens) {
      tokens = await Promise.all(Array.from({ length: c.clients }, (_, i) => c.server.token({ sub: `bench-tp-${c.clients}-${i}`, roles: ['Query.Read'] })));
      tokenCache.set(key, tokens);
    }
    const runs: RunFigures[] = [];
    const groups = [...cpuGroups(ctx, c.server.pid, c.server.blobConnectionString), { name: 'loadGenerator', pids: [process.pid] }];
    for (let r = 0; r < ctx.runs; r++) runs.push(await runClosedLoop(c.server, c.clients, c.sessions === 'no sessionId', o, tokens, groups));
    const cpuOf = (k: string) => round(median(runs.map((x) => x.cpuUsPerRequest[k] ?? 0)), 0);
    const cpuUsPerRequest = { broker: cpuOf('broker'), postgres: cpuOf('postgres'), azurite: c.audit === 'off' ? 0 : cpuOf('azurite'), loadGenerator: cpuOf('loadGenerator') };
    const total = cpuUsPerRequest.broker + cpuUsPerRequest.postgres + cpuUsPerRequest.azurite;
    rows.push({
      audit: c.audit,
      clients: c.clients,
      sessions: c.sessions,
      qps: round(median(runs.map((x) => x.qps)), 0),
      p50Ms: round(median(runs.map((x) => x.p50Ms)), 2),
      p99Ms: round(median(runs.map((x) => x.p99Ms)), 2),
      errors: runs.reduce((a, x) => a + x.errors, 0),
      runs: runs.length,
      storageRequestsPerRequest: medianStorage(runs.map((x) => x.storageRequestsPerRequest)),
      cpuUsPerRequest,
      ceilingQps: total > 0 ? round((os.cpus().length * 1e6) / total, 0) : Number.NaN,
      ceilingQpsWithoutAzurite: total > 0 ? round((os.cpus().length * 1e6) / (total - cpuUsPerRequest.azurite), 0) : Number.NaN,
    });
  }
  return rows;
}
