import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { freePort } from './postgres.js';

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
  const child: ChildProcess = spawn(
    process.execPath,
    [azuriteBlobEntry(), '--silent', '--disableTelemetry', '--skipApiVersionCheck', ...storage, '--blobHost', '127.0.0.1', '--blobPort', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let stopped = false;
  return {
    blobEndpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
      }
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
