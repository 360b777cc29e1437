/**
 * Instructions per request (valgrind callgrind, deterministic where CPU and wall time are not on a
 * busy machine) of the bare Hono floor and of the broker's HTTP glue (the real app, Broker.query
 * answering a canned one-row outcome): the glue's cost above the framework, as counts that an
 * A/B change moves reliably. Needs valgrind; takes a few minutes (everything runs ~50× slower).
 *
 *   npx tsx bench/http-instructions.ts [--requests 300] [--warmup 1500] [--only floor|glue]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { spawnTracked, stopAllChildren, tsxArgs } from './lib/processes.js';
import { HttpClient } from './lib/http.js';
import { demoPolicy } from '../src/local/demo.js';
import { ONE_ROW_SQL } from './lib/workload.js';

const argv = process.argv.slice(2);
const arg = (f: string) => {
  const i = argv.indexOf(f);
  return i >= 0 ? argv[i + 1] : undefined;
};
const requests = Number(arg('--requests') ?? 300);
const warmup = Number(arg('--warmup') ?? 1500);
const only = arg('--only');
const REPLY = JSON.stringify({
  requestId: 'r_0123456789abcdef0123456789',
  sessionId: 's_bench_instructions',
  decision: 'allowed',
  executed: true,
  columns: [
    { name: 'id', type: 'int4', masked: false },
    { name: 'name', type: 'text', masked: false },
    { name: 'country', type: 'text', masked: false },
    { name: 'amount', type: 'numeric', masked: false },
  ],
  rows: [['42', 'Customer 42', 'NL', '554.00']],
  rowCount: 1,
  truncated: false,
  durationMs: 0.41,
});

async function measure(name: 'floor' | 'glue'): Promise<number> {
  const out = join(tmpdir(), `callgrind-${name}-${process.pid}.out`);
  const file = name === 'floor' ? 'bench/lib/hono-floor-server.ts' : 'bench/lib/glue-server.ts';
  const policy = demoPolicy() as { limits?: Record<string, unknown> };
  policy.limits = { ...policy.limits, requestsPerMinute: 100_000_000 };
  const child = spawnTracked('valgrind', ['--tool=callgrind', '--collect-atstart=no', `--callgrind-out-file=${out}`, process.execPath, ...tsxArgs(file)], {
    env: { ...process.env, QB_FLOOR_REPLY: REPLY, QB_GLUE_REPLY: REPLY, QB_BENCH_POLICY: JSON.stringify(policy), QB_SALES_DATABASE_URL: 'postgres://bench@127.0.0.1:1/bench' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type?: string; url?: string }) => m?.type === 'ready' && m.url && resolve(m.url));
    child.once('exit', (code) => reject(new Error(`${file} under valgrind exited with ${code}`)));
  });
  const http = new HttpClient(url, 1);
  let token: string | undefined;
  if (name === 'glue') token = (JSON.parse((await http.postJson('/api/dev/token', { sub: 'bench-instr', roles: ['Query.Read'] })).body) as { token: string }).token;
  const body = { connection: 'sales', sql: ONE_ROW_SQL, sessionId: 's_bench_instructions' };
  const run = async () => {
    const r = await http.postJson('/api/query', body, token);
    if (r.status !== 200) throw new Error(`${name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  };
  for (let i = 0; i < warmup; i++) await run();
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)]);
  for (let i = 0; i < requests; i++) await run();
  execFileSync('callgrind_control', ['-i', 'off', String(child.pid)]);
  execFileSync('callgrind_control', ['-d', String(child.pid)]);
  http.close();
  // The dump is written when valgrind next looks at its command file: wait for its totals line.
  let total = 0;
  for (let i = 0; i < 600 && total === 0; i++) {
    for (const d of readdirSync(tmpdir()).filter((f) => f.startsWith(basename(out)))) {
      const text = readFileSync(join(tmpdir(), d), 'utf8');
      const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
      if (m) total = Math.max(total, Number(m[1]));
    }
    if (total === 0) await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  for (const d of readdirSync(tmpdir()).filter((f) => f.startsWith(basename(out)))) rmSync(join(tmpdir(), d), { force: true });
  return total / requests;
}

async function main(): Promise<void> {
  const names = only ? [only as 'floor' | 'glue'] : (['floor', 'glue'] as const);
  const results: Record<string, number> = {};
  // Each figure as soon as it is known: a run under valgrind on a busy machine takes many minutes.
  for (const n of names) {
    results[n] = await measure(n);
    process.stdout.write(`${n.padEnd(6)} ${Math.round(results[n]).toLocaleString('en-US')} instructions/request\n`);
  }
  if (results.floor && results.glue) process.stdout.write(`glue above the floor: ${Math.round(results.glue - results.floor).toLocaleString('en-US')} instructions/request\n`);
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => void stopAllChildren());
