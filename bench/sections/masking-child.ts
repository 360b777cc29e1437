/**
 * Masking at scale, in a fresh process so its memory figures are its own (peak RSS only grows).
 * QB_BENCH_MODE=mask: applyMasking over the wide table's 100,000 × 10 cells, several runs.
 * QB_BENCH_MODE=pipeline: Broker.query of the same result end to end (audit off), peak RSS.
 * With QB_BENCH_PROFILE_FILE, the first pipeline run is CPU-profiled into that file.
 * Prints one JSON line. Run with --expose-gc.
 */
import { validatePolicy } from '../../src/policy/load.js';
import { analyzeSql } from '../../src/sql/analyze.js';
import { resolveProfile } from '../../src/policy/profiles.js';
import { planMasking, prepareOrigins, applyMasking } from '../../src/masking/index.js';
import { executeStatement } from '../../src/db/execute.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createInProcessBroker, postgresParts } from '../lib/in-process.js';
import { median, nowUs, round } from '../lib/stats.js';
import { WIDE_SQL } from '../lib/workload.js';
import { startCpuProfile } from '../lib/profiler.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const MB = 1024 * 1024;

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const policy = validatePolicy(JSON.parse(process.env.QB_BENCH_POLICY ?? '{}'), 'bench policy');
  const runs = Number(process.env.QB_BENCH_RUNS ?? 3);
  const mode = process.env.QB_BENCH_MODE ?? 'mask';
  const b = await createInProcessBroker(policy, createMemoryAuditLog());
  try {
    const principal = await b.principal('bench-bulk', ['Bench.Bulk']);
    const resolved = resolveProfile(policy, principal, 'sales');
    const sales = postgresParts(b.runtime.connections, 'sales');
    const handle = await sales.pool(resolved.name, resolved.profile, 'read');
    const exec = () => executeStatement(handle, { sql: WIDE_SQL, params: [], maxRows: resolved.profile.maxRows, maxRowBytes: resolved.profile.maxResultBytes, mode: 'read' });

    if (mode === 'mask') {
      const analysis = analyzeSql(WIDE_SQL);
      const plan = await planMasking(analysis, b.runtime.broker.maskingInput(principal), sales.catalog.relations);
      const result = await exec();
      await prepareOrigins(plan, result.fields);
      const cells = result.rows.length * result.fields.length;
      const times: number[] = [];
      const heapDeltas: number[] = [];
      let columns: unknown;
      for (let r = 0; r < runs + 1; r++) {
        const rows = result.rows.map((row) => [...row]); // applyMasking works in place
        gc();
        const heap0 = process.memoryUsage().heapUsed;
        const t0 = nowUs();
        const masked = applyMasking(plan, result.fields, rows);
        const dt = nowUs() - t0;
        const heap1 = process.memoryUsage().heapUsed;
        columns = masked.columns;
        if (r === 0) continue; // warm-up
        times.push(dt);
        heapDeltas.push(heap1 - heap0);
      }
      const t = median(times);
      process.stdout.write(
        JSON.stringify({
          rows: result.rows.length,
          columns: result.fields.length,
          cells,
          msP50: round(t / 1000, 1),
          cellsPerSecond: Math.round(cells / (t / 1e6)),
          heapDeltaMB: round(median(heapDeltas) / MB, 1),
          resultTextMB: round(result.rows.reduce((a, row) => a + row.reduce((x, c) => x + (c?.length ?? 0), 0), 0) / MB, 1),
          maskedColumns: columns,
          runs,
        }) + '\n',
      );
      return;
    }

    // pipeline: warm pools and catalog with a small read, then the whole result once per run
    await b.runtime.broker.query(principal, { connection: 'sales', sql: 'select * from bench_wide where id = 1', params: [], dryRun: false, sessionId: 's_bench_bulk_warm' });
    gc();
    const rss0 = process.memoryUsage().rss;
    const heap0 = process.memoryUsage().heapUsed;
    const times: number[] = [];
    let rowCount = 0;
    let heapDeltaFirstRun = 0;
    const profileFile = process.env.QB_BENCH_PROFILE_FILE;
    for (let r = 0; r < runs; r++) {
      const stopProfile = profileFile && r === 0 ? await startCpuProfile() : undefined;
      const t0 = nowUs();
      const out = await b.runtime.broker.query(principal, { connection: 'sales', sql: WIDE_SQL, params: [], dryRun: false, sessionId: 's_bench_bulk_run' });
      times.push(nowUs() - t0);
      if (stopProfile && profileFile) await stopProfile(profileFile);
      if (out.decision === 'allowed' && out.executed) rowCount = out.rowCount;
      // Heap still holding the result (before collection): what one response costs in memory.
      if (r === 0) heapDeltaFirstRun = process.memoryUsage().heapUsed - heap0;
      gc();
    }
    const t = median(times);
    process.stdout.write(
      JSON.stringify({
        rows: rowCount,
        cells: rowCount * 10,
        msP50: round(t / 1000, 1),
        cellsPerSecond: Math.round((rowCount * 10) / (t / 1e6)),
        baselineRssMB: round(rss0 / MB, 1),
        peakRssMB: round(peakRssBytes() / MB, 1),
        peakRssOverBaselineMB: round((peakRssBytes() - rss0) / MB, 1),
        heapDeltaFirstRunMB: round(heapDeltaFirstRun / MB, 1),
        runs,
      }) + '\n',
    );
  } finally {
    await b.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
