import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Local servers (embedded PostgreSQL, Azurite) run under a small Node.js watchdog so that they never
 * outlive whoever started them, whatever way it ends (Ctrl-C, a crash, SIGKILL): the watchdog's
 * stdin is a pipe from the parent; when it closes — the parent called `stop()` or is gone — the
 * watchdog sends the server its stop signal (SIGKILL after a grace period), removes the server's
 * temporary paths and exits. The server's stdout and stderr are the watchdog's, so the parent reads
 * them as before. The watchdog runs in its own process group: a terminal's Ctrl-C reaches only the
 * parent, which stops its servers in order.
 */
const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const { rmSync } = require('node:fs');
const spec = JSON.parse(process.argv[1]);
process.title = 'qb-watchdog ' + spec.command;
const child = spawn(spec.command, spec.args, { stdio: ['ignore', 'inherit', 'inherit'], uid: spec.uid, gid: spec.gid, env: process.env });
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    child.kill(spec.stopSignal);
    setTimeout(() => child.kill('SIGKILL'), spec.graceMs).unref();
  }
}
function cleanup() {
  for (const p of spec.cleanup) { try { rmSync(p, { recursive: true, force: true }); } catch {} }
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, stop);
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
child.on('error', (e) => {
  try { process.stderr.write('qb-watchdog: cannot run ' + spec.command + ': ' + (e.code || e.message) + '\\n'); } catch {}
  cleanup();
  process.exit(126);
});
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code === null ? 1 : code);
});
`;

export interface WatchedSpec {
  command: string;
  args: string[];
  /** run the server as this OS user (the watchdog itself must be root) */
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  /** how the server is asked to stop: SIGINT is PostgreSQL's fast shutdown */
  stopSignal: NodeJS.Signals;
  /** paths removed once the server has exited */
  cleanup?: string[];
  graceMs?: number;
}

export interface Watched {
  /** the watchdog process; its stdout/stderr carry the server's */
  process: ChildProcess;
  /** Stop the server (and its watchdog) and wait until both have exited. */
  stop(): Promise<void>;
}

export function spawnWatched(spec: WatchedSpec): Watched {
  const json = JSON.stringify({
    command: spec.command,
    args: spec.args,
    uid: spec.uid,
    gid: spec.gid,
    stopSignal: spec.stopSignal,
    cleanup: spec.cleanup ?? [],
    graceMs: spec.graceMs ?? 5000,
  });
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, json], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: spec.env ?? process.env,
    detached: process.platform !== 'win32',
  });
  child.stdin?.on('error', () => {});
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    process: child,
    async stop() {
      child.stdin?.end();
      await exited;
    },
  };
}
