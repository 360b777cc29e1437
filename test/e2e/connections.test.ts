import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker({
    policyPatch: (p) => {
      // A rule on a partitioned parent must cover its partitions.
      p.masking.rules.push({ column: 'public.payments.card', with: 'last4' });
    },
  });
  // Set up before the first schema read: discovery caches the catalog for a minute.
  await b.db.query(`
    create table internal_notes (id int primary key, note text);            -- no grant: invisible to agents
    create table partial (id int primary key, visible text, hidden text);
    grant select (id, visible) on partial to qb_agent_read;                  -- column-level grant
    create table payments (id int, card text) partition by range (id);
    create table payments_2024 partition of payments for values from (0) to (1000);
    grant select on payments, payments_2024 to qb_agent_read;
    create view customer_cards as select id, card_number as card, upper(name) as shout from customers;
    grant select on customer_cards to qb_agent_read;
    comment on table customers is 'People who bought something';
    analyze customers;
  `);
});
afterAll(async () => b?.close());

async function get(path: string, roles: string[] | null, sub = 'conn-agent'): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (roles) headers.authorization = `Bearer ${await b.token({ sub, roles })}`;
  const res = await b.fetch(path, { headers });
  return { status: res.status, body: await res.json() };
}

describe('GET /api/connections', () => {
  it('lists the connections a read token may use, with its access level and profile', async () => {
    const r = await get('/api/connections', ['Query.Read']);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      connections: [{ name: 'sales', engine: 'postgres', access: 'read', profile: 'agent-read', maxRows: 1000, statementTimeoutMs: 5000, approval: null, maskingExempt: false }],
    });
  });

  it('gives the most capable profile, with how approval works there', async () => {
    const r = await get('/api/connections', ['Query.Read', 'Query.Write']);
    expect(r.body.connections).toEqual([expect.objectContaining({ name: 'sales', access: 'write', profile: 'agent-write', approval: { estimatedRowsOver: 10, expiresAfterMinutes: 60 } })]);
  });

  it('is empty for a token that matches no profile, and 401 without a token', async () => {
    expect((await get('/api/connections', ['Other.Role'])).body).toEqual({ connections: [] });
    const anonymous = await get('/api/connections', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('invalid_token');
  });
});

describe('GET /api/connections/{name}/schema', () => {
  it('describes the readable tables with masked columns flagged by their masker', async () => {
    const r = await get('/api/connections/sales/schema', ['Query.Read']);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ connection: 'sales', profile: 'agent-read', access: 'read', maskingExempt: false });
    expect(r.body.detectors).toEqual(expect.arrayContaining(['pan', 'email']));
    const customers = r.body.tables.find((t: { name: string }) => t.name === 'customers');
    expect(customers).toMatchObject({ schema: 'public', kind: 'table', privileges: ['select'], primaryKey: ['id'], estimatedRows: 5, comment: 'People who bought something' });
    expect(customers.columns).toEqual([
      { name: 'id', type: 'integer', nullable: false, masked: false },
      { name: 'name', type: 'text', nullable: false, masked: false },
      { name: 'email', type: 'text', nullable: false, masked: 'email' },
      { name: 'card_number', type: 'text', nullable: false, masked: 'last4' },
      { name: 'ssn', type: 'text', nullable: false, masked: 'redact' },
      { name: 'country', type: 'text', nullable: false, masked: false },
      { name: 'created_at', type: 'timestamp with time zone', nullable: false, masked: false },
    ]);
  });

  it('shows only what the profile’s database role may read: no ungranted table, only granted columns', async () => {
    const r = await get('/api/connections/sales/schema', ['Query.Read']);
    const names = r.body.tables.map((t: { name: string }) => t.name);
    expect(names).not.toContain('internal_notes');
    const partial = r.body.tables.find((t: { name: string }) => t.name === 'partial');
    expect(partial.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'visible']);
    expect(partial.privileges).toEqual([]);
  });

  it('flags a partition’s column by the rule on its partitioned parent', async () => {
    const r = await get('/api/connections/sales/schema', ['Query.Read']);
    const partition = r.body.tables.find((t: { name: string }) => t.name === 'payments_2024');
    expect(partition.columns.find((c: { name: string }) => c.name === 'card').masked).toBe('last4');
    const parent = r.body.tables.find((t: { name: string }) => t.name === 'payments');
    expect(parent.kind).toBe('partitioned table');
  });

  it('flags a view’s column that carries a masked base column, whatever its name', async () => {
    const r = await get('/api/connections/sales/schema?table=customer_cards', ['Query.Read']);
    expect(r.body.tables[0]).toMatchObject({ kind: 'view', privileges: ['select'] });
    const cols = Object.fromEntries(r.body.tables[0].columns.map((c: { name: string; masked: unknown }) => [c.name, c.masked]));
    expect(cols.id).toBe(false);
    expect(cols.card).toEqual(expect.any(String));
    expect(cols.shout).toBe(false);
  });

  it('reports write privileges to a write profile', async () => {
    const r = await get('/api/connections/sales/schema?table=orders', ['Query.Read', 'Query.Write'], 'conn-writer');
    expect(r.body.tables).toHaveLength(1);
    expect(r.body.tables[0]).toMatchObject({ name: 'orders', privileges: ['select', 'insert', 'update', 'delete'] });
  });

  it('shows nothing masked to an identity exempt from masking', async () => {
    const r = await get('/api/connections/sales/schema?schema=public&table=customers', ['Query.Read', 'PII.Read'], 'conn-pii');
    expect(r.body.maskingExempt).toBe(true);
    expect(r.body.tables[0].columns.every((c: { masked: unknown }) => c.masked === false)).toBe(true);
  });

  it('refuses an unknown connection and a token without a profile, with reason codes', async () => {
    const unknown = await get('/api/connections/nope/schema', ['Query.Read']);
    expect(unknown.status).toBe(403);
    expect(unknown.body.error.reasons[0].code).toBe('unknown_connection');
    const noProfile = await get('/api/connections/sales/schema', ['Other.Role']);
    expect(noProfile.status).toBe(403);
    expect(noProfile.body.error.reasons[0].code).toBe('no_matching_profile');
  });
});
