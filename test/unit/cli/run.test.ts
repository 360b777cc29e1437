import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../../../src/cli/run.js';
import type { CliIo } from '../../../src/cli/io.js';

interface Captured extends CliIo {
  out: () => string;
  err: () => string;
}

function io(env: Record<string, string> = {}, options: { tty?: boolean; stdin?: string } = {}): Captured {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: options.tty ?? false },
    env,
    readStdin: async () => options.stdin ?? '',
    out: () => out,
    err: () => err,
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('qb: usage errors exit 2 before anything is sent', () => {
  it.each([
    [[], /Usage: qb <command>/],
    [['frobnicate'], /Unknown command "frobnicate"/],
    [['query', 'select 1'], /Missing --connection/],
    [['query', '-c', 'sales'], /Missing the SQL statement/],
    [['query', '-c', 'sales', 'select 1', 'select 2'], /Unexpected argument/],
    [['query', '-c', 'sales', 'select 1', '--bogus'], /Unknown option '--bogus'/],
    [['query', '-c', 'sales', 'select 1', '--params-json', '{"a":1}', '--token', 't'], /must be a JSON array/],
    [['query', '-c', 'sales', 'select 1', '--max-rows', 'lots', '--token', 't'], /--max-rows must be a positive number/],
    [['query', '-c', 'sales', 'select 1'], /No token: pass --token or set QB_TOKEN/],
    [['query', '-c', 'sales', 'select 1', '--token', 't', '--url', 'ftp://x'], /must be http/],
    [['status'], /Missing REQUEST_ID/],
    [['approve', 'r_1', '--token', 't'], /Missing --sql-hash/],
    [['sessions'], /Missing the sub-command/],
    [['sessions', 'explode', '--token', 't'], /Unknown sub-command "explode"/],
    [['sessions', 'list', '--day', '31/01/2025', '--token', 't'], /YYYY-MM-DD/],
  ])('qb %j', async (argv, message) => {
    const c = io();
    expect(await runCli(argv as string[], c)).toBe(2);
    expect(c.err()).toMatch(message);
    expect(c.out()).toBe('');
  });

  it('prints help with exit 0', async () => {
    for (const argv of [['--help'], ['query', '--help'], ['status', '-h'], ['approve', '--help'], ['sessions', '--help'], ['token', '--help']]) {
      const c = io();
      expect(await runCli(argv, c)).toBe(0);
      expect(c.out()).toMatch(/Usage: qb/);
    }
  });
});

describe('qb: a broker that cannot be reached exits 3', () => {
  it('says where it tried and what to do', async () => {
    const port = await closedPort();
    const c = io({ QB_URL: `http://127.0.0.1:${port}`, QB_TOKEN: 't' });
    expect(await runCli(['query', '-c', 'sales', 'select 1'], c)).toBe(3);
    expect(c.err()).toMatch(new RegExp(`Cannot reach the broker at http://127.0.0.1:${port} \\(ECONNREFUSED\\)`));
  });
});

/** A stand-in for the broker's HTTP API, to pin the CLI's side of the protocol. */
let server: Server;
let url: string;
let handler: (req: IncomingMessage, body: string, res: ServerResponse) => void;
const seen: { method: string; path: string; auth?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

describe('qb status --wait', () => {
  const pending = { requestId: 'r_abc', state: 'pending_approval', sqlHash: 'f'.repeat(64), sql: "update orders set status = 'x'", reasons: [{ code: 'update_without_where', message: 'No WHERE.' }], expiresAt: new Date(Date.now() + 3_600_000).toISOString() };

  it('polls until executed, shows progress on stderr, then prints the result (exit 0)', async () => {
    let polls = 0;
    handler = (_req, _body, res) => {
      polls++;
      if (polls < 3) json(res, 200, pending);
      else json(res, 200, { ...pending, state: 'executed', result: { columns: [], rows: [], rowCount: 50 } });
    };
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' });
    expect(await runCli(['status', 'r_abc', '--wait', '--interval', '0.01'], c)).toBe(0);
    expect(polls).toBe(3);
    expect(c.err()).toBe(`r_abc: pending approval · expires in 59 min; waiting…\n`);
    expect(c.out()).toMatch(/state\s+executed/);
    expect(c.out()).toMatch(/\(50 rows affected\)/);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', path: '/api/requests/r_abc', auth: 'Bearer tok' });
  });

  it('draws a spinner line on a terminal and clears it at the end', async () => {
    let polls = 0;
    handler = (_req, _body, res) => json(res, 200, ++polls < 3 ? pending : { ...pending, state: 'rejected' });
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' }, { tty: true });
    expect(await runCli(['status', 'r_abc', '--wait', '--interval', '0.01'], c)).toBe(1);
    expect(c.err()).toMatch(/\r\x1b\[2K⠋ r_abc: pending approval · 0s · expires in 59 min/);
    expect(c.err()).toMatch(/\r\x1b\[2K⠙ r_abc/);
    expect(c.err().endsWith('\r\x1b[2K')).toBe(true);
    expect(c.out()).toMatch(/state\s+rejected/);
  });

  it('gives up after --timeout with exit 1, saying nothing ran', async () => {
    handler = (_req, _body, res) => json(res, 200, pending);
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' });
    expect(await runCli(['status', 'r_abc', '--wait', '--interval', '0.01', '--timeout', '0.05'], c)).toBe(1);
    expect(c.err()).toMatch(/still pending_approval after 0 s; nothing ran yet/);
  });

  it('without --wait prints the pending state and how to approve it (exit 0)', async () => {
    handler = (_req, _body, res) => json(res, 200, pending);
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' });
    expect(await runCli(['status', 'r_abc'], c)).toBe(0);
    expect(c.out()).toContain(`qb approve r_abc --sql-hash ${pending.sqlHash}`);
    expect(c.out()).toContain('  - update_without_where: No WHERE.');
  });
});

describe('qb approve', () => {
  it('sends the decision with the SQL hash and comment', async () => {
    handler = (_req, _body, res) => json(res, 200, { requestId: 'r_abc', state: 'approved' });
    const c = io({ QB_URL: url, QB_TOKEN: 'approver' });
    expect(await runCli(['approve', 'r_abc', '--sql-hash', 'abc123', '--comment', 'looks fine'], c)).toBe(0);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', path: '/api/approvals/r_abc', auth: 'Bearer approver' });
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ decision: 'approve', sqlHash: 'abc123', comment: 'looks fine' });
    expect(c.out()).toBe('Approved r_abc: state approved\n');
  });

  it('exits 1 with the broker’s code when it refuses (wrong hash)', async () => {
    handler = (_req, _body, res) => json(res, 409, { error: { code: 'conflict', message: 'The sqlHash does not match the pending statement.' }, requestId: 'r_abc' });
    const c = io({ QB_URL: url, QB_TOKEN: 'approver' });
    expect(await runCli(['approve', 'r_abc', '--sql-hash', 'wrong', '--reject'], c)).toBe(1);
    expect(JSON.parse(seen.at(-1)!.body).decision).toBe('reject');
    expect(c.err()).toMatch(/^qb: conflict: The sqlHash does not match/);
  });
});

describe('qb query against a gateway whose broker is down', () => {
  it('exits 3 on a 502 that is not a broker answer', async () => {
    handler = (_req, _body, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' });
    expect(await runCli(['query', '-c', 'sales', 'select 1'], c)).toBe(3);
    expect(c.err()).toMatch(/HTTP 502 without a broker response/);
  });

  it('reads the SQL from stdin with "-"', async () => {
    handler = (_req, _body, res) => json(res, 200, { decision: 'allowed', executed: true, columns: [{ name: 'one', type: 'int4', masked: false }], rows: [[1]], rowCount: 1, truncated: false, requestId: 'r_1', sessionId: 's_1', durationMs: 1 });
    const c = io({ QB_URL: url, QB_TOKEN: 'tok' }, { stdin: 'select 1 as one\n' });
    expect(await runCli(['query', '-c', 'sales', '-'], c)).toBe(0);
    expect(JSON.parse(seen.at(-1)!.body)).toMatchObject({ connection: 'sales', sql: 'select 1 as one\n', params: [] });
    expect(c.out()).toBe(' one\n-----\n   1\n(1 row)\n');
  });
});
