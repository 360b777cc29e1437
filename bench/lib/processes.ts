/**
 * Child processes of the bench: every one is tracked so that a failure or Ctrl-C still stops it,
 * and each TypeScript child runs through tsx (`node --import tsx`), the way `npm start` runs.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const children = new Set<ChildProcess>();

/** Spawn and track; `group` puts the child in its own process group (for `npm start` and its descendants). */
export function spawnTracked(command: string, args: string[], options: SpawnOptions & { group?: boolean } = {}): ChildProcess {
  const { group, ...rest } = options;
  const child = spawn(command, args, { cwd: REPO_ROOT, ...rest, detached: group === true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  (child as ChildProcess & { qbGroup?: boolean }).qbGroup = group === true;
  return child;
}

/**
 * Stop one tracked child (its group when it has one): SIGTERM/SIGINT, then SIGKILL after `graceMs`.
 * Resolves to whether SIGKILL was needed.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  let killed = false;
  const group = (child as ChildProcess & { qbGroup?: boolean }).qbGroup === true && child.pid !== undefined;
  const send = (s: NodeJS.Signals) => {
    try {
      if (group) process.kill(-child.pid!, s);
      else child.kill(s);
    } catch {
      /* already gone */
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      killed = true;
      send('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    send(signal);
  });
  return killed;
}

export async function stopAllChildren(): Promise<void> {
  await Promise.allSettled([...children].map((c) => stopChild(c, 'SIGTERM', 5_000)));
}

/** Arguments for running a TypeScript file in a fresh Node.js process through tsx. */
export function tsxArgs(file: string, nodeFlags: string[] = []): string[] {
  return [...nodeFlags, '--import', 'tsx', join(REPO_ROOT, file)];
}

/** Keep the last lines a child wrote, to explain a failure without flooding the terminal. */
export function tailOf(child: ChildProcess, keep = 30): () => string {
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const l of b.toString().split('\n')) {
      if (!l) continue;
      lines.push(l.length > 500 ? `${l.slice(0, 500)}…` : l);
      if (lines.length > keep) lines.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => lines.join('\n');
}

/** Run a TypeScript script in a fresh process and parse the last JSON line it prints. */
export async function runJsonScript<T>(file: string, env: Record<string, string>, nodeFlags: string[] = [], timeoutMs = 180_000): Promise<T> {
  const child = spawnTracked(process.execPath, tsxArgs(file, nodeFlags), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const last = out.trim().split('\n').filter(Boolean).pop();
  if (code !== 0 || !last) throw new Error(`${file} exited with ${code}: ${err.slice(-2000)}`);
  return JSON.parse(last) as T;
}

/**
 * Run `cleanup` once on SIGINT/SIGTERM/SIGHUP, then exit: children and the started servers must
 * not outlive an interrupted bench.
 */
export function onInterrupt(cleanup: () => Promise<void>): void {
  let running = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (running) return;
      running = true;
      process.stderr.write(`\n${sig}: stopping everything the bench started…\n`);
      void stopAllChildren()
        .then(cleanup)
        .catch(() => {})
        .finally(() => process.exit(130));
    });
  }
}
