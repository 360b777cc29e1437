import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { freePort } from './postgres.js';
import { spawnWatched } from './watchdog.js';

/** Azurite's well-known development account (public, documented; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface LocalAzurite {
  blobEndpoint: string;
  connectionString: string;
  port: number;
  stop(): Promise<void>;
}

function azuriteBlobEntry(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('azurite/package.json');
  return join(dirname(pkg), 'dist', 'src', 'blob', 'main.js');
}

/**
 * Start Azurite's blob service (no telemetry). What it stores lives only as long as it runs, as
 * npm start, the tests and the bench want: in memory by default (no fdatasync per append block,
 * about a tenth of Azurite's CPU per append), or in a fresh temporary directory removed at stop.
 */
export async function startAzurite(options: { port?: number; persistence?: 'memory' | 'disk' } = {}): Promise<LocalAzurite> {
  const port = options.port ?? (await freePort());
  const dir = options.persistence === 'disk' ? mkdtempSync(join(tmpdir(), 'qb-azurite-')) : undefined;
  const storage = dir === undefined ? ['--inMemoryPersistence'] : ['--location', dir];
  // Under a watchdog: Azurite stops with its parent, also when that is killed.
  const server = spawnWatched({
    command: process.execPath,
    args: [azuriteBlobEntry(), '--silent', '--disableTelemetry', '--skipApiVersionCheck', ...storage, '--blobHost', '127.0.0.1', '--blobPort', String(port)],
    stopSignal: 'SIGTERM',
    graceMs: 3000,
    cleanup: dir === undefined ? [] : [dir],
  });
  const child = server.process;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${out}`)), 20_000);
      const onData = (b: Buffer) => {
        out += b.toString();
        if (out.includes('successfully listens')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited with ${code}: ${out}`));
      });
    });
  } catch (e) {
    await server.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let stopped = false;
  return {
    blobEndpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
