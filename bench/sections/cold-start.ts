/**
 * Section 4: cold start. (a) A fresh `node` importing the Functions entry module: dist/ when
 * `npm run build` made it, otherwise the same sources transpiled file by file into a temporary
 * directory (what tsc emits, without type checking), and through tsx for reference. (b) `npm start`
 * spawned until GET /api/health first answers 200.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../src/local/postgres.js';
import { REPO_ROOT, spawnTracked, stopChild, tailOf } from '../lib/processes.js';
import { median, round } from '../lib/stats.js';
import { summarizeCpuProfile, type ProfileSummary } from '../lib/cpuprofile.js';

export interface EntryImportFigure {
  /** what was imported: dist, transpiled, or tsx */
  source: string;
  entry: string;
  /** `await import(entry)` in the fresh process */
  importMsP50: number;
  /** from process start to the import done (Node bootstrap included) */
  sinceProcessStartMsP50: number;
  runs: number;
}

export interface ColdStartResult {
  entryImport: EntryImportFigure[];
  /** each file of functions/ imported alone (what it pulls in), transpiled */
  entryFilesMs: { file: string; importMs: number }[];
  /** every package the entry imports statically (dynamic import() excluded), each imported alone; shared dependencies count in each */
  entryPackagesMs: { specifier: string; importMs: number }[];
  /** where the import time goes (CPU profile of one import) */
  entryImportProfile?: ProfileSummary;
  npmStart: {
    msToFirst200P50: number;
    samplesMs: number[];
    /** what main.ts itself reports ("ready in N ms", from its first line to listening) */
    mainReadyMsP50: number;
    /** Ctrl-C (SIGINT to the process group, as a terminal sends it) until npm exited */
    stopMsP50: number;
    /** every run exited within the grace period and removed its embedded PostgreSQL directory */
    cleanedUp: boolean;
    runs: number;
    note: string;
  };
}

/** A tiny script: import the entry given as argument, print timings, exit (a registered timer must not hold the process). */
const IMPORT_SCRIPT = `import { pathToFileURL } from 'node:url';
const what = process.argv[2];
const t = performance.now();
await import(what.startsWith('/') ? pathToFileURL(what).href : what);
const importMs = performance.now() - t;
process.stdout.write(JSON.stringify({ importMs, sinceStartMs: performance.now() }) + '\\n');
process.exit(0);
`;

function listTs(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) listTs(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const STATIC_IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;

/** The bare specifiers reachable through static imports from `entry` (relative imports followed). */
function staticPackages(entry: string): string[] {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return [...packages].sort();
}

/** Transpile functions/ and src/ to ESM JavaScript beside node_modules (so packages resolve), as tsc would emit them. */
async function transpile(outdir: string): Promise<void> {
  const { build } = await import('esbuild');
  const entryPoints = [...listTs(join(REPO_ROOT, 'functions')), ...listTs(join(REPO_ROOT, 'src'))];
  await build({ entryPoints, outdir, outbase: REPO_ROOT, format: 'esm', platform: 'node', target: 'node20', bundle: false, logLevel: 'error' });
}

/** An entry bundled into one file (what a bundling build step would ship): module loading costs per file, so fewer files load faster. */
async function bundle(entry: string, outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    // Provided by the Functions host at run time (without it, @azure/functions switches to test mode).
    external: ['@azure/functions-core'],
    // CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __qbCreateRequire } from 'node:module'; const require = __qbCreateRequire(import.meta.url);" },
  });
}

async function importOnce(script: string, entry: string, nodeFlags: string[]): Promise<{ importMs: number; sinceStartMs: number }> {
  const child = spawnTracked(process.execPath, [...nodeFlags, script, entry], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const tail = tailOf(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`importing ${entry} failed (${code}): ${tail()}`);
  return JSON.parse(line) as { importMs: number; sinceStartMs: number };
}

async function measureImport(script: string, source: string, entry: string, runs: number, nodeFlags: string[] = []): Promise<EntryImportFigure> {
  await importOnce(script, entry, nodeFlags); // warm the OS file cache (and tsx's cache)
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await importOnce(script, entry, nodeFlags));
  return {
    source,
    entry: entry.startsWith(REPO_ROOT) ? entry.slice(REPO_ROOT.length + 1) : entry,
    importMsP50: round(median(samples.map((s) => s.importMs)), 0),
    sinceProcessStartMsP50: round(median(samples.map((s) => s.sinceStartMs)), 0),
    runs,
  };
}

/** `npm start` in its own process group, until /api/health answers 200; then Ctrl-C and check it cleaned up. */
async function npmStartOnce(): Promise<{ ms: number; mainReadyMs: number; stopMs: number; cleanedUp: boolean }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.QB_CONFIG;
  const t0 = performance.now();
  const child = spawnTracked('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], group: true });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const tail = tailOf(child);
  let exited = false;
  child.once('exit', () => (exited = true));
  let ms = Number.NaN;
  try {
    while (!exited && performance.now() - t0 < 120_000) {
      const ok = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) {
        ms = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (Number.isNaN(ms)) throw new Error(`npm start never answered 200 on /api/health:\n${tail()}`);
  } catch (e) {
    await stopChild(child, 'SIGINT', 20_000);
    throw e;
  }
  // Wait for the banner (printed just after listening), then Ctrl-C as a terminal does: SIGINT to the whole group.
  for (let i = 0; i < 100 && !/ready in \d+ ms/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
  const stop0 = performance.now();
  const killed = await stopChild(child, 'SIGINT', 20_000);
  const stopMs = performance.now() - stop0;
  // The embedded server's data directory must be gone after Ctrl-C.
  const dir = /\((\/[^)]*qb-pg-[0-9a-f]+)\)/.exec(out)?.[1];
  for (let i = 0; i < 50 && dir !== undefined && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 100));
  const cleanedUp = !killed && (dir === undefined || !existsSync(dir));
  if (!cleanedUp) process.stderr.write(`npm start did not clean up after Ctrl-C (killed: ${killed}, data dir left: ${dir}):\n${tail()}\n`);
  const mainReadyMs = Number(/ready in (\d+) ms/.exec(out)?.[1] ?? Number.NaN);
  return { ms, mainReadyMs, stopMs, cleanedUp };
}

export async function measureColdStart(o: { runs: number; profile: boolean }): Promise<ColdStartResult> {
  const work = join(REPO_ROOT, 'node_modules', '.cache', `qb-bench-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  try {
    const script = join(work, 'import-entry.mjs');
    writeFileSync(script, IMPORT_SCRIPT);
    const entryImport: EntryImportFigure[] = [];
    const dist = join(REPO_ROOT, 'dist', 'functions', 'index.js');
    await transpile(join(work, 'out'));
    const transpiled = join(work, 'out', 'functions', 'index.js');
    if (existsSync(dist)) entryImport.push(await measureImport(script, 'dist (npm run build)', dist, o.runs));
    entryImport.push(await measureImport(script, 'transpiled file by file (esbuild, as tsc emits)', transpiled, o.runs));
    // What-if: the timer trigger registered without loading its dependencies (they would load in its handler).
    const indexText = readFileSync(transpiled, 'utf8');
    let whatIf: string | undefined;
    if (/jit-sweeper\.js/.test(indexText)) {
      // Outside functions/ so the per-file list below stays the real files.
      whatIf = join(work, 'out', 'what-if-entry.js');
      writeFileSync(whatIf, indexText.replace(/^\s*import\s+["']\.\/jit-sweeper\.js["'];?\s*$/m, '').replace(/(["'])\.\//g, '$1./functions/'));
      entryImport.push(await measureImport(script, 'what-if: jit-sweeper.ts dependencies loaded lazily (transpiled)', whatIf, o.runs));
    }
    for (const [label, entry] of [
      ['bundled into one file (esbuild --bundle; a proposal)', join(REPO_ROOT, 'functions', 'index.ts')],
      ['what-if, bundled', whatIf],
    ] as const) {
      if (!entry) continue;
      try {
        const bundled = join(work, 'bundle', `${entryImport.length}.mjs`);
        await bundle(entry, bundled);
        entryImport.push(await measureImport(script, label, bundled, o.runs));
      } catch (e) {
        process.stderr.write(`cold start: ${label} could not be measured: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
      }
    }
    entryImport.push(await measureImport(script, 'through tsx (npm start path)', join(REPO_ROOT, 'functions', 'index.ts'), Math.min(o.runs, 3), ['--import', 'tsx']));

    const entryFilesMs: { file: string; importMs: number }[] = [];
    for (const f of readdirSync(join(work, 'out', 'functions')).filter((x) => x.endsWith('.js')).sort()) {
      const r = await importOnce(script, join(work, 'out', 'functions', f), []);
      entryFilesMs.push({ file: `functions/${f.replace(/\.js$/, '.ts')}`, importMs: round(r.importMs, 0) });
    }

    const entryPackagesMs: { specifier: string; importMs: number }[] = [];
    for (const specifier of staticPackages(transpiled)) {
      const r = await importOnce(script, specifier, []).catch(() => undefined);
      if (r) entryPackagesMs.push({ specifier, importMs: round(r.importMs, 0) });
    }
    entryPackagesMs.sort((a, b) => b.importMs - a.importMs);

    let entryImportProfile: ProfileSummary | undefined;
    if (o.profile) {
      const dir = join(work, 'prof');
      await importOnce(script, transpiled, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file) entryImportProfile = summarizeCpuProfile(join(dir, file), 12);
    }

    const starts: Awaited<ReturnType<typeof npmStartOnce>>[] = [];
    const startRuns = Math.min(o.runs, 3);
    for (let i = 0; i < startRuns; i++) starts.push(await npmStartOnce());
    const samplesMs = starts.map((r) => round(r.ms, 0));
    return {
      entryImport,
      entryFilesMs,
      entryPackagesMs,
      ...(entryImportProfile ? { entryImportProfile } : {}),
      npmStart: {
        msToFirst200P50: round(median(samplesMs), 0),
        samplesMs,
        mainReadyMsP50: round(median(starts.map((r) => r.mainReadyMs)), 0),
        stopMsP50: round(median(starts.map((r) => r.stopMs)), 0),
        cleanedUp: starts.every((r) => r.cleanedUp),
        runs: startRuns,
        note: process.env.DATABASE_URL ? 'DATABASE_URL set: npm start seeds a demo database on that server' : 'npm start starts its own embedded PostgreSQL and Azurite',
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
