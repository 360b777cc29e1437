/**
 * Section 3: what each stage costs on its own (token verification, SQL analysis, policy decision,
 * masking plan, audit append), and a stage-by-stage replay of one read through the same functions
 * Broker.query calls, to see where its time goes.
 */
import { randomBytes } from 'node:crypto';
import { analyzeSql, clearAnalysisCache } from '../../src/sql/analyze.js';
import { loadSqlParser, parseStatements } from '../../src/sql/parser.js';
import { resolveProfile } from '../../src/policy/profiles.js';
import { decide } from '../../src/policy/decide.js';
import { planMasking, prepareOrigins, applyMasking } from '../../src/masking/index.js';
import { executeStatement } from '../../src/db/execute.js';
import { CappedRead } from '../../src/db/capped-read.js';
import { queueReset, RESET_SQL } from '../../src/db/session-reset.js';
import type pg from 'pg';
import { toJsonRows } from '../../src/db/values.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createBlobAuditLog, createAuditContainerClient } from '../../src/audit/blob-log.js';
import { actorFromPrincipal, auditEvent, decisionData, executedData, requestReceivedData } from '../../src/audit/events.js';
import { newRequestId } from '../../src/broker/ids.js';
import type { AuditEventInput, AuditLog, Principal } from '../../src/broker/ports.js';
import { createInProcessBroker, createDevVerifier, postgresParts, type InProcessBroker } from '../lib/in-process.js';
import { timeLoop, round, type LoopSummary } from '../lib/stats.js';
import { cpuGroups, iterations, type BenchContext } from '../lib/context.js';
import { cpuDelta, sampleCpu } from '../lib/cpu.js';
import { AGENT_QUERY_MIX, ONE_ROW_SQL, THOUSAND_ROWS_SQL } from '../lib/workload.js';
import { startCpuProfile } from '../lib/profiler.js';
import { summarizeCpuProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/processes.js';

export interface StageFigure {
  stage: string;
  variant: string;
  p50Us: number;
  p99Us: number;
  /** this process's CPU per call (mean): steady when the machine is busy */
  cpuUs: number;
  samples: number;
}

export interface StatementAnalysisFigure {
  sql: string;
  chars: number;
  coldP50Us: number;
  coldP99Us: number;
  cachedP50Us: number;
  cachedP99Us: number;
  parseOnlyP50Us: number;
}

export interface BreakdownStep {
  step: string;
  p50Us: number;
  cpuUs: number;
  /** share of the sum of step p50s */
  share: number;
}

export interface StagesResult {
  stages: StageFigure[];
  analysisByStatement: StatementAnalysisFigure[];
  /** one-row read, audit off: the steps of Broker.query replayed one by one */
  breakdown: { sql: string; steps: BreakdownStep[]; sumP50Us: number; sumCpuUs: number; brokerQueryP50Us: number; brokerQueryCpuUs: number };
  /** with --profile: CPU profile of Broker.query (one-row read, audit off) in a loop */
  pipelineProfile?: ProfileSummary;
  /** the Azurite part of the stage runs: events, blocks (group commit puts several events in one), CPU per block */
  blobAudit: { appends: number; blocks: number; storageRequests: number; azuriteCpuUsPerBlock: number; clientCpuUsPerBlock: number };
}

function figure(stage: string, variant: string, s: LoopSummary): StageFigure {
  return { stage, variant, p50Us: round(s.p50, 2), p99Us: round(s.p99, 2), cpuUs: round(s.cpuUs, 2), samples: s.n };
}

export async function measureStages(ctx: BenchContext): Promise<StagesResult> {
  const stages: StageFigure[] = [];
  const runs = ctx.runs;

  await loadSqlParser(); // once per process, at start-up (createBrokerRuntime does it)

  // --- token verification: RS256 signature and claims (cold), then the verified-token cache (cached)
  {
    const { issuer, verifier } = await createDevVerifier(ctx.policy.audience);
    const n = iterations(ctx, 100);
    const warm = 20;
    const tokens = await Promise.all(Array.from({ length: warm + runs * n }, (_, i) => issuer.issue({ sub: `bench-token-${i}`, roles: ['Query.Read'] })));
    stages.push(figure('token verification', 'cold (new token: RS256 verify + claims)', await timeLoop((i) => verifier.verify(`Bearer ${tokens[i]}`), { warmup: warm, iterations: n, runs })));
    const same = `Bearer ${tokens[0]}`;
    stages.push(figure('token verification', 'cached (same token until expiry)', await timeLoop(() => verifier.verify(same), { warmup: 200, iterations: iterations(ctx, 5000), runs })));
  }

  // --- SQL analysis: parse, classify and the names reached, per statement, cold (cache cleared) and cached
  const analysisByStatement: StatementAnalysisFigure[] = [];
  {
    const n = iterations(ctx, 300);
    for (const sql of AGENT_QUERY_MIX) {
      const cold = await timeLoop(() => analyzeSql(sql), { warmup: 20, iterations: n, runs, before: () => clearAnalysisCache() });
      const cached = await timeLoop(() => analyzeSql(sql), { warmup: 20, iterations: n * 5, runs });
      const parse = await timeLoop(() => parseStatements(sql), { warmup: 20, iterations: n, runs });
      analysisByStatement.push({
        sql,
        chars: sql.length,
        coldP50Us: round(cold.p50, 1),
        coldP99Us: round(cold.p99, 1),
        cachedP50Us: round(cached.p50, 2),
        cachedP99Us: round(cached.p99, 2),
        parseOnlyP50Us: round(parse.p50, 1),
      });
    }
    // The mix as an agent sends it: statement k of the mix on call k.
    const mix = AGENT_QUERY_MIX;
    stages.push(figure('SQL analysis', `cold, agent mix of ${mix.length} (parse + classify + names reached)`, await timeLoop((i) => analyzeSql(mix[i % mix.length]!), { warmup: 24, iterations: n, runs, before: () => clearAnalysisCache() })));
    stages.push(figure('SQL analysis', 'cached (repeated statement)', await timeLoop((i) => analyzeSql(mix[i % mix.length]!), { warmup: 24, iterations: n * 5, runs })));
  }

  // --- everything that needs the database and the catalog: an in-process broker, audit off
  const memoryAudit = createMemoryAuditLog();
  const b = await createInProcessBroker(ctx.policy, memoryAudit);
  try {
    const principal = await b.principal('bench-stages', ['Query.Read']);
    const { policy } = ctx;
    const sales = postgresParts(b.runtime.connections, 'sales');
    const catalog = sales.catalog.relations;
    const broker = b.runtime.broker;
    const maskingInput = broker.maskingInput(principal);

    // policy decision
    {
      const analysis = analyzeSql(ONE_ROW_SQL);
      stages.push(
        figure(
          'policy decision',
          'resolveProfile + decide (read)',
          await timeLoop(
            () => {
              const r = resolveProfile(policy, principal, 'sales');
              return decide({ analysis, profile: r.profile, policy, volatileFunctions: [] });
            },
            { warmup: 200, iterations: iterations(ctx, 5000), runs },
          ),
        ),
      );
    }

    // masking plan: lineage of the output columns, catalog warm and cold
    for (const [label, sql] of [
      ['one-row read', ONE_ROW_SQL],
      ['1,000-row read', THOUSAND_ROWS_SQL],
      ['join + aggregate', AGENT_QUERY_MIX[2]!],
    ] as const) {
      const analysis = analyzeSql(sql);
      await planMasking(analysis, maskingInput, catalog);
      stages.push(figure('masking plan', `${label}, catalog warm`, await timeLoop(() => planMasking(analysis, maskingInput, catalog), { warmup: 50, iterations: iterations(ctx, 1000), runs })));
    }
    {
      const analysis = analyzeSql(ONE_ROW_SQL);
      stages.push(
        figure(
          'masking plan',
          'one-row read, catalog cold (look-ups in PostgreSQL)',
          await timeLoop(() => planMasking(analysis, maskingInput, catalog), { warmup: 5, iterations: iterations(ctx, 100), runs, maxSecondsPerRun: 4, before: () => catalog.invalidate() }),
        ),
      );
    }
    {
      const analysis = analyzeSql(AGENT_QUERY_MIX[4]!); // calls now(): volatile-function check
      const fc = sales.catalog.functions;
      await fc.volatileAmong(analysis.functions);
      stages.push(figure('function volatility', 'catalog warm', await timeLoop(() => fc.volatileAmong(analysis.functions), { warmup: 50, iterations: iterations(ctx, 2000), runs })));
      // The DBA's code a read reaches (views, function bodies, domains, casts): what a plain read adds.
      const one = analyzeSql(ONE_ROW_SQL);
      const reach = () => fc.volatileInReach(one.reach);
      await reach();
      stages.push(figure('function volatility', 'DBA code in reach, one-row read, catalog warm', await timeLoop(reach, { warmup: 50, iterations: iterations(ctx, 2000), runs })));
    }

    // session reset: the same one-row read on one checked-out connection, without and with the
    // reset (DISCARD ALL) sent in the same socket write, and the reset as a round trip of its own
    {
      const resolved = resolveProfile(policy, principal, 'sales');
      const handle = await sales.pool(resolved.name, resolved.profile, 'read');
      const client = await handle.pool.connect();
      try {
        const read = async (reset: boolean) => {
          const r = new CappedRead(ONE_ROW_SQL, [], 2, resolved.profile.maxResultBytes, reset);
          client.query(r as unknown as pg.QueryConfig);
          const after = reset ? queueReset(client, true) : undefined;
          await r.done;
          await after?.done;
        };
        const o = { warmup: 200, iterations: iterations(ctx, 2000), runs };
        stages.push(figure('session reset', 'one-row read, no reset (one round trip)', await timeLoop(() => read(false), o)));
        stages.push(figure('session reset', `one-row read + ${RESET_SQL} in the same write (what the executor does)`, await timeLoop(() => read(true), o)));
        stages.push(figure('session reset', `${RESET_SQL} alone, its own round trip`, await timeLoop(() => client.query(RESET_SQL), o)));
      } finally {
        client.release();
      }
    }

    // audit append: in memory (chain + canonical JSON only) and on Azurite
    const actor = actorFromPrincipal(principal);
    const sample = (): AuditEventInput =>
      auditEvent('request.received', newRequestId(), actor, requestReceivedData({ connection: 'sales', sql: ONE_ROW_SQL, params: [], dryRun: false }));
    {
      const mem = createMemoryAuditLog();
      const sid = `s_stage_${randomBytes(6).toString('hex')}`;
      stages.push(figure('audit append', 'memory: chain + canonical JSON, no storage', await timeLoop(() => mem.append(sid, sample()), { warmup: 100, iterations: iterations(ctx, 2000), runs })));
    }
    const blob = createBlobAuditLog({
      containerClient: createAuditContainerClient({ connectionString: ctx.stack.blobConnectionString, container: `bench-stages-${randomBytes(4).toString('hex')}` }),
    });
    const before = blob.stats();
    const cpuBefore = sampleCpu(cpuGroups(ctx));
    {
      const sid = `s_stage_${randomBytes(6).toString('hex')}`;
      const s = await timeLoop(
        () => blob.append(sid, sample()),
        { warmup: 20, iterations: iterations(ctx, 300), runs, maxSecondsPerRun: 4 },
      );
      stages.push(figure('audit append', 'Azurite: one event, warm session', s));
      const pair = await timeLoop(
        () => Promise.all([blob.append(sid, sample()), blob.append(sid, sample())]),
        { warmup: 10, iterations: iterations(ctx, 150), runs, maxSecondsPerRun: 4 },
      );
      stages.push(figure('audit append', 'Azurite: decision pair (2 events issued together)', pair));
      const cold = await timeLoop(
        () => blob.append(`s_cold_${randomBytes(8).toString('hex')}`, sample()),
        { warmup: 3, iterations: iterations(ctx, 40), runs, maxSecondsPerRun: 4 },
      );
      stages.push(figure('audit append', 'Azurite: first event of a new session', cold));
    }
    const after = blob.stats();
    const cpuUsed = cpuDelta(cpuBefore, sampleCpu(cpuGroups(ctx)));
    const blocks = Math.max(1, after.blocks - before.blocks);

    // --- replay of one read, step by step (the same calls, in the order pipeline.ts makes them)
    const breakdown = await replayRead(ctx, b, principal, memoryAudit);
    const pipelineProfile = ctx.profile ? await profileBrokerQuery(b, principal) : undefined;

    return {
      stages,
      analysisByStatement,
      breakdown,
      ...(pipelineProfile ? { pipelineProfile } : {}),
      blobAudit: {
        appends: after.appends - before.appends,
        blocks: after.blocks - before.blocks,
        storageRequests: after.storageRequests - before.storageRequests,
        // /proc figures over the whole blob part (the loops above): per block written
        azuriteCpuUsPerBlock: round((cpuUsed.azurite ?? 0) / blocks, 0),
        clientCpuUsPerBlock: round((cpuUsed.broker ?? 0) / blocks, 0),
      },
    };
  } finally {
    await b.close();
  }
}

async function replayRead(ctx: BenchContext, b: InProcessBroker, principal: Principal, audit: AuditLog): Promise<StagesResult['breakdown']> {
  const { policy } = ctx;
  const broker = b.runtime.broker;
  const connections = b.runtime.connections;
  const sql = ONE_ROW_SQL;
  const sessionId = `s_replay_${randomBytes(6).toString('hex')}`;
  const actor = actorFromPrincipal(principal);
  const n = iterations(ctx, 500);
  const o = { warmup: 100, iterations: n, runs: ctx.runs };
  const resolved = resolveProfile(policy, principal, 'sales');
  const analysis = analyzeSql(sql);
  const input = broker.maskingInput(principal);
  const sales = postgresParts(connections, 'sales');
  const catalog = sales.catalog.relations;
  const plan = await planMasking(analysis, input, catalog);
  const handle = await sales.pool(resolved.name, resolved.profile, 'read');
  const exec = () => executeStatement(handle, { sql, params: [], maxRows: resolved.profile.maxRows, maxRowBytes: resolved.profile.maxResultBytes, mode: 'read' });
  const sampleExec = await exec();

  const steps: { step: string; s: LoopSummary }[] = [];
  const add = async (step: string, fn: () => unknown) => steps.push({ step, s: await timeLoop(fn, o) });
  await add('request id + request.received event (sqlHash from the analysis)', () => {
    newRequestId();
    return auditEvent('request.received', 'r_x', actor, requestReceivedData({ connection: 'sales', sql, sqlHash: analysis.sqlHash, params: [], dryRun: false }));
  });
  await add('resolve profile', () => resolveProfile(policy, principal, 'sales'));
  await add('analyze SQL (cached)', () => analyzeSql(sql, { maxLength: policy.limits.maxSqlLength }));
  await add('masking plan (catalog warm)', () => planMasking(analysis, broker.maskingInput(principal), catalog));
  await add('decide', () => decide({ analysis, profile: resolved.profile, policy, volatileFunctions: [] }));
  await add('record decision pair (memory audit)', () => {
    const received = auditEvent('request.received', 'r_x', actor, requestReceivedData({ connection: 'sales', sql, sqlHash: analysis.sqlHash, params: [], dryRun: false }));
    const decided = auditEvent('decision', 'r_x', actor, decisionData({ outcome: 'allowed', reasons: [], profile: resolved.name, sqlHash: analysis.sqlHash, statementKind: analysis.kind, tables: ['bench_wide'] }));
    return Promise.all([audit.append(sessionId, received), audit.append(sessionId, decided)]);
  });
  await add('pool + execute (one round trip, session reset in the same write)', exec);
  await add('prepare origins + apply masking', async () => {
    const rows = sampleExec.rows.map((r) => [...r]);
    await prepareOrigins(plan, sampleExec.fields);
    return applyMasking(plan, sampleExec.fields, rows);
  });
  const masked = applyMasking(plan, sampleExec.fields, sampleExec.rows.map((r) => [...r]));
  await add('rows to JSON values', () => toJsonRows(masked.rows, sampleExec.fields.map((f) => f.dataTypeID), masked.columns.map((c) => c.masked !== false)));
  await add('record executed (digest + memory audit)', () =>
    audit.append(sessionId, auditEvent('executed', 'r_x', actor, executedData({ columns: masked.columns, rows: masked.rows, rowCount: masked.rows.length, truncated: false, durationMs: 1 }))),
  );

  const whole = await timeLoop(() => broker.query(principal, { connection: 'sales', sql, params: [], dryRun: false, sessionId }), o);
  const sum = steps.reduce((a, x) => a + x.s.p50, 0);
  const sumCpu = steps.reduce((a, x) => a + x.s.cpuUs, 0);
  return {
    sql,
    steps: steps.map(({ step, s }) => ({ step, p50Us: round(s.p50, 1), cpuUs: round(s.cpuUs, 1), share: round(s.p50 / sum, 3) })),
    sumP50Us: round(sum, 1),
    sumCpuUs: round(sumCpu, 1),
    brokerQueryP50Us: round(whole.p50, 1),
    brokerQueryCpuUs: round(whole.cpuUs, 1),
  };
}

/**
 * Where Broker.query's own CPU goes: a profile of a few seconds of one-row reads, audit off. The
 * raw profile is kept as bench/results/pipeline-in-process.cpuprofile.json (DevTools can load it).
 */
async function profileBrokerQuery(b: InProcessBroker, principal: Principal): Promise<ProfileSummary> {
  const file = join(REPO_ROOT, 'bench', 'results', 'pipeline-in-process.cpuprofile.json');
  const req = { connection: 'sales', sql: ONE_ROW_SQL, params: [], dryRun: false, sessionId: `s_prof_${randomBytes(6).toString('hex')}` };
  for (let i = 0; i < 200; i++) await b.runtime.broker.query(principal, req);
  const stop = await startCpuProfile();
  const end = Date.now() + 3000;
  while (Date.now() < end) await b.runtime.broker.query(principal, req);
  await stop(file);
  return summarizeCpuProfile(file, 20);
}
