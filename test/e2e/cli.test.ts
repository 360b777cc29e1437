import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const PLANTED_CARD = '4111111111111111';

let b: TestBroker;
let readerToken: string;
let auditorToken: string;

beforeAll(async () => {
  b = await startTestBroker();
  readerToken = await b.token({ sub: 'cli-agent', roles: ['Query.Read'] });
  auditorToken = await b.token({ sub: 'cli-auditor', roles: ['Audit.Read'], idtyp: 'user' });
});
afterAll(async () => b?.close());

/** Tests that start several `qb` processes (each compiles through tsx): slow on a busy machine. */
const SPAWNING_TEST_TIMEOUT_MS = 120_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI in its own process, as a user would (through tsx, no build needed). */
function qb(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', QB_URL: b.url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('qb token', () => {
  it('prints a dev token the broker accepts (exit 0)', async () => {
    const r = await qb(['token', '--role', 'Query.Read', '--sub', 'cli-token-user', '--name', 'CLI user']);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const res = await b.fetch('/api/connections', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect((await res.json()).connections[0].name).toBe('sales');
  });
});

describe('qb query', () => {
  it('prints a table with masked values and the row count (exit 0)', async () => {
    const r = await qb(['query', '--connection', 'sales', 'select id, name, card_number from customers where id <= $1 order by id', '--param', '2'], { QB_TOKEN: readerToken });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^ id \| name +\| card_number$/);
    expect(lines[2]).toMatch(/^ +1 \| Ada Lovelace \| /);
    expect(r.stdout).toContain('(2 rows)');
    expect(r.stdout).not.toContain(PLANTED_CARD);
    expect(r.stderr).toMatch(/masked: card_number \(\w+\)/);
    expect(r.stderr).toMatch(/request r_\S+ · session s_\S+/);
  });

  it('prints the broker’s JSON with --json', async () => {
    const r = await qb(['query', '-c', 'sales', 'select id, email from customers order by id limit 2', '--json', '--token', readerToken]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body).toMatchObject({ decision: 'allowed', rowCount: 2 });
    expect(body.columns[1]).toMatchObject({ name: 'email', masked: expect.any(String) });
    expect(body.rows.map((row: unknown[]) => row[0])).toEqual([1, 2]);
    expect(r.stdout).not.toContain('ada@example.com');
  });

  it('exits 1 with the reason codes when the policy refuses, and the table is unchanged', async () => {
    const before = await b.db.query('select sum(amount_cents)::bigint as s from orders');
    const r = await qb(['query', '-c', 'sales', 'update orders set amount_cents = 0 where id = 1'], { QB_TOKEN: readerToken });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^qb: policy_denied: /);
    expect(r.stderr).toMatch(/\n  - write_on_read_only_profile\b/);
    expect(r.stderr).toMatch(/request r_/);
    expect((await b.db.query('select sum(amount_cents)::bigint as s from orders')).rows).toEqual(before.rows);
  });

  it('exits 1 for a token the broker rejects', async () => {
    const r = await qb(['query', '-c', 'sales', 'select 1'], { QB_TOKEN: 'not.a.token' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid_token/);
  });

  it('exits 2 for a usage error, without calling the broker', async () => {
    const missing = await qb(['query', 'select 1'], { QB_TOKEN: readerToken });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Missing --connection/);
    const noToken = await qb(['query', '-c', 'sales', 'select 1']);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/QB_TOKEN/);
  });

  it('exits 3 when the broker cannot be reached', async () => {
    const r = await qb(['query', '-c', 'sales', 'select 1', '--url', `http://127.0.0.1:${await closedPort()}`], { QB_TOKEN: readerToken });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Cannot reach the broker/);
  });

  it('a write that needs a human: pending (exit 0), then approve, then status --wait prints the outcome (exit 0)', async () => {
    const writer = await b.token({ sub: 'cli-writer', roles: ['Query.Read', 'Query.Write'] });
    const approver = await b.token({ sub: 'cli-approver', roles: ['Query.Approve'], idtyp: 'user' });
    const r = await qb(['query', '-c', 'sales', "update orders set status = 'cli'", '--json'], { QB_TOKEN: writer });
    expect(r.code).toBe(0);
    const pending = JSON.parse(r.stdout);
    expect(pending).toMatchObject({ decision: 'pending_approval', requestId: expect.stringMatching(/^r_/) });
    expect((await b.db.query("select count(*)::int as n from orders where status = 'cli'")).rows[0]!.n).toBe(0);

    const shown = await qb(['status', pending.requestId], { QB_TOKEN: writer });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/state\s+pending_approval/);
    expect(shown.stdout).toContain(`qb approve ${pending.requestId} --sql-hash ${pending.sqlHash}`);

    const selfApproval = await qb(['approve', pending.requestId, '--sql-hash', pending.sqlHash], { QB_TOKEN: writer });
    expect(selfApproval.code).toBe(1);
    const wrongHash = await qb(['approve', pending.requestId, '--sql-hash', '0'.repeat(64)], { QB_TOKEN: approver });
    expect(wrongHash.code).toBe(1);
    expect(wrongHash.stderr).toMatch(/^qb: conflict: /);

    const approved = await qb(['approve', pending.requestId, '--sql-hash', pending.sqlHash, '--comment', 'ok for the test'], { QB_TOKEN: approver });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`^Approved ${pending.requestId}`));

    const waited = await qb(['status', pending.requestId, '--wait', '--interval', '0.2', '--timeout', '20'], { QB_TOKEN: writer });
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/state\s+executed/);
    expect(waited.stdout).toContain('(50 rows affected)');
    expect((await b.db.query("select count(*)::int as n from orders where status = 'cli'")).rows[0]!.n).toBe(50);
  }, SPAWNING_TEST_TIMEOUT_MS);

  it('a rejected request: status exits 1 and nothing ran', async () => {
    const writer = await b.token({ sub: 'cli-writer', roles: ['Query.Read', 'Query.Write'] });
    const approver = await b.token({ sub: 'cli-approver', roles: ['Query.Approve'], idtyp: 'user' });
    const r = await qb(['query', '-c', 'sales', 'delete from orders', '--json'], { QB_TOKEN: writer });
    const pending = JSON.parse(r.stdout);
    const rejected = await qb(['approve', pending.requestId, '--sql-hash', pending.sqlHash, '--reject', '--comment', 'no'], { QB_TOKEN: approver });
    expect(rejected.code).toBe(0);
    const status = await qb(['status', pending.requestId, '--wait', '--interval', '0.2', '--timeout', '20'], { QB_TOKEN: writer });
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/state\s+rejected/);
    expect((await b.db.query('select count(*)::int as n from orders')).rows[0]!.n).toBe(50);
  }, SPAWNING_TEST_TIMEOUT_MS);
});

describe('qb status', () => {
  it('exits 1 for a request the broker does not know', async () => {
    const r = await qb(['status', 'r_doesnotexist'], { QB_TOKEN: readerToken });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not_found/);
  });
});

describe('qb sessions', () => {
  let sessionId: string;

  beforeAll(async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id, card_number from customers where id = 1' }, ['Query.Read'], 'cli-recorded');
    sessionId = r.body.sessionId;
  });

  it('list, show and verify a recorded session as an auditor (exit 0)', async () => {
    const list = await qb(['sessions', 'list', '--oid', 'dev-cli-recorded'], { QB_TOKEN: auditorToken });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(sessionId);
    expect(list.stdout).toContain('(1 session)');

    const show = await qb(['sessions', 'show', sessionId], { QB_TOKEN: auditorToken });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^session ${sessionId}: \\d+ events`));
    expect(show.stdout).toMatch(/#\d+ \S+ decision/);
    expect(show.stdout).toMatch(/#\d+ \S+ executed/);
    expect(show.stdout).not.toContain(PLANTED_CARD);

    const verify = await qb(['sessions', 'verify', sessionId, '--json'], { QB_TOKEN: auditorToken });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ valid: true, firstBadSeq: null });
  }, SPAWNING_TEST_TIMEOUT_MS);

  it('exits 1 for a token without the auditor role', async () => {
    const r = await qb(['sessions', 'show', sessionId], { QB_TOKEN: readerToken });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^qb: forbidden: /);
  });
});
