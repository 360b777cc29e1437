/**
 * Timing and statistics for the benchmarks: latency samples in microseconds, percentiles, and the
 * median of several runs (a single run on a shared 2-core machine says little; the median of runs
 * is what the table reports).
 */

export interface LatencySummary {
  /** samples in the run */
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samplesUs: readonly number[]): LatencySummary {
  const s = [...samplesUs].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    mean: s.length ? sum / s.length : Number.NaN,
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/** Field-by-field median of several runs' summaries (n is the total of samples). */
export function medianOfRuns(runs: readonly LatencySummary[]): LatencySummary & { runs: number } {
  const pick = (k: keyof LatencySummary) => median(runs.map((r) => r[k]));
  return {
    n: runs.reduce((a, r) => a + r.n, 0),
    p50: pick('p50'),
    p90: pick('p90'),
    p99: pick('p99'),
    mean: pick('mean'),
    min: pick('min'),
    max: pick('max'),
    runs: runs.length,
  };
}

export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

export interface LoopOptions {
  warmup: number;
  iterations: number;
  runs: number;
  /**
   * a run ends early after this many seconds (at least 30 calls), so a slow path on a busy
   * machine cannot stretch the bench; default no limit
   */
  maxSecondsPerRun?: number;
  /** called when the timed runs start and when they end (e.g. to sample another process's CPU) */
  onTimed?: (phase: 'start' | 'end') => void;
  /** called before every call, outside the timer (e.g. to clear a cache); indices run 0 … warmup + runs × iterations − 1 */
  before?: (i: number) => void | Promise<void>;
}

/**
 * Time `fn` sequentially: `warmup` untimed calls, then `runs` runs of `iterations` timed calls;
 * the result is the median of the runs' summaries. Sync functions are timed without an await in
 * the measured span.
 */
export type LoopSummary = LatencySummary & {
  runs: number;
  /** this process's CPU (user + system) per call, µs: the mean over a run, median of runs */
  cpuUs: number;
};

export async function timeLoop(fn: (i: number) => unknown, o: LoopOptions): Promise<LoopSummary> {
  for (let i = 0; i < o.warmup; i++) {
    await o.before?.(i);
    await fn(i);
  }
  const runs: LatencySummary[] = [];
  const cpu: number[] = [];
  // Timed calls continue the index after the warm-up, so per-index inputs (fresh tokens) are never reused.
  let k = o.warmup;
  o.onTimed?.('start');
  for (let r = 0; r < o.runs; r++) {
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    const deadline = o.maxSecondsPerRun === undefined ? Number.POSITIVE_INFINITY : nowUs() + o.maxSecondsPerRun * 1e6;
    for (let i = 0; i < o.iterations; i++, k++) {
      if (o.before) await o.before(k);
      const t0 = nowUs();
      const out = fn(k);
      if (out instanceof Promise) await out;
      const t1 = nowUs();
      samples.push(t1 - t0);
      if (t1 > deadline && i >= 29) break;
    }
    const c = process.cpuUsage(cpu0);
    cpu.push((c.user + c.system) / samples.length);
    runs.push(summarize(samples));
  }
  o.onTimed?.('end');
  return { ...medianOfRuns(runs), cpuUs: median(cpu) };
}

/** A small deterministic PRNG (mulberry32), so workloads are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function round(v: number, digits = 1): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
