/**
 * Every answer of the MCP tools tells the agent the truth (issue 15): the same codes as REST, and
 * hints that name MCP tools, one per reason.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;
const clients: Client[] = [];

beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await b?.close();
});

async function connect(roles: string[], sub = 'mcp-answers'): Promise<Client> {
  const token = await b.token({ sub, roles, name: `MCP ${sub}` });
  const client = new Client({ name: 'answers-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${b.url}/api/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ isError: boolean; body: any }> {
  const r = await client.callTool({ name, arguments: args });
  const text = (r.content as { text: string }[]).map((c) => c.text).join('\n');
  return { isError: r.isError === true, body: r.structuredContent ?? JSON.parse(text) };
}

const orders = async () => (await b.db.query('select count(*)::int as n, sum(amount_cents)::text as s from orders')).rows[0];

describe('MCP run_query: wrong requests and refusals say what to change, naming MCP tools', () => {
  it('a wrong number of params is invalid_request with the counts, not a dependency outage', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'select $1::int + $2::int', params: [1] });
    expect(r.isError).toBe(true);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toContain('The statement has 2 placeholders, 1 param given');
  });

  it('a NUL in the SQL is invalid_request', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'select 1\u0000' });
    expect(r.isError).toBe(true);
    expect(r.body.error.code).toBe('invalid_request');
  });

  it('an undefined table names the condition and points at describe_schema', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'select * from nonexistent' });
    expect(r.isError).toBe(true);
    expect(r.body.error.code).toBe('query_failed');
    expect(r.body.error.message).toMatch(/undefined table/);
    expect(r.body.error.message).not.toMatch(/masked/);
    expect(r.body.hint).toMatch(/describe_schema tool/);
    expect(r.body.hint).not.toMatch(/GET \/api/);
  });

  it('an unknown function does not exist, with close names', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'select cout(*) from orders' });
    expect(r.body.error.reasons[0].code).toBe('unknown_function');
    expect(r.body.error.message).toMatch(/does not exist.*count\(\)/);
    expect(JSON.stringify(r.body)).not.toMatch(/volatile|allow-list/);
  });

  it('a masked cast is masked_column_in_fallible_expression with its own hint', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'select card_number::bigint from customers' });
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toEqual(['masked_column_in_fallible_expression']);
    expect(r.body.hint).toMatch(/cannot fail.*describe_schema tool/);
    expect(JSON.stringify(r.body)).not.toContain('4111111111111111');
  });

  it('an unknown connection lists the usable ones and names list_connections', async () => {
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'nope', sql: 'select 1' });
    expect(r.body.error.reasons[0].code).toBe('unknown_connection');
    expect(r.body.error.connections).toEqual(['sales']);
    expect(r.body.hint).toMatch(/list_connections tool/);
  });

  it('hints differ per reason: a write on a read profile and a masked predicate get different next steps', async () => {
    const client = await connect(['Query.Read']);
    const write = await call(client, 'run_query', { connection: 'sales', sql: 'delete from orders where id = 1' });
    const predicate = await call(client, 'run_query', { connection: 'sales', sql: "select id from customers where ssn = '1'" });
    expect(write.body.error.reasons[0].code).toBe('write_on_read_only_profile');
    expect(predicate.body.error.reasons[0].code).toBe('masked_column_in_predicate');
    expect(write.body.hint).not.toBe(predicate.body.hint);
    expect(predicate.body.hint).toMatch(/unmasked columns/);
  });
});

describe('MCP approvals: the link to hand to a human; dry runs hold nothing', () => {
  it('the pending result and get_request_status carry approvalUrl; nothing changed', async () => {
    const before = await orders();
    const client = await connect(['Query.Read', 'Query.Write'], 'mcp-answers-writer');
    const r = await call(client, 'run_query', { connection: 'sales', sql: 'delete from orders' });
    expect(r.isError).toBe(false);
    expect(r.body.decision).toBe('pending_approval');
    expect(r.body.approvalUrl).toBe(`${b.url}/api/approvals/${r.body.requestId}`);
    expect(r.body.estimatedRows).toBe(50);
    const status = await call(client, 'get_request_status', { requestId: r.body.requestId });
    expect(status.body.state).toBe('pending_approval');
    expect(status.body.approvalUrl).toBe(r.body.approvalUrl);
    expect(await orders()).toEqual(before);
  });

  it('a dry run of a held write answers would_need_approval, no request, nothing about waiting', async () => {
    const client = await connect(['Query.Read', 'Query.Write'], 'mcp-answers-writer');
    const r = await call(client, 'run_query', { connection: 'sales', sql: 'delete from orders', dryRun: true });
    expect(r.isError).toBe(false);
    expect(r.body).toMatchObject({ decision: 'would_need_approval', executed: false, estimatedRows: 50 });
    expect(r.body.reasons[0].code).toBe('delete_without_where');
    expect(r.body.requestId).toBeUndefined();
    expect(JSON.stringify(r.body)).not.toMatch(/waiting|get_request_status|pending/i);
  });
});

describe('MCP describe_schema', () => {
  it('lists primary keys, foreign keys and row estimates; an unknown connection names list_connections', async () => {
    const client = await connect(['Query.Read']);
    const r = await call(client, 'describe_schema', { connection: 'sales', table: 'orders' });
    const t = r.body.tables[0];
    expect(t).toMatchObject({ name: 'orders', primaryKey: ['id'], estimatedRows: 50 });
    expect(t.foreignKeys).toEqual([{ columns: ['customer_id'], references: { schema: 'public', table: 'customers', columns: ['id'] } }]);
    const bad = await call(client, 'describe_schema', { connection: 'nope' });
    expect(bad.isError).toBe(true);
    expect(bad.body.hint).toMatch(/list_connections/);
  });
});
