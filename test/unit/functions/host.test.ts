/**
 * The built Functions entry (dist/functions/index.js), driven through a stand-in for the host's
 * `@azure/functions-core`: the registrations are captured, and the HTTP function is called with
 * real `HttpRequest` objects (streaming body) and a durable client input whose HTTP API is a small
 * server standing in for the Durable extension. Against Azurite and the test PostgreSQL, with the
 * local dev issuer switched on by its explicit local setting (as `func start` would be).
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { ROOT } from '../infra/bicep.js';
import { captureFunctionRegistrations, invokeHttpFunction, type CapturedFunction, type DurableClientInput } from '../../helpers/functions-host.js';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { demoPolicy } from '../../../src/local/demo.js';

const ENTRY = join(ROOT, 'dist/functions/index.js');
const BASE = 'http://localhost:7071';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : name.endsWith('.ts') ? st.mtimeMs : 0);
  }
  return newest;
}

/** Build dist only when a source is newer than the entry (tsc takes ~30 s on a busy machine). */
function ensureBuilt(): void {
  const stale = !existsSync(ENTRY) || Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'functions'))) > statSync(ENTRY).mtimeMs;
  if (!stale) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
}

interface DurableCall {
  method: string;
  path: string;
  body: string;
}

let db: TestDatabase;
let dir = '';
let durable: Server;
let durableInput: DurableClientInput;
const durableCalls: DurableCall[] = [];
let broker: CapturedFunction;
let registered: CapturedFunction[] = [];
const savedEnv = { ...process.env };

async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const r = await invokeHttpFunction(broker, { method, url: `${BASE}${path}`, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) }, durableInput);
  let json: any;
  try {
    json = JSON.parse(r.text);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

async function token(sub: string, roles: string[], idtyp: 'app' | 'user' = 'app'): Promise<string> {
  const r = await call('POST', '/api/dev/token', { body: { sub, roles, idtyp } });
  expect(r.status, r.text).toBe(200);
  return r.json.token as string;
}

beforeAll(async () => {
  ensureBuilt();
  db = await createDemoDatabase();
  dir = mkdtempSync(join(tmpdir(), 'qb-funchost-'));
  const urlVar = `QB_FUNC_TEST_URL_${randomBytes(4).toString('hex').toUpperCase()}`;
  const policy = demoPolicy() as Record<string, any>;
  policy.connections.sales.credentials = { env: urlVar };
  writeFileSync(join(dir, 'qb.yaml'), stringify(policy));

  durable = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      durableCalls.push({ method: req.method ?? '', path: req.url ?? '', body });
      const instance = /\/orchestrators\/[^/]+\/([^/?]+)/.exec(req.url ?? '')?.[1];
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify(instance ? { id: instance } : {}));
    });
  });
  await new Promise<void>((resolve) => durable.listen(0, '127.0.0.1', resolve));
  const port = (durable.address() as { port: number }).port;
  durableInput = { taskHubName: 'qbtest', creationUrls: {}, managementUrls: {}, baseUrl: `http://127.0.0.1:${port}/runtime/webhooks/durabletask`, requiredQueryStringParameters: '', rpcBaseUrl: `http://127.0.0.1:${port}/durabletask/` };

  // local.settings.json of `func start`, plus the test database's URL for the policy's connection.
  for (const k of ['WEBSITE_SITE_NAME', 'WEBSITE_INSTANCE_ID', 'WEBSITE_OWNER_NAME', 'WEBSITE_HOSTNAME', 'QB_AUDIT_BLOB_ENDPOINT', 'QB_KEY_VAULT_URL', 'QB_SERVICE_BUS_NAMESPACE', 'AZURE_CLIENT_ID']) delete process.env[k];
  Object.assign(process.env, {
    QB_CONFIG: join(dir, 'qb.yaml'),
    QB_AUDIT_CONNECTION_STRING: inject('blobConnectionString'),
    QB_AUDIT_CONTAINER: `audit-${randomBytes(6).toString('hex')}`,
    QB_PUBLIC_BASE_URL: BASE,
    QB_LOCAL_DEV_ISSUER: 'true',
    [urlVar]: db.brokerUrl,
  });
  registered = captureFunctionRegistrations();
  await import(pathToFileURL(ENTRY).href);
  broker = registered.find((f) => f.name === 'broker') as CapturedFunction;
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => durable?.close(resolve));
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

describe('dist/functions/index.js under a stand-in Functions host', () => {
  it('registers the HTTP function, the approval orchestration and activities, the JIT sweeper and the notifier', () => {
    const names = registered.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['broker', 'jitSweeper']));
    expect(registered.some((f) => Object.values(f.bindings).some((b) => b.type === 'orchestrationTrigger'))).toBe(true);
    expect(registered.filter((f) => Object.values(f.bindings).some((b) => b.type === 'activityTrigger')).length).toBeGreaterThan(0);
    expect(broker).toBeDefined();
  });

  it('GET /api/health answers 200 with the audit store on Azurite', async () => {
    const r = await call('GET', '/api/health');
    expect(r.status, r.text).toBe(200);
    expect(r.json.dependencies).toMatchObject({ audit: 'ok' });
  });

  it('GET /api/health?deep=1 runs the doctor for auditors only', async () => {
    expect((await call('GET', '/api/health?deep=1')).status).toBe(401);
    const agent = await token('func-agent', ['Query.Read']);
    const refused = await call('GET', '/api/health?deep=1', { token: agent });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('forbidden');
    const auditor = await token('func-auditor', ['Audit.Read'], 'user');
    const deep = await call('GET', '/api/health?deep=1', { token: auditor });
    expect(deep.status, deep.text).toBe(200);
    const by = new Map((deep.json.checks as { check: string; status: string }[]).map((l) => [l.check, l.status]));
    expect(by.get('audit.append')).toBe('ok');
    expect(by.get('connection.sales')).toBe('ok');
    expect(by.get('connection.sales.agent-read')).toBe('ok');
    expect(by.get('keyvault')).toBe('skipped');
    expect(by.get('servicebus')).toBe('skipped');
    expect(deep.text).not.toContain(db.brokerPassword);
  });

  it('a query with a streamed JSON body runs against PostgreSQL; a forged token is refused', async () => {
    const agent = await token('func-agent', ['Query.Read']);
    const r = await call('POST', '/api/query', { token: agent, body: { connection: 'sales', sql: 'select id, status from orders order by id limit 3' } });
    expect(r.status, r.text).toBe(200);
    expect(r.json.rows).toHaveLength(3);
    expect(r.json.rows[0]).toEqual([1, expect.any(String)]);
    const [h, p] = agent.split('.');
    const forged = await call('POST', '/api/query', { token: `${h}.${p}.${'A'.repeat(342)}`, body: { connection: 'sales', sql: 'select 1' } });
    expect(forged.status).toBe(401);
    expect(forged.json.error.code).toBe('invalid_token');
  });

  it('a risky write is held (202); its orchestration starts through the durable client; the approval raises the decision event; the table is unchanged', async () => {
    const before = (await db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;
    const writer = await token('func-writer', ['Query.Read', 'Query.Write']);
    const held = await call('POST', '/api/query', { token: writer, body: { connection: 'sales', sql: 'delete from orders', reason: 'clean up' } });
    expect(held.status, held.text).toBe(202);
    const { requestId, sqlHash } = held.json;
    expect(sqlHash).toBe(createHash('sha256').update('delete from orders').digest('hex'));
    const start = durableCalls.find((c) => c.method === 'POST' && c.path.includes(`/orchestrators/`) && c.path.includes(requestId));
    expect(start, JSON.stringify(durableCalls)).toBeDefined();
    expect(start!.path).toMatch(/^\/durabletask\/orchestrators\/[^/]+\//);
    expect(JSON.parse(start!.body)).toMatchObject({ requestId });

    const approver = await token('func-approver', ['Query.Approve'], 'user');
    const decided = await call('POST', `/api/approvals/${requestId}`, { token: approver, body: { decision: 'approve', sqlHash } });
    expect(decided.status, decided.text).toBeLessThan(300);
    const raised = durableCalls.find((c) => c.path.startsWith(`/durabletask/instances/${requestId}/raiseEvent/`));
    expect(raised, JSON.stringify(durableCalls)).toBeDefined();
    expect(JSON.parse(raised!.body)).toMatchObject({ outcome: 'approved' });
    // The request store records who decided.
    const status = await call('GET', `/api/requests/${requestId}`, { token: writer });
    expect(status.status, status.text).toBe(200);
    expect(status.json.state).toBe('approved');
    // Executing is the orchestration's job (in the host); nothing ran here.
    expect((await db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n).toBe(before);
  });
});
