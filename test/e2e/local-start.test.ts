import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/local/postgres.js';

/**
 * `npm start` from a fresh clone in a mode-700 directory (as root, the `postgres` OS user that runs
 * PostgreSQL cannot traverse it): it serves a query with the dev token it prints, Ctrl-C leaves no
 * process and no temporary directory behind, and a SIGKILLed broker takes its PostgreSQL and Azurite
 * with it. Processes are recognised by a marker in their environment, which every child inherits.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
let parent: string;
let clone: string;
const running = new Set<ChildProcess>();

beforeAll(() => {
  parent = mkdtempSync(join(tmpdir(), 'qb-clone-')); // mode 700
  expect(statSync(parent).mode & 0o777).toBe(0o700);
  clone = join(parent, 'query-broker');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repo, clone]);
  // The clone is of what is committed; carry over uncommitted edits to tracked files too.
  const diff = execFileSync('git', ['-C', repo, 'diff', 'HEAD', '--binary'], { maxBuffer: 64 * 1024 * 1024 });
  if (diff.length > 0) execFileSync('git', ['-C', clone, 'apply', '--whitespace=nowarn'], { input: diff });
  // node_modules as npm ci would leave it, inside the mode-700 directory: a hard-link copy (fast,
  // same bytes); a symlink only where hard links cannot cross file systems.
  try {
    execFileSync('cp', ['-al', join(repo, 'node_modules'), join(clone, 'node_modules')]);
  } catch {
    rmSync(join(clone, 'node_modules'), { recursive: true, force: true });
    symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'));
  }
}, 120_000);

afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
  if (parent) rmSync(parent, { recursive: true, force: true });
});

/** Processes (pid → command line) whose environment holds the marker. */
function marked(marker: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`QB_TEST_MARKER=${marker}`)) {
        found.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'latin1').replaceAll('\0', ' ').trim());
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function portOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

interface Started {
  child: ChildProcess;
  marker: string;
  url: string;
  token: string;
  dataDir: string;
  pgPort: number;
  azuritePort: number;
  output: () => string;
}

/** Start the broker in the clone (own process group, like a terminal job) and wait for its banner. */
async function start(command: string, args: string[]): Promise<Started> {
  const marker = randomBytes(8).toString('hex');
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()), QB_TEST_MARKER: marker };
  delete env.DATABASE_URL;
  delete env.QB_CONFIG;
  const child = spawn(command, args, { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const banner = await waitFor('the start banner', () => (out.includes('Ctrl-C stops everything') || child.exitCode !== null ? out : undefined), 90_000);
  const url = /listening on (http:\/\/\S+)/.exec(banner)?.[1];
  const token = /AGENT_TOKEN=(\S+)/.exec(banner)?.[1];
  const db = /embedded PostgreSQL on 127\.0\.0\.1:(\d+) \(([^)]+)\)/.exec(banner);
  const azurite = /\(http:\/\/127\.0\.0\.1:(\d+)\/devstoreaccount1\)/.exec(banner);
  if (!url || !token || !db || !azurite) throw new Error(`npm start did not print its banner:\n${banner}`);
  return { child, marker, url, token, dataDir: db[2]!, pgPort: Number(db[1]), azuritePort: Number(azurite[1]), output: () => out };
}

async function firstQuery(s: Started): Promise<void> {
  const res = await fetch(`${s.url}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ connection: 'sales', sql: 'select id, name from customers order by id limit 2' }),
  });
  const body = (await res.json()) as { rows?: unknown[][] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.rows).toHaveLength(2);
}

/** The servers are up and recognisable by the marker (so "none left" below is not vacuous). */
function expectServersMarked(s: Started): void {
  const cmds = [...marked(s.marker).values()];
  expect(cmds.some((c) => c.includes('/bin/postgres') && c.includes(s.dataDir))).toBe(true);
  expect(cmds.some((c) => c.includes('azurite'))).toBe(true);
  expect(existsSync(s.dataDir)).toBe(true);
}

async function expectNothingLeft(s: Started): Promise<void> {
  await waitFor('every process to go', () => marked(s.marker).size === 0 || undefined).catch(() => {
    throw new Error(`left running: ${JSON.stringify([...marked(s.marker).entries()])}`);
  });
  expect(existsSync(s.dataDir)).toBe(false);
  expect(await portOpen(s.pgPort)).toBe(false);
  expect(await portOpen(s.azuritePort)).toBe(false);
}

describe.runIf(process.platform === 'linux')('npm start from a fresh clone in a mode-700 directory', () => {
  it('serves the first query with the printed dev token; Ctrl-C leaves no process and no files', async () => {
    const s = await start('npm', ['start']);
    await firstQuery(s);
    expectServersMarked(s);
    process.kill(-s.child.pid!, 'SIGINT'); // Ctrl-C: the terminal signals the whole job
    await waitFor('npm start to exit', () => s.child.exitCode !== null || s.child.signalCode !== null);
    await expectNothingLeft(s);
    expect(s.output()).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);

  it('a SIGKILLed broker takes its PostgreSQL and Azurite with it', async () => {
    const s = await start(process.execPath, ['--import', 'tsx', 'src/local/main.ts']);
    await firstQuery(s);
    expectServersMarked(s);
    process.kill(s.child.pid!, 'SIGKILL'); // the broker alone: no clean-up of its own runs
    await expectNothingLeft(s);
  }, 120_000);
});
