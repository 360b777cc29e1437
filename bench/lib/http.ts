/**
 * The HTTP side of the bench: a broker server in a child process, and a lean keep-alive client
 * (node:http, not fetch, so the client's own cost stays small next to the broker's).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopChild, tailOf, tsxArgs } from './processes.js';
import type { AuditLogStats } from '../../src/broker/ports.js';

export interface HttpReply {
  status: number;
  body: string;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: 'GET' | 'POST', path: string, body?: string, token?: string): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      if (token) headers.authorization = `Bearer ${token}`;
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  postJson(path: string, value: unknown, token?: string): Promise<HttpReply> {
    return this.request('POST', path, JSON.stringify(value), token);
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface BrokerServer {
  url: string;
  /** the child's process id (for its CPU time) */
  pid: number;
  container: string;
  /** the Azurite it records to (audit on) */
  blobConnectionString: string;
  /** a dev-issuer token (POST /api/dev/token) */
  token(claims: { sub: string; roles: string[]; name?: string }): Promise<string>;
  /** CPU-profile the server from now until the returned function is called with a file to write */
  profile(): Promise<(file: string) => Promise<void>>;
  /** the audit log's counters in the child (storage requests by kind); null when it keeps none (audit off: in memory) */
  auditStats(): Promise<AuditCounters | null>;
  /** stop the child; resolves when it has exited */
  stop(): Promise<void>;
}

export type AuditCounters = AuditLogStats;

export interface BrokerServerOptions {
  policyJson: string;
  blobConnectionString: string;
  audit: 'blob' | 'memory';
  /** extra environment, e.g. the variable holding the database URL */
  env: Record<string, string>;
}

/** The URL a spawned server reports over IPC (`{type:'ready', url}`), or its output's tail when it fails to start. */
function readyUrl(child: ChildProcess, name: string, timeoutMs: number): Promise<string> {
  const tail = tailOf(child);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${tail()}`)), timeoutMs);
    child.on('message', (m: { type?: string; url?: string }) => {
      if (m?.type === 'ready' && m.url) {
        clearTimeout(timer);
        resolve(m.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${tail()}`));
    });
  });
}

export async function startBrokerServer(o: BrokerServerOptions): Promise<BrokerServer> {
  const container = `bench-${o.audit}-${randomBytes(4).toString('hex')}`;
  const child = spawnTracked(process.execPath, tsxArgs('bench/lib/broker-server.ts'), {
    env: { ...process.env, ...o.env, QB_BENCH_POLICY: o.policyJson, QB_BENCH_BLOB: o.blobConnectionString, QB_BENCH_CONTAINER: container, QB_BENCH_AUDIT: o.audit },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const url = await readyUrl(child, 'bench broker', 60_000);
  const admin = new HttpClient(url, 2);
  return {
    url,
    pid: child.pid ?? -1,
    container,
    blobConnectionString: o.blobConnectionString,
    async token(claims) {
      const r = await admin.postJson('/api/dev/token', claims);
      if (r.status !== 200) throw new Error(`dev token: ${r.status} ${r.body}`);
      return (JSON.parse(r.body) as { token: string }).token;
    },
    profile: () => profileChild(child),
    auditStats() {
      return new Promise<AuditCounters | null>((resolve) => {
        const on = (m: { type?: string; stats?: AuditCounters | null }) => {
          if (m?.type !== 'audit-stats' || m.stats === undefined) return;
          child.off('message', on);
          resolve(m.stats);
        };
        child.on('message', on);
        child.send({ type: 'audit-stats' });
      });
    },
    async stop() {
      admin.close();
      await stopServer(child, 15_000);
    },
  };
}

export interface FloorServer {
  url: string;
  pid: number;
  /** CPU-profile the floor from now until the returned function is called with a file to write */
  profile(): Promise<(file: string) => Promise<void>>;
  stop(): Promise<void>;
}

/** Start a CPU profile in a child that answers `profile-start` / `profile-stop` over IPC. */
async function profileChild(child: ChildProcess): Promise<(file: string) => Promise<void>> {
  const reply = (type: string) =>
    new Promise<void>((resolve) => {
      const on = (m: { type?: string }) => {
        if (m?.type !== type) return;
        child.off('message', on);
        resolve();
      };
      child.on('message', on);
    });
  const started = reply('profile-started');
  child.send({ type: 'profile-start' });
  await started;
  return async (file: string) => {
    const written = reply('profile-written');
    child.send({ type: 'profile-stop', file });
    await written;
  };
}

/** The bare Hono floor (bench/lib/hono-floor-server.ts), answering `reply` to every POST /api/query. */
export async function startFloorServer(reply: string): Promise<FloorServer> {
  return await startReplyServer('bench/lib/hono-floor-server.ts', { QB_FLOOR_REPLY: reply });
}

/** The broker's HTTP glue alone (bench/lib/glue-server.ts): the real app whose Broker.query answers `reply` at once. */
export async function startGlueServer(reply: string, policyJson: string): Promise<FloorServer> {
  return await startReplyServer('bench/lib/glue-server.ts', { QB_GLUE_REPLY: reply, QB_BENCH_POLICY: policyJson });
}

async function startReplyServer(file: string, env: Record<string, string>): Promise<FloorServer> {
  const child = spawnTracked(process.execPath, tsxArgs(file), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const url = await readyUrl(child, file, 30_000);
  return {
    url,
    pid: child.pid ?? -1,
    profile: () => profileChild(child),
    stop: () => stopServer(child, 10_000),
  };
}

/** Ask a child server to stop (bench/lib/child-server.ts); kill it if it has not exited after `killAfterMs`. */
async function stopServer(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), killAfterMs);
  await exited;
  clearTimeout(timer);
}
