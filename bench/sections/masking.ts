/** Section 3 (masking at scale): 100,000 rows × 10 columns, each measured in its own process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJsonScript } from '../lib/processes.js';
import type { BenchContext } from '../lib/context.js';
import { summarizeCpuProfile, type ProfileSummary } from '../lib/cpuprofile.js';

export interface MaskingApplyFigure {
  rows: number;
  columns: number;
  cells: number;
  msP50: number;
  cellsPerSecond: number;
  heapDeltaMB: number;
  resultTextMB: number;
  maskedColumns: { name: string; type: string; masked: false | string }[];
  runs: number;
}

export interface MaskingPipelineFigure {
  rows: number;
  cells: number;
  msP50: number;
  cellsPerSecond: number;
  baselineRssMB: number;
  peakRssMB: number;
  peakRssOverBaselineMB: number;
  heapDeltaFirstRunMB: number;
  runs: number;
}

export interface MaskingResult {
  /** applyMasking alone (maskers + content detectors), the rows already fetched */
  apply: MaskingApplyFigure;
  /** Broker.query of the whole result, audit off: fetch, mask, JSON values, digest */
  pipeline: MaskingPipelineFigure;
  /** with --profile: where the end-to-end 100k-row read spends its CPU */
  pipelineProfile?: ProfileSummary;
}

export async function measureMasking(ctx: BenchContext, o: { profile: boolean } = { profile: false }): Promise<MaskingResult> {
  const env = { QB_BENCH_POLICY: ctx.policyJson, QB_BENCH_RUNS: String(ctx.quick ? 1 : Math.max(3, ctx.runs)), [ctx.stack.connectionEnv]: ctx.stack.brokerUrl };
  const apply = await runJsonScript<MaskingApplyFigure>('bench/sections/masking-child.ts', { ...env, QB_BENCH_MODE: 'mask' }, ['--expose-gc']);
  const pipeline = await runJsonScript<MaskingPipelineFigure>('bench/sections/masking-child.ts', { ...env, QB_BENCH_MODE: 'pipeline' }, ['--expose-gc']);
  if (!o.profile) return { apply, pipeline };
  const dir = mkdtempSync(join(tmpdir(), 'qb-bench-prof-'));
  try {
    const file = join(dir, 'pipeline.cpuprofile');
    await runJsonScript('bench/sections/masking-child.ts', { ...env, QB_BENCH_MODE: 'pipeline', QB_BENCH_RUNS: '1', QB_BENCH_PROFILE_FILE: file }, ['--expose-gc']);
    return { apply, pipeline, pipelineProfile: summarizeCpuProfile(file, 15) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
