/**
 * A private MariaDB server for tests that need MySQL, never a mock.
 *
 *   const missing = mysqlUnavailable();            // at collection time: the missing binary, or undefined
 *   describe.skipIf(missing)('…', () => {
 *     let my: TestMysql;
 *     beforeAll(async () => { my = await startTestMysql(); });
 *     afterAll(() => my?.stop());
 *   });
 *
 * `startTestMysql` installs a data directory in a fresh temp directory (`mariadb-install-db`), starts
 * `mariadbd --no-defaults` on a free port of 127.0.0.1 with a private socket, creates a test database
 * and a login user with a password (no global privileges: ALL on its own database only), and gives
 * the superuser (root over the private socket, unix_socket authentication) as `rootQuery`. Nothing
 * of the project is copied or read by the server, so it runs wherever the clone sits. As root the
 * server runs as root (`--user=root`), so the temp directory needs no other owner.
 *
 * The server runs under the watchdog of src/local/watchdog.ts: it stops and its directory is removed
 * when `stop()` is called or when the test process ends in any way (even SIGKILL).
 *
 * `QB_MYSQL_URL` (a URL of an account that may create databases and users) uses that server instead:
 * a database and user of their own per call, dropped by `stop()`. Without the binaries and without
 * `QB_MYSQL_URL`, `mysqlUnavailable()` names what is missing (test files skip with that message);
 * `QB_REQUIRE_MYSQL=1` turns the absence into a failure.
 *
 * The server's `secure_file_priv` is a directory inside its temp directory (`filesDir`), so tests
 * of INTO OUTFILE / LOAD_FILE have a known, harmless place the server could write or read.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from '../../src/local/postgres.js';
import { spawnWatched, type Watched } from '../../src/local/watchdog.js';

const execFileP = promisify(execFile);

export interface TestMysql {
  /** mysql://user:password@127.0.0.1:port/database of the login user */
  url: string;
  host: string;
  port: number;
  /** the login user (password authentication; privileges on `database` only) */
  user: string;
  password: string;
  database: string;
  /** the server's version string (contains "MariaDB" on MariaDB) */
  version: string;
  /** secure_file_priv of a private server (undefined with QB_MYSQL_URL) */
  filesDir?: string;
  /** the private server's temp directory (data, socket, pid file, log); removed by stop() */
  serverDir?: string;
  /**
   * Run SQL as the superuser (several statements allowed: the result is then one entry per
   * statement). The default database is the test database.
   */
  rootQuery<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  /** Stop the server and remove its directory (or drop the database and user of QB_MYSQL_URL). */
  stop(): Promise<void>;
}

interface Binaries {
  mariadbd: string;
  installDb: string;
}

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/libexec', '/usr/local/mysql/bin', '/opt/homebrew/bin', '/usr/local/bin'];

function findBinary(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const name of names) for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function findBinaries(): Binaries | { missing: string } {
  const mariadbd = findBinary(['mariadbd', 'mysqld']);
  if (!mariadbd) return { missing: 'mariadbd' };
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (!installDb) return { missing: 'mariadb-install-db' };
  return { mariadbd, installDb };
}

/**
 * Why MySQL tests cannot run here (a sentence naming the missing binary), or undefined when they
 * can. Synchronous, for `describe.skipIf`. Throws under QB_REQUIRE_MYSQL=1 instead of skipping.
 */
export function mysqlUnavailable(): string | undefined {
  if (process.env.QB_MYSQL_URL) return undefined;
  const found = findBinaries();
  if (!('missing' in found)) return undefined;
  const reason = `MySQL tests skipped: ${found.missing} not found on PATH or in ${SBIN_DIRS.join(', ')} (install MariaDB, or set QB_MYSQL_URL to an existing server).`;
  if (process.env.QB_REQUIRE_MYSQL === '1') throw new Error(`${reason} QB_REQUIRE_MYSQL=1 requires them.`);
  console.warn(reason);
  return reason;
}

/** A private MariaDB (or the QB_MYSQL_URL server); undefined when neither is available (and not required). */
export async function startTestMysql(): Promise<TestMysql | undefined> {
  const existing = process.env.QB_MYSQL_URL;
  if (existing) return await onExistingServer(existing);
  const found = findBinaries();
  if ('missing' in found) {
    mysqlUnavailable();
    return undefined;
  }
  return await startPrivateServer(found);
}

async function startPrivateServer(bin: Binaries): Promise<TestMysql> {
  // Short path: the socket path must stay under ~100 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'qbmy-'));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const filesDir = join(dir, 'files');
  mkdirSync(filesDir);
  const socket = join(dir, 'sock');
  const osUser = userInfo().username;
  try {
    await execFileP(
      bin.installDb,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--user=${osUser}`,
        '--auth-root-authentication-method=socket',
        `--auth-root-socket-user=${osUser}`,
        '--skip-test-db',
        '--skip-name-resolve',
        // The bootstrap server's temporary tables stay in this server's directory: in the shared
        // /tmp, concurrent installs (parallel test files) have failed on each other's files.
        `--tmpdir=${dir}`,
      ],
      { timeout: 60_000 },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed in ${dataDir}: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  // A port chosen free can be taken before the server binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = spawnWatched({
      command: bin.mariadbd,
      args: [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--user=${osUser}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        `--pid-file=${join(dir, 'pid')}`,
        `--log-error=${join(dir, 'error.log')}`,
        `--tmpdir=${dir}`,
        `--secure-file-priv=${filesDir}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--performance-schema=OFF',
        '--innodb-buffer-pool-size=16M',
        '--max-connections=200',
      ],
      stopSignal: 'SIGTERM',
      cleanup: [dir],
      graceMs: 10_000,
    });
    try {
      const version = await waitReady(server, socket, osUser, join(dir, 'error.log'));
      return await provision({
        version,
        port,
        filesDir,
        serverDir: dir,
        admin: { socketPath: socket, user: osUser },
        database: 'qbtest',
        user: 'qb_agent',
        stop: () => server.stop(),
      });
    } catch (e) {
      lastError = e;
      await server.stop();
      const log = readLog(join(dir, 'error.log'));
      if (!/Address already in use|Can't start server: Bind/.test(log)) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Poll the private socket until the server answers; fail early when it exits. */
async function waitReady(server: Watched, socket: string, user: string, log: string): Promise<string> {
  let exited = false;
  server.process.once('exit', () => (exited = true));
  // Drain the watchdog's pipes (the server logs to its file).
  server.process.stdout?.resume();
  server.process.stderr?.resume();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`mariadbd exited during start-up: ${readLog(log).split('\n').slice(-8).join('\n')}`);
    if (existsSync(socket)) {
      try {
        const c = await mysql.createConnection({ socketPath: socket, user });
        try {
          const [rows] = await c.query<mysql.RowDataPacket[]>('select version() as v');
          return String(rows[0]!.v);
        } finally {
          await c.end();
        }
      } catch {
        // not ready yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`mariadbd did not become ready within 60 s: ${readLog(log).split('\n').slice(-8).join('\n')}`);
}

interface ProvisionSpec {
  version: string;
  port: number;
  host?: string;
  filesDir?: string;
  serverDir?: string;
  admin: mysql.ConnectionOptions;
  database: string;
  user: string;
  stop(): Promise<void>;
  /** drop what was created (an existing server) before stopping */
  dropOnStop?: boolean;
}

/** The test database, the login user, and the superuser connection. */
async function provision(spec: ProvisionSpec): Promise<TestMysql> {
  const password = `pw_${randomBytes(9).toString('hex')}`;
  const root = await mysql.createConnection({ ...spec.admin, multipleStatements: true });
  root.on('error', () => {});
  const host = spec.host ?? '127.0.0.1';
  const q = (s: string) => mysql.escapeId(s);
  await root.query(
    `create database if not exists ${q(spec.database)}; ` +
      `create user ${mysql.escape(spec.user)}@'%' identified by ${mysql.escape(password)}; ` +
      `grant all privileges on ${q(spec.database)}.* to ${mysql.escape(spec.user)}@'%'; ` +
      `use ${q(spec.database)}`,
  );
  let stopped = false;
  return {
    url: `mysql://${encodeURIComponent(spec.user)}:${encodeURIComponent(password)}@${host}:${spec.port}/${encodeURIComponent(spec.database)}`,
    host,
    port: spec.port,
    user: spec.user,
    password,
    database: spec.database,
    version: spec.version,
    ...(spec.filesDir ? { filesDir: spec.filesDir } : {}),
    ...(spec.serverDir ? { serverDir: spec.serverDir } : {}),
    async rootQuery<T>(sql: string, values?: unknown[]): Promise<T[]> {
      const [rows] = await root.query(sql, values);
      return rows as unknown as T[];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (spec.dropOnStop) {
        await root.query(`drop database if exists ${q(spec.database)}; drop user if exists ${mysql.escape(spec.user)}@'%'`).catch(() => {});
      }
      await root.end().catch(() => root.destroy());
      await spec.stop();
    },
  };
}

async function onExistingServer(url: string): Promise<TestMysql> {
  const u = new URL(url);
  const admin: mysql.ConnectionOptions = {
    host: u.hostname,
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
  const c = await mysql.createConnection(admin);
  const [rows] = await c.query<mysql.RowDataPacket[]>('select version() as v');
  await c.end();
  const suffix = randomBytes(4).toString('hex');
  return await provision({
    version: String(rows[0]!.v),
    port: admin.port!,
    host: admin.host!,
    admin,
    database: `qbtest_${suffix}`,
    user: `qb_agent_${suffix}`,
    dropOnStop: true,
    stop: async () => {},
  });
}
