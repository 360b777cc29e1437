/**
 * Every answer of `qb` tells the agent the truth (issue 15): exit codes, the broker's codes and
 * words, next steps named as qb commands, and the discovery commands. The CLI runs in-process
 * (runCli with captured output) against a real broker on a socket.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { runCli } from '../../src/cli/run.js';

let b: TestBroker;
let reader: string;
let writer: string;
let auditor: string;

beforeAll(async () => {
  b = await startTestBroker();
  reader = await b.token({ sub: 'cli-answers', roles: ['Query.Read'] });
  writer = await b.token({ sub: 'cli-answers-writer', roles: ['Query.Read', 'Query.Write'] });
  auditor = await b.token({ sub: 'cli-answers-auditor', roles: ['Audit.Read'], idtyp: 'user' });
});
afterAll(async () => b?.close());

async function qb(args: string[], token: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    env: { QB_URL: b.url, QB_TOKEN: token },
    readStdin: async () => '',
  });
  return { code, stdout, stderr };
}

describe('qb discovery', () => {
  it('qb connections lists what this identity may use, with its access', async () => {
    const r = await qb(['connections'], reader);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sales\s+\|\s+read\s+\|\s+agent-read/);
    expect(r.stdout).toContain('(1 connection)');
  });

  it('qb schema flags masked columns and shows keys and row estimates', async () => {
    const r = await qb(['schema', 'sales'], reader);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/public\.customers \(table, ~5 rows\)/);
    expect(r.stdout).toMatch(/card_number\s+text not null\s+MASKED \(last4\)/);
    expect(r.stdout).toMatch(/public\.orders \(table, ~50 rows\)\n\s+primary key \(id\)\n\s+foreign key \(customer_id\) → public\.customers \(id\)/);
    expect(r.stdout).not.toContain('4111111111111111');
  });

  it('qb schema of an unknown connection exits 1 and names qb connections', async () => {
    const r = await qb(['schema', 'nope'], reader);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/qb connections/);
  });
});

describe('qb query: refusals with the broker\'s words and a next step in qb commands', () => {
  it('a wrong number of params exits 1 with the counts and the --param fix', async () => {
    const r = await qb(['query', '-c', 'sales', 'select $1::int + $2::int', '--param', '1'], reader);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('qb: invalid_request: The statement has 2 placeholders, 1 param given');
    expect(r.stderr).toMatch(/next: Give one --param per placeholder/);
  });

  it('an undefined table names the condition and `qb schema sales`', async () => {
    const r = await qb(['query', '-c', 'sales', 'select * from nonexistent'], reader);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/query_failed: .*undefined table/);
    expect(r.stderr).toContain('next: Check table, column and function names and types with `qb schema sales`');
    expect(r.stderr).not.toMatch(/GET \/api/);
  });

  it('an unknown connection lists the usable ones and names `qb connections`', async () => {
    const r = await qb(['query', '-c', 'nope', 'select 1'], reader);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You may use: sales');
    expect(r.stderr).toContain('`qb connections`');
  });

  it('a dry run of a held write says it would need approval, with the estimate, and creates nothing', async () => {
    const before = (await b.db.query('select count(*)::int as n from orders')).rows[0];
    const r = await qb(['query', '-c', 'sales', 'delete from orders', '--dry-run'], writer);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^would need approval \(dry run, nothing executed, no request created\): a write statement, about 50 rows/);
    expect(r.stdout).toContain('delete_without_where');
    expect(r.stdout).not.toMatch(/qb approve|qb status/);
    expect((await b.db.query('select count(*)::int as n from orders')).rows[0]).toEqual(before);
  });

  it('a held write prints the review link for the approver', async () => {
    const r = await qb(['query', '-c', 'sales', "update orders set status = 'answers'"], writer);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`review\\s+${b.url.replace(/[.]/g, '\\.')}/api/approvals/r_\\S+`));
    expect((await b.db.query("select count(*)::int as n from orders where status = 'answers'")).rows[0]!.n).toBe(0);
  });
});

describe('qb sessions', () => {
  it('show always prints the statement, also when a reason was given; list shows counts, times and the first statement', async () => {
    const sessionId = 's_cli_answers_session';
    const first = await b.query({ connection: 'sales', sql: 'select id from orders where id = $1', params: [1], sessionId, reason: 'checking one order for the ticket' }, ['Query.Read'], 'cli-answers-rec');
    expect(first.status).toBe(200);
    const show = await qb(['sessions', 'show', sessionId], auditor);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/request\.received .* on sales reason: "checking one order for the ticket" — select id from orders where id = \$1/);

    const list = await qb(['sessions', 'list', '--oid', 'dev-cli-answers-rec'], auditor);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/events \| first\s+\| last\s+\| first statement/);
    const row = list.stdout.split('\n').find((l) => l.includes(sessionId))!;
    expect(row).toMatch(/\|\s+3\s+\|/);
    expect(row).toContain('select id from orders where id = $1');
  });
});
