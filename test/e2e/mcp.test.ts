import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

/** The planted test card of customer 1 (Luhn-valid); it must never leave the broker unmasked. */
const PLANTED_CARD = '4111111111111111';

let b: TestBroker;
const clients: Client[] = [];

beforeAll(async () => {
  b = await startTestBroker();
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await b?.close();
});

/** An MCP client of the official SDK, over Streamable HTTP, with a dev token for these roles. */
async function connect(roles: string[], sub = 'mcp-agent'): Promise<Client> {
  const token = await b.token({ sub, roles, name: `MCP ${sub}` });
  const client = new Client({ name: 'query-broker-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${b.url}/api/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

interface ToolOutcome {
  isError: boolean;
  body: any;
  text: string;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> {
  const r = await client.callTool({ name, arguments: args });
  const content = r.content as { type: string; text: string }[];
  const text = content.map((c) => c.text).join('\n');
  return { isError: r.isError === true, body: r.structuredContent ?? JSON.parse(text), text };
}

describe('MCP over Streamable HTTP: discovery', () => {
  it('lists the four tools, each with a description written for a model and an input schema', async () => {
    const client = await connect(['Query.Read']);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['describe_schema', 'get_request_status', 'list_connections', 'run_query']);
    for (const t of tools) {
      expect(t.description?.length ?? 0).toBeGreaterThan(150);
      expect(t.inputSchema.type).toBe('object');
    }
    const run = tools.find((t) => t.name === 'run_query')!;
    expect(run.inputSchema.required).toEqual(expect.arrayContaining(['connection', 'sql']));
    expect(Object.keys(run.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['params', 'sessionId', 'dryRun']));
    expect(run.description).toMatch(/pending_approval/);
    expect(run.description).toMatch(/get_request_status/);
    expect(client.getInstructions()).toMatch(/list_connections/);
  });

  it('list_connections returns what the token may use, and nothing for a token that matches no profile', async () => {
    const reader = await call(await connect(['Query.Read']), 'list_connections');
    expect(reader.isError).toBe(false);
    expect(reader.body.connections).toEqual([expect.objectContaining({ name: 'sales', access: 'read', profile: 'agent-read', maskingExempt: false })]);
    const nobody = await call(await connect(['Something.Else'], 'nobody'), 'list_connections');
    expect(nobody.body.connections).toEqual([]);
  });

  it('describe_schema flags the masked columns with their masker', async () => {
    const r = await call(await connect(['Query.Read']), 'describe_schema', { connection: 'sales', table: 'customers' });
    expect(r.isError).toBe(false);
    expect(r.body.tables).toHaveLength(1);
    const cols = Object.fromEntries(r.body.tables[0].columns.map((c: { name: string; masked: unknown }) => [c.name, c.masked]));
    expect(cols).toMatchObject({ id: false, name: false, email: 'email', card_number: 'last4', ssn: 'redact' });
  });

  it('describe_schema of an unknown connection is a tool error with its reason code and a hint', async () => {
    const r = await call(await connect(['Query.Read']), 'describe_schema', { connection: 'nope' });
    expect(r.isError).toBe(true);
    expect(r.body.error.code).toBe('policy_denied');
    expect(r.body.error.reasons[0].code).toBe('unknown_connection');
    expect(r.body.hint).toEqual(expect.any(String));
  });
});

describe('MCP over Streamable HTTP: run_query', () => {
  it('runs a read through the same pipeline as POST /api/query', async () => {
    const client = await connect(['Query.Read']);
    const sql = 'select id, name, country from customers where id <= $1 order by id';
    const r = await call(client, 'run_query', { connection: 'sales', sql, params: [2] });
    expect(r.isError).toBe(false);
    expect(r.body).toMatchObject({ decision: 'allowed', executed: true, rowCount: 2, truncated: false });
    expect(r.body.rows).toEqual([
      [1, 'Ada Lovelace', 'GB'],
      [2, 'Alan Turing', 'GB'],
    ]);
    const rest = await b.query({ connection: 'sales', sql, params: [2] });
    expect(r.body.columns).toEqual(rest.body.columns);
    expect(r.body.rows).toEqual(rest.body.rows);
  });

  it('returns masked values: the planted card number never appears, even under an alias', async () => {
    const client = await connect(['Query.Read']);
    for (const sql of ['select id, card_number, email from customers where id = 1', 'select card_number as harmless from customers order by id']) {
      const r = await call(client, 'run_query', { connection: 'sales', sql });
      expect(r.isError).toBe(false);
      expect(r.text).not.toContain(PLANTED_CARD);
      expect(JSON.stringify(r.body)).not.toContain(PLANTED_CARD);
      const cardColumn = r.body.columns.find((c: { name: string }) => c.name === 'card_number' || c.name === 'harmless');
      expect(cardColumn.masked).not.toBe(false);
    }
  });

  it('keeps calls in one recorded session when the agent passes the sessionId back', async () => {
    const client = await connect(['Query.Read'], 'mcp-session-agent');
    const first = await call(client, 'run_query', { connection: 'sales', sql: 'select 1 as one' });
    const second = await call(client, 'run_query', { connection: 'sales', sql: 'select 2 as two', sessionId: first.body.sessionId });
    expect(second.body.sessionId).toBe(first.body.sessionId);
    const events = await b.audit.read(first.body.sessionId);
    expect(new Set(events.map((e) => e.requestId))).toEqual(new Set([first.body.requestId, second.body.requestId]));
    expect(events.every((e) => e.actor.oid === 'dev-mcp-session-agent')).toBe(true);
  });

  it('refuses a write for a read profile as a tool error with the reason code, and the table is unchanged', async () => {
    const before = await b.db.query('select sum(amount_cents)::bigint as s from orders');
    const r = await call(await connect(['Query.Read']), 'run_query', { connection: 'sales', sql: 'update orders set amount_cents = 0 where id = 1' });
    expect(r.isError).toBe(true);
    expect(r.body.decision).toBe('denied');
    expect(r.body.error.code).toBe('policy_denied');
    expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('write_on_read_only_profile');
    expect(r.body.requestId).toMatch(/^r_/);
    expect(r.body.hint).toMatch(/read-only.*list_connections tool/);
    expect((await b.db.query('select sum(amount_cents)::bigint as s from orders')).rows).toEqual(before.rows);
  });

  it('reports a parse error and a second statement with their codes', async () => {
    const client = await connect(['Query.Read']);
    const parse = await call(client, 'run_query', { connection: 'sales', sql: 'selec 1' });
    expect(parse.isError).toBe(true);
    expect(parse.body.error.code).toBe('sql_parse_error');
    const two = await call(client, 'run_query', { connection: 'sales', sql: 'select 1; select 2' });
    expect(two.body.error.code).toBe('multiple_statements');
    expect(two.body.hint).toMatch(/one statement/);
  });

  it('answers a write that needs a human with the pending state; after approval, get_request_status returns the result', async () => {
    const client = await connect(['Query.Read', 'Query.Write'], 'mcp-writer');
    const r = await call(client, 'run_query', { connection: 'sales', sql: "update orders set status = 'mcp-test'" });
    expect(r.isError).toBe(false);
    expect(r.body).toMatchObject({ decision: 'pending_approval', requestId: expect.stringMatching(/^r_/), sqlHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.body.reasons.map((x: { code: string }) => x.code)).toContain('update_without_where');
    expect(r.body.next).toMatch(/get_request_status/);

    const pending = await call(client, 'get_request_status', { requestId: r.body.requestId });
    expect(pending.isError).toBe(false);
    expect(pending.body).toMatchObject({ requestId: r.body.requestId, state: 'pending_approval', sqlHash: r.body.sqlHash });
    expect(pending.body.next).toMatch(/again/);
    // Nothing ran before a human decided.
    expect((await b.db.query("select count(*)::int as n from orders where status = 'mcp-test'")).rows[0]!.n).toBe(0);

    const approver = await b.token({ sub: 'mcp-approver', roles: ['Query.Approve'], idtyp: 'user' });
    const decided = await b.fetch(`/api/approvals/${r.body.requestId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${approver}` },
      body: JSON.stringify({ decision: 'approve', sqlHash: r.body.sqlHash }),
    });
    expect(decided.status).toBe(200);

    let status = pending;
    for (let i = 0; i < 100 && !['executed', 'failed', 'rejected', 'expired'].includes(status.body.state); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await call(client, 'get_request_status', { requestId: r.body.requestId });
    }
    expect(status.body.state).toBe('executed');
    expect(status.body.result.rowCount).toBe(50);
    expect(status.body.next).toMatch(/^Final/);
    expect((await b.db.query("select count(*)::int as n from orders where status = 'mcp-test'")).rows[0]!.n).toBe(50);
  });

  it('get_request_status of someone else’s request is a tool error (not found), never its SQL', async () => {
    const writer = await connect(['Query.Read', 'Query.Write'], 'mcp-writer-2');
    const r = await call(writer, 'run_query', { connection: 'sales', sql: 'delete from orders' });
    expect(r.body.decision).toBe('pending_approval');
    const stranger = await call(await connect(['Query.Read'], 'mcp-stranger'), 'get_request_status', { requestId: r.body.requestId });
    expect(stranger.isError).toBe(true);
    expect(stranger.body.error.code).toBe('not_found');
    expect(stranger.text).not.toContain('delete from orders');
  });

  it('a dry run reports the approval a write would need without running it', async () => {
    const client = await connect(['Query.Read', 'Query.Write'], 'mcp-writer');
    const r = await call(client, 'run_query', { connection: 'sales', sql: "update orders set status = 'dry'", dryRun: true });
    expect(r.isError).toBe(false);
    expect(r.body).toMatchObject({ decision: 'would_need_approval', executed: false });
    expect(r.body.requestId).toBeUndefined();
    expect((await b.db.query("select count(*)::int as n from orders where status = 'dry'")).rows[0]!.n).toBe(0);
  });
});

describe('MCP over Streamable HTTP: transport and authentication', () => {
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  it('refuses a request without a token with 401 and points at the protected resource metadata', async () => {
    const res = await b.fetch('/api/mcp', { method: 'POST', headers, body: JSON.stringify(initialize) });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${b.url}/api/.well-known/oauth-protected-resource`);
    const metadata = await (await fetch(metadataUrl!)).json();
    expect(metadata).toMatchObject({ resource: 'api://query-broker', authorization_servers: [b.devIssuer.issuer], bearer_methods_supported: ['header'] });
  });

  it('the SDK client fails to connect with a bad token', async () => {
    const client = new Client({ name: 'bad', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${b.url}/api/mcp`), { requestInit: { headers: { Authorization: 'Bearer not-a-token' } } });
    await expect(client.connect(transport)).rejects.toThrow();
  });

  it('is stateless: JSON answers, no session id, no server-sent stream', async () => {
    const token = await b.token({ sub: 'raw', roles: ['Query.Read'] });
    const res = await b.fetch('/api/mcp', { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: JSON.stringify(initialize) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    const body = await res.json();
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'query-broker' }, capabilities: { tools: {} } } });
    const get = await b.fetch('/api/mcp', { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});
