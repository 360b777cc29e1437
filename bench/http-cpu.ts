/**
 * CPU per one-row read over HTTP, next to the bare Hono floor and Broker.query in-process: the
 * figure that stays put on a machine shared with other work (wall time there measures the queue for
 * the CPU). Sequential requests on one keep-alive socket, as the latency section sends them.
 *
 *   npx tsx bench/http-cpu.ts [--requests 4000] [--profile] [--syscalls] [--paths floor,broker HTTP glue]
 *
 * `--paths` keeps the paths whose names start with one of the given prefixes.
 *
 * `--profile` also writes CPU profiles of the broker server and of the floor over the timed
 * requests (bench/results/http-cpu-{broker,floor}.cpuprofile.json) and prints their summaries;
 * `--syscalls` counts the servers' system calls over the timed requests (strace -c, when installed).
 */
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { startBenchStack, benchPolicy, benchPolicyRaw } from './lib/stack.js';
import { startBrokerServer, startFloorServer, startGlueServer, HttpClient } from './lib/http.js';
import { createInProcessBroker } from './lib/in-process.js';
import { createMemoryAuditLog } from '../src/audit/memory-log.js';
import { processCpuUs } from './lib/cpu.js';
import { ONE_ROW_SQL } from './lib/workload.js';
import { REPO_ROOT, onInterrupt, stopAllChildren } from './lib/processes.js';
import { summarizeCpuProfile } from './lib/cpuprofile.js';
import { startCpuProfile } from './lib/profiler.js';
import { round } from './lib/stats.js';

const argv = process.argv.slice(2);
const arg = (f: string) => {
  const i = argv.indexOf(f);
  return i >= 0 ? argv[i + 1] : undefined;
};
const requests = Number(arg('--requests') ?? 4000);
const profile = argv.includes('--profile');
const syscalls = argv.includes('--syscalls');
const rounds = Number(arg('--rounds') ?? 3);
const print = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stack = await startBenchStack();
  onInterrupt(async () => {
    await stopAllChildren();
    await stack.stop();
  });
  const policyRaw = benchPolicyRaw(stack.connectionEnv, { requestsPerMinute: 100_000_000 });
  const policy = benchPolicy(stack.connectionEnv, { requestsPerMinute: 100_000_000 });
  process.env[stack.connectionEnv] = stack.brokerUrl;
  const server = await startBrokerServer({ policyJson: JSON.stringify(policyRaw), blobConnectionString: stack.blobConnectionString, audit: 'memory', env: { [stack.connectionEnv]: stack.brokerUrl } });
  const inProc = await createInProcessBroker(policy, createMemoryAuditLog());
  const principal = await inProc.principal('bench-cpu', ['Query.Read']);
  const token = await server.token({ sub: 'bench-cpu', roles: ['Query.Read'] });
  const http = new HttpClient(server.url, 1);
  const body = { connection: 'sales', sql: ONE_ROW_SQL, sessionId: 's_bench_cpu' };
  const sample = await http.postJson('/api/query', body, token);
  if (sample.status !== 200) throw new Error(`HTTP ${sample.status} ${sample.body}`);
  const floor = await startFloorServer(sample.body);
  const floorHttp = new HttpClient(floor.url, 1);
  const glue = await startGlueServer(sample.body, JSON.stringify(policyRaw));
  const glueHttp = new HttpClient(glue.url, 1);
  const glueToken = (JSON.parse((await glueHttp.postJson('/api/dev/token', { sub: 'bench-cpu', roles: ['Query.Read'] })).body) as { token: string }).token;
  try {
    const paths: { name: string; pid: number; run: () => Promise<unknown>; profile?: () => Promise<(f: string) => Promise<void>> }[] = [
      {
        name: 'floor: bare Hono over HTTP',
        pid: floor.pid,
        run: async () => {
          const r = await floorHttp.postJson('/api/query', body, token);
          if (r.status !== 200) throw new Error(`floor ${r.status}`);
        },
        profile: () => floor.profile(),
      },
      {
        name: 'broker HTTP glue (canned Broker.query)',
        pid: glue.pid,
        run: async () => {
          const r = await glueHttp.postJson('/api/query', body, glueToken);
          if (r.status !== 200) throw new Error(`glue ${r.status} ${r.body.slice(0, 200)}`);
        },
        profile: () => glue.profile(),
      },
      {
        name: 'broker HTTP, audit off',
        pid: server.pid,
        run: async () => {
          const r = await http.postJson('/api/query', body, token);
          if (r.status !== 200) throw new Error(`HTTP ${r.status} ${r.body.slice(0, 200)}`);
        },
        profile: () => server.profile(),
      },
      {
        name: 'Broker.query in-process, audit off',
        pid: process.pid,
        profile: () => startCpuProfile(),
        run: async () => {
          const o = await inProc.runtime.broker.query(principal, { connection: 'sales', sql: ONE_ROW_SQL, params: [], dryRun: false, sessionId: 's_bench_cpu_in' });
          if (o.decision !== 'allowed') throw new Error('not allowed');
        },
      },
      {
        name: 'Broker.query in-process, audit off, with an AbortSignal',
        pid: process.pid,
        run: async () => {
          // As the HTTP route passes it: a request's signal, which the executor listens on.
          const signal = new AbortController().signal;
          const o = await inProc.runtime.broker.query(principal, { connection: 'sales', sql: ONE_ROW_SQL, params: [], dryRun: false, sessionId: 's_bench_cpu_sig' }, signal);
          if (o.decision !== 'allowed') throw new Error('not allowed');
        },
      },
    ];
    const chosen = arg('--paths')?.split(',');
    if (chosen) paths.splice(0, paths.length, ...paths.filter((p) => chosen.some((c) => p.name.startsWith(c))));
    // Warm every path first: V8 tiers up over thousands of requests.
    for (const p of paths) for (let i = 0; i < 3000; i++) await p.run();
    const cpuOf = async (p: (typeof paths)[number]) => {
      const own = p.pid === process.pid;
      const c0 = process.cpuUsage();
      const before = own ? 0 : processCpuUs(p.pid)!;
      const t0 = performance.now();
      for (let i = 0; i < requests; i++) await p.run();
      const wall = performance.now() - t0;
      const d = process.cpuUsage(c0);
      const cpu = own ? d.user + d.system : processCpuUs(p.pid)! - before;
      return { cpu: cpu / requests, wall: (wall * 1000) / requests };
    };
    // CPU without the profiler (rounds interleaved across the paths; the median is shown).
    const rows: string[] = [];
    const results = new Map<string, { cpu: number; wall: number }[]>();
    for (let round = 0; round < rounds; round++) for (const p of paths) results.set(p.name, [...(results.get(p.name) ?? []), await cpuOf(p)]);
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    for (const p of paths) {
      const r = results.get(p.name)!;
      rows.push(`${p.name.padEnd(40)} CPU ${round(median(r.map((x) => x.cpu))).toString().padStart(7)} µs/req  (${r.map((x) => round(x.cpu)).join(', ')})   wall mean ${round(median(r.map((x) => x.wall)))} µs`);
    }
    if (syscalls) {
      // Which system calls a request costs, and how many (strace -c on the server process, all threads).
      for (const p of paths) {
        if (p.pid === process.pid) continue;
        const out = join(resultsDir, `http-cpu-${p.pid === floor.pid ? 'floor' : p.pid === glue.pid ? 'glue' : 'broker'}.strace.txt`);
        const tracer = spawn('strace', ['-c', '-f', '-p', String(p.pid), '-o', out], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 1000));
        for (let i = 0; i < requests; i++) await p.run();
        const exited = new Promise((r) => tracer.once('exit', r));
        tracer.kill('SIGINT');
        await exited;
        print(`system calls of ${p.name}, ${requests} requests:\n${readFileSync(out, 'utf8')}`);
      }
    }
    if (profile) {
      for (const p of paths) {
        if (!p.profile) continue;
        const stop = await p.profile();
        for (let i = 0; i < requests; i++) await p.run();
        const file = join(resultsDir, `http-cpu-${p.pid === floor.pid ? 'floor' : p.pid === glue.pid ? 'glue' : p.pid === process.pid ? 'in-process' : 'broker'}.cpuprofile.json`);
        await stop(file);
        const s = summarizeCpuProfile(file, 25);
        print(`profile of ${p.name}, ${requests} requests (${file}): busy ${s.busyMs} ms`);
        for (const x of s.byOwner) print(`  owner  ${x.ms.toString().padStart(8)} ms  ${round(x.share * 100, 1)} %  ${x.name}`);
        for (const x of s.topFunctions) print(`  self   ${x.ms.toString().padStart(8)} ms  ${round(x.share * 100, 1)} %  ${x.name}`);
      }
    }
    for (const r of rows) print(r);
  } finally {
    http.close();
    floorHttp.close();
    glueHttp.close();
    await glue.stop();
    await server.stop();
    await floor.stop();
    await inProc.close();
    await stopAllChildren();
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
