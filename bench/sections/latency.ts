/**
 * Section 1: one statement, sequentially, down every path: direct `pg` (the floor), the pipeline
 * in-process (Broker.query with a verified principal), and over HTTP; audit off and on.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { randomBytes } from 'node:crypto';
import { sessionOptions } from '../../src/db/pools.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createBlobAuditLog, createAuditContainerClient, type BlobAuditLog } from '../../src/audit/blob-log.js';
import type { Principal } from '../../src/broker/ports.js';
import type { QueryRequest } from '../../src/broker/types.js';
import { createInProcessBroker, type InProcessBroker } from '../lib/in-process.js';
import { createNoopAuditLog } from '../lib/noop-audit.js';
import { HttpClient, startFloorServer } from '../lib/http.js';
import { timeLoop, round, type LoopSummary } from '../lib/stats.js';
import { cpuGroups, iterations, serversOf, type BenchContext } from '../lib/context.js';
import { cpuDelta, sampleCpu } from '../lib/cpu.js';
import { ONE_ROW_SQL, THOUSAND_ROWS_SQL } from '../lib/workload.js';

/** Keep every value as the server's text, as the executor does. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

export interface PathLatency {
  path: string;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  /** p50 over the direct pg (simple query) p50 */
  ratioP50: number;
  ratioP99: number;
  samples: number;
  runs: number;
  /** CPU per request of the process doing the broker's work (this process for direct pg and in-process; the server child over HTTP) */
  brokerCpuUs: number;
  /** CPU per request of the PostgreSQL backends of the bench database */
  postgresCpuUs: number;
  /** CPU per request of Azurite */
  azuriteCpuUs: number;
}

export interface LatencyResult {
  oneRow: { sql: string; paths: PathLatency[] };
  thousandRows: { sql: string; paths: PathLatency[] };
  /** Broker.query (audit off) p50 minus direct pg p50, one-row read: the target is under 300 µs */
  pipelineOverheadOneRowP50Us: number;
  /** Broker.query with a no-op audit log (no chain, no hashing) minus direct pg, one-row p50 */
  pipelineOverheadNoAuditWorkP50Us: number;
  /** the same, against direct pg through pg-cursor (the executor's protocol before one-round-trip reads) */
  pipelineOverheadOverCursorP50Us: number;
  /** HTTP (audit off) p50 minus Broker.query (audit off) p50: HTTP, token cache, JSON */
  httpLayerP50Us: number;
  /** the bare Hono floor (JSON body in, the same JSON out) over HTTP, one-row p50: client, sockets and framework only */
  httpFloorP50Us: number;
  /** p50 of the one-row read over HTTP, audit off */
  httpAuditOffP50Us: number;
  /** the HTTP layer above the floor: HTTP layer minus the floor's round trip (auth, validation, glue) */
  httpLayerOverFloorP50Us: number;
  /** CPU per one-row request of the bare Hono server child */
  httpFloorCpuUs: number;
  /** CPU per one-row read: Broker.query (audit off) minus the direct pg client; steady under a busy machine */
  pipelineCpuOverheadOneRowUs: number;
  /** CPU per one-row read: the HTTP server (audit off) minus Broker.query (audit off) */
  httpLayerCpuUs: number;
  /** Azurite blob audit: storage requests and blocks per request, on the latency runs */
  blobAuditPerRequest: { appends: number; blocks: number; storageRequests: number };
}

type Runner = () => Promise<unknown>;

/** The floor of the HTTP path: a bare Hono app on @hono/node-server, JSON body in, the broker's JSON out. */
export const FLOOR_PATH = 'floor: bare Hono over HTTP (parse JSON, answer the same JSON)';

interface Measured {
  path: string;
  s: LoopSummary;
  cpu: { broker: number; postgres: number; azurite: number };
}

function withRatios(rows: Measured[]): PathLatency[] {
  const floor = rows[0]!.s;
  return rows.map(({ path, s, cpu }) => ({
    path,
    p50Us: round(s.p50),
    p90Us: round(s.p90),
    p99Us: round(s.p99),
    ratioP50: round(s.p50 / floor.p50, 2),
    ratioP99: round(s.p99 / floor.p99, 2),
    samples: s.n,
    runs: s.runs,
    brokerCpuUs: round(cpu.broker),
    postgresCpuUs: round(cpu.postgres),
    azuriteCpuUs: round(cpu.azurite),
  }));
}

export async function measureLatency(ctx: BenchContext): Promise<LatencyResult> {
  const profile = ctx.policy.profiles['agent-read']!;
  const url = new URL(ctx.stack.brokerUrl);
  // The broker's login role with the profile's role and settings at connect: the same session the executor gets.
  const direct = new pg.Pool({
    host: url.hostname,
    port: Number(url.port),
    database: decodeURIComponent(url.pathname.slice(1)),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    max: 10,
    options: sessionOptions(profile, 'read'),
  });
  const memoryAudit = createMemoryAuditLog();
  const blobAudit: BlobAuditLog = createBlobAuditLog({
    containerClient: createAuditContainerClient({ connectionString: ctx.stack.blobConnectionString, container: `bench-latency-${randomBytes(4).toString('hex')}` }),
  });
  const inMemory = await createInProcessBroker(ctx.policy, memoryAudit);
  const inNoop = await createInProcessBroker(ctx.policy, createNoopAuditLog());
  const principalNoop = await inNoop.principal('bench-latency', ['Query.Read']);
  const inBlob = await createInProcessBroker(ctx.policy, blobAudit);
  const principal = await inMemory.principal('bench-latency', ['Query.Read']);
  const principalBlob = await inBlob.principal('bench-latency', ['Query.Read']);
  const servers = serversOf(ctx);
  const httpMemory = new HttpClient(servers.memory.url, 1);
  const httpBlob = new HttpClient(servers.blob.url, 1);
  const tokenMemory = await servers.memory.token({ sub: 'bench-latency', roles: ['Query.Read'] });
  const tokenBlob = await servers.blob.token({ sub: 'bench-latency', roles: ['Query.Read'] });
  // The floor answers what the broker answers (same body size), having only parsed the request.
  const sample = (sql: string) => httpMemory.postJson('/api/query', { connection: 'sales', sql, sessionId: 's_bench_floor_sample' }, tokenMemory);
  const floors = new Map<string, Awaited<ReturnType<typeof startFloorServer>>>();
  for (const sql of [ONE_ROW_SQL, THOUSAND_ROWS_SQL]) {
    const r = await sample(sql);
    if (r.status !== 200) throw new Error(`floor sample: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    floors.set(sql, await startFloorServer(r.body));
  }
  const floorClients = new Map([...floors].map(([sql, f]) => [sql, new HttpClient(f.url, 1)]));

  /** requests sent through the in-process audit-on path (warm-up included): the blob log's stats cover them all */
  let blobRequests = 0;
  const runners = (sql: string, expectRows: number): { path: string; run: Runner; brokerPid?: number }[] => {
    const session = () => `s_bench_${randomBytes(6).toString('hex')}`;
    // One session per path and statement, as one agent would keep; warm after the first request.
    const sMem = session();
    const sNoop = session();
    const sBlob = session();
    const sHttpMem = session();
    const sHttpBlob = session();
    const req = (sessionId: string): QueryRequest => ({ connection: 'sales', sql, params: [], dryRun: false, sessionId });
    const inProcess = (b: InProcessBroker, p: Principal, sessionId: string): Runner => async () => {
      const out = await b.runtime.broker.query(p, req(sessionId));
      if (out.decision !== 'allowed' || !out.executed || out.rowCount !== expectRows) throw new Error(`unexpected outcome ${JSON.stringify(out).slice(0, 200)}`);
    };
    const overHttp = (client: HttpClient, token: string, sessionId: string): Runner => async () => {
      const r = await client.postJson('/api/query', { connection: 'sales', sql, sessionId }, token);
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    };
    return [
      {
        path: 'direct pg (simple query)',
        run: async () => {
          const r = await direct.query({ text: sql, rowMode: 'array', types: RAW_TEXT });
          if (r.rows.length !== expectRows) throw new Error('row count');
        },
      },
      {
        path: 'direct pg (pg-cursor, for comparison)',
        run: async () => {
          const client = await direct.connect();
          try {
            const cursor = client.query(new Cursor(sql, [], { rowMode: 'array', types: RAW_TEXT }));
            const rows = await cursor.read(profile.maxRows + 1);
            await cursor.close();
            if (rows.length !== expectRows) throw new Error('row count');
          } finally {
            client.release();
          }
        },
      },
      { path: 'broker in-process, no audit work (no-op log)', run: inProcess(inNoop, principalNoop, sNoop) },
      { path: 'broker in-process, audit off', run: inProcess(inMemory, principal, sMem) },
      {
        path: 'broker in-process, audit on (Azurite)',
        run: (() => {
          const run = inProcess(inBlob, principalBlob, sBlob);
          return async () => {
            blobRequests++;
            await run();
          };
        })(),
      },
      { path: FLOOR_PATH, run: overHttp(floorClients.get(sql)!, tokenMemory, sHttpMem), brokerPid: floors.get(sql)!.pid },
      { path: 'broker HTTP, audit off', run: overHttp(httpMemory, tokenMemory, sHttpMem), brokerPid: servers.memory.pid },
      { path: 'broker HTTP, audit on (Azurite)', run: overHttp(httpBlob, tokenBlob, sHttpBlob), brokerPid: servers.blob.pid },
    ];
  };

  const measure = async (sql: string, expectRows: number, n: number, warmup: number) => {
    const rows: Measured[] = [];
    const list = runners(sql, expectRows);
    // Warm every path for a while before timing any: the paths share the pipeline's code, and a
    // process keeps getting faster for thousands of requests (V8 tiers, pools, PostgreSQL's caches);
    // with a short warm-up the path timed first paid for the others (no-op log slower than audit off).
    const warmMs = ctx.quick ? 200 : 1500;
    for (const { run } of list) {
      const until = performance.now() + warmMs;
      for (let i = 0; i < warmup || performance.now() < until; i++) await run();
    }
    for (const { path, run, brokerPid } of list) {
      const groups = cpuGroups(ctx, brokerPid ?? process.pid);
      // Other processes' CPU over the timed runs only: a fresh server's JIT warm-up stays out.
      let before = sampleCpu(groups);
      let d: Record<string, number> = {};
      const s = await timeLoop(run, {
        warmup,
        iterations: n,
        runs: ctx.runs,
        maxSecondsPerRun: ctx.quick ? 1 : 4,
        onTimed: (phase) => {
          if (phase === 'start') before = sampleCpu(groups);
          else d = cpuDelta(before, sampleCpu(groups));
        },
      });
      const calls = s.n;
      // In this process the precise figure (process.cpuUsage); a child's comes from /proc (10 ms ticks).
      const broker = brokerPid === undefined ? s.cpuUs : (d.broker ?? 0) / calls;
      rows.push({ path, s, cpu: { broker, postgres: (d.postgres ?? 0) / calls, azurite: (d.azurite ?? 0) / calls } });
    }
    return withRatios(rows);
  };

  try {
    const before = blobAudit.stats();
    const oneRow = await measure(ONE_ROW_SQL, 1, iterations(ctx, 500), iterations(ctx, 200));
    const after = blobAudit.stats();
    // The in-process audit-on path ran its warm-up and timed requests on this log: all counted.
    const requests = blobRequests;
    const thousandRows = await measure(THOUSAND_ROWS_SQL, 1000, iterations(ctx, 100), iterations(ctx, 20));
    const byPath = (list: PathLatency[], p: string) => list.find((x) => x.path === p)!;
    return {
      oneRow: { sql: ONE_ROW_SQL, paths: oneRow },
      thousandRows: { sql: THOUSAND_ROWS_SQL, paths: thousandRows },
      pipelineOverheadOneRowP50Us: round(byPath(oneRow, 'broker in-process, audit off').p50Us - oneRow[0]!.p50Us),
      pipelineOverheadNoAuditWorkP50Us: round(byPath(oneRow, 'broker in-process, no audit work (no-op log)').p50Us - oneRow[0]!.p50Us),
      pipelineOverheadOverCursorP50Us: round(byPath(oneRow, 'broker in-process, audit off').p50Us - oneRow[1]!.p50Us),
      httpLayerP50Us: round(byPath(oneRow, 'broker HTTP, audit off').p50Us - byPath(oneRow, 'broker in-process, audit off').p50Us),
      httpFloorP50Us: byPath(oneRow, FLOOR_PATH).p50Us,
      httpAuditOffP50Us: byPath(oneRow, 'broker HTTP, audit off').p50Us,
      httpLayerOverFloorP50Us: round(byPath(oneRow, 'broker HTTP, audit off').p50Us - byPath(oneRow, 'broker in-process, audit off').p50Us - byPath(oneRow, FLOOR_PATH).p50Us),
      httpFloorCpuUs: byPath(oneRow, FLOOR_PATH).brokerCpuUs,
      pipelineCpuOverheadOneRowUs: round(byPath(oneRow, 'broker in-process, audit off').brokerCpuUs - oneRow[0]!.brokerCpuUs),
      httpLayerCpuUs: round(byPath(oneRow, 'broker HTTP, audit off').brokerCpuUs - byPath(oneRow, 'broker in-process, audit off').brokerCpuUs),
      blobAuditPerRequest: {
        appends: round((after.appends - before.appends) / requests, 2),
        blocks: round((after.blocks - before.blocks) / requests, 2),
        storageRequests: round((after.storageRequests - before.storageRequests) / requests, 2),
      },
    };
  } finally {
    httpMemory.close();
    httpBlob.close();
    for (const c of floorClients.values()) c.close();
    await Promise.allSettled([...floors.values()].map((f) => f.stop()));
    await inMemory.close();
    await inNoop.close();
    await inBlob.close();
    await direct.end();
  }
}
