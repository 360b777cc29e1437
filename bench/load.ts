/**
 * Load test: 32 concurrent agents (distinct dev-issuer identities, a session each) send 10,000
 * queries over HTTP to a broker with its audit log on Azurite: reads, and refusals (writes on a
 * read profile, parse errors, volatile functions). Afterwards every answer must have been the
 * expected one, every session chain must verify, every event must be there, masked values must
 * not have leaked, and the database must be unchanged.
 *
 *   npx tsx bench/load.ts [--agents 32] [--queries 10000]      (or: npm run bench -- --load)
 * Prints a summary and writes bench/results/load.json; exits 1 when a check fails.
 */
import pg from 'pg';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createBlobAuditLog, createAuditContainerClient } from '../src/audit/blob-log.js';
import { startBenchStack, benchPolicyRaw, type BenchStack } from './lib/stack.js';
import { startBrokerServer, HttpClient } from './lib/http.js';
import { nextLoadStatement, EXPECTED, type LoadCategory } from './lib/workload.js';
import { nowUs, round, seededRandom, summarize } from './lib/stats.js';
import { REPO_ROOT, onInterrupt, stopAllChildren } from './lib/processes.js';

/** Values planted in the demo customers table that a read profile must never receive. */
const PLANTED = ['4111111111111111', '5500005555555559', '340000000000009', '6011000990139424', '4012888888881881', '123-45-6789', 'ada@example.com'];

export interface LoadResult {
  agents: number;
  queries: number;
  seconds: number;
  qps: number;
  byCategory: Record<LoadCategory, { count: number; p50Ms: number; p99Ms: number; unexpected: number }>;
  /** answers other than the expected status and reason code */
  unexpected: number;
  unexpectedSamples: string[];
  /** responses that contained a planted (masked) value */
  leaks: number;
  sessions: number;
  sessionsValid: number;
  eventsExpected: number;
  eventsFound: number;
  /** sessions whose events differ from what their requests must have left */
  sessionsWithMissingOrExtraEvents: number;
  databaseUnchanged: boolean;
  ok: boolean;
}

interface AgentLog {
  sessionId: string;
  expectedEvents: number;
  requests: number;
}

async function databaseState(adminUrl: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query(
      `select (select count(*) from orders)::text as n, (select coalesce(sum(amount_cents), 0) from orders)::text as s,
              (select md5(string_agg(status, ',' order by id)) from orders) as statuses,
              (select last_value::text || is_called::text from orders_id_seq) as seq`,
    );
    return JSON.stringify(r.rows[0]);
  } finally {
    await c.end();
  }
}

export async function runLoad(stack: BenchStack, o: { agents: number; queries: number }): Promise<LoadResult> {
  // The default policy limits (600 requests a minute per identity) stay on: the load must pass them.
  const server = await startBrokerServer({
    policyJson: JSON.stringify(benchPolicyRaw(stack.connectionEnv)),
    blobConnectionString: stack.blobConnectionString,
    audit: 'blob',
    env: { [stack.connectionEnv]: stack.brokerUrl },
  });
  const http = new HttpClient(server.url, o.agents);
  try {
    const before = await databaseState(stack.adminUrl);
    const tokens = await Promise.all(Array.from({ length: o.agents }, (_, i) => server.token({ sub: `load-agent-${i}`, roles: ['Query.Read'], name: `Load agent ${i}` })));
    const latencies: Record<LoadCategory, number[]> = { read: [], write_refused: [], parse_error: [], volatile_refused: [] };
    const unexpectedBy: Record<LoadCategory, number> = { read: 0, write_refused: 0, parse_error: 0, volatile_refused: 0 };
    const unexpectedSamples: string[] = [];
    let leaks = 0;
    const logs: AgentLog[] = [];

    const agent = async (i: number) => {
      const share = Math.floor(o.queries / o.agents) + (i < o.queries % o.agents ? 1 : 0);
      const random = seededRandom(1000 + i);
      const log: AgentLog = { sessionId: `s_load_${i}_${randomBytes(6).toString('hex')}`, expectedEvents: 0, requests: 0 };
      logs.push(log);
      for (let k = 0; k < share; k++) {
        const st = nextLoadStatement(random);
        const t0 = nowUs();
        const r = await http.postJson('/api/query', { connection: 'sales', sql: st.sql, params: st.params, sessionId: log.sessionId }, tokens[i]).catch((e: unknown) => ({ status: 0, body: String(e) }));
        latencies[st.category].push(nowUs() - t0);
        log.requests++;
        const want = EXPECTED[st.category];
        log.expectedEvents += want.events;
        let ok = r.status === want.status;
        if (ok && want.codes.length > 0) {
          const body = JSON.parse(r.body) as { error?: { code?: string; reasons?: { code: string }[] } };
          const codes = [body.error?.code, ...(body.error?.reasons ?? []).map((x) => x.code)];
          ok = want.codes.every((c) => codes.includes(c));
        }
        if (!ok) {
          unexpectedBy[st.category]++;
          if (unexpectedSamples.length < 10) unexpectedSamples.push(`${st.category} ${JSON.stringify(st.sql)} → ${r.status} ${r.body.slice(0, 240)}`);
        }
        if (r.status === 200 && PLANTED.some((v) => r.body.includes(v))) leaks++;
      }
    };

    const t0 = nowUs();
    await Promise.all(Array.from({ length: o.agents }, (_, i) => agent(i)));
    const seconds = (nowUs() - t0) / 1e6;
    const after = await databaseState(stack.adminUrl);

    // A reader of its own (as a fresh instance would be): verify every chain and count its events.
    const reader = createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString: stack.blobConnectionString, container: server.container }) });
    let sessionsValid = 0;
    let eventsFound = 0;
    let eventsExpected = 0;
    let mismatched = 0;
    for (const log of logs) {
      const [verdict, records] = await Promise.all([reader.verify(log.sessionId), reader.read(log.sessionId)]);
      if (verdict.valid) sessionsValid++;
      eventsFound += records.length;
      eventsExpected += log.expectedEvents;
      const received = records.filter((r) => r.type === 'request.received').length;
      const decisions = records.filter((r) => r.type === 'decision').length;
      if (records.length !== log.expectedEvents || received !== log.requests || decisions !== log.requests || verdict.events !== log.expectedEvents) mismatched++;
    }

    const byCategory = Object.fromEntries(
      (Object.keys(latencies) as LoadCategory[]).map((c) => {
        const s = summarize(latencies[c]);
        return [c, { count: s.n, p50Ms: round(s.p50 / 1000, 2), p99Ms: round(s.p99 / 1000, 2), unexpected: unexpectedBy[c] }];
      }),
    ) as LoadResult['byCategory'];
    const unexpected = Object.values(unexpectedBy).reduce((a, b) => a + b, 0);
    const databaseUnchanged = before === after;
    return {
      agents: o.agents,
      queries: o.queries,
      seconds: round(seconds, 2),
      qps: round(o.queries / seconds, 0),
      byCategory,
      unexpected,
      unexpectedSamples,
      leaks,
      sessions: logs.length,
      sessionsValid,
      eventsExpected,
      eventsFound,
      sessionsWithMissingOrExtraEvents: mismatched,
      databaseUnchanged,
      ok: unexpected === 0 && leaks === 0 && sessionsValid === logs.length && eventsFound === eventsExpected && mismatched === 0 && databaseUnchanged,
    };
  } finally {
    http.close();
    await server.stop();
  }
}

export function formatLoad(r: LoadResult): string {
  const lines = [
    `Load: ${r.agents} agents, ${r.queries} queries in ${r.seconds} s (${r.qps} q/s), audit on Azurite, default rate limit`,
    ...Object.entries(r.byCategory).map(([c, x]) => `  ${c.padEnd(17)} ${String(x.count).padStart(6)}  p50 ${x.p50Ms} ms  p99 ${x.p99Ms} ms  unexpected ${x.unexpected}`),
    `  unexpected answers: ${r.unexpected}${r.unexpectedSamples.length ? `\n    ${r.unexpectedSamples.join('\n    ')}` : ''}`,
    `  masked values leaked: ${r.leaks}`,
    `  session chains valid: ${r.sessionsValid}/${r.sessions}`,
    `  audit events: ${r.eventsFound} found / ${r.eventsExpected} expected; sessions with missing or extra events: ${r.sessionsWithMissingOrExtraEvents}`,
    `  database unchanged: ${r.databaseUnchanged}`,
    `  ${r.ok ? 'PASS' : 'FAIL'}`,
  ];
  return lines.join('\n');
}

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let started: BenchStack | undefined;
  onInterrupt(async () => void (await started?.stop()));
  const stack = (started = await startBenchStack());
  let result: LoadResult | undefined;
  try {
    result = await runLoad(stack, { agents: numberArg(args, '--agents', 32), queries: numberArg(args, '--queries', 10_000) });
  } finally {
    await stopAllChildren();
    await stack.stop();
  }
  process.stdout.write(`${formatLoad(result)}\n`);
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'load.json'), JSON.stringify({ at: new Date().toISOString(), load: result }, null, 2));
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`load test failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
