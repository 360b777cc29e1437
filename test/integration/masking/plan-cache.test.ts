import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import type { Cell, Queryable, ResultField } from '../../../src/db/types.js';
import { applyMasking, createColumnCatalog, planMasking, prepareOrigins, type ColumnCatalog, type MaskingPolicyInput } from '../../../src/masking/index.js';

const POLICY: MaskingPolicyInput = { rules: [{ column: 'public.customers.ssn', with: 'redact' }], detectors: [], exempt: false };

let db: TestDatabase;
let client: pg.Client;
let queries = 0;
/** runs once before the next catalog query (to land DDL "while" the catalog looks something up) */
let beforeNextQuery: (() => Promise<void>) | undefined;
const counting: Queryable = {
  query: async (text, values) => {
    queries++;
    const hook = beforeNextQuery;
    beforeNextQuery = undefined;
    const result = (await client.query(text, values)).rows;
    if (hook) await hook();
    return { rows: result };
  },
};

beforeAll(async () => {
  await loadSqlParser();
  db = await createDemoDatabase('qbplan');
  client = new pg.Client({ connectionString: db.brokerUrl });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** Plan `sql`, run it, mask the result: what the agent would see. */
async function seen(sql: string, catalog: ColumnCatalog): Promise<{ masked: (string | false)[]; rows: Cell[][] }> {
  const plan = await planMasking(analyzeSql(sql), POLICY, catalog);
  // Run as the database owner (views made here are not granted to the broker's role); names are unique.
  const r = await db.query(sql);
  const fields: ResultField[] = r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID, columnID: f.columnID }));
  const rows: Cell[][] = r.rows.map((row: Record<string, unknown>) => fields.map((f) => (row[f.name] === null ? null : String(row[f.name]))));
  await prepareOrigins(plan, fields);
  const out = applyMasking(plan, fields, rows);
  return { masked: out.columns.map((c) => c.masked), rows: out.rows };
}

describe('cached masking plans on a real catalog', () => {
  it('recomputes the plan after invalidate() when a view starts to expose a masked column', async () => {
    await db.query('create view plan_cache_contacts as select id, name as label from customers');
    const catalog = createColumnCatalog(counting);
    const sql = 'select id, label from plan_cache_contacts order by id limit 1';
    expect((await seen(sql, catalog)).masked).toEqual([false, false]);
    const before = queries;
    await seen(sql, catalog);
    expect(queries - before, 'a repeated statement costs no catalog query').toBe(0);

    // Same column name and type, now drawn from the masked column.
    await db.query('create or replace view plan_cache_contacts as select id, ssn as label from customers');
    catalog.invalidate();
    const after = await seen(sql, catalog);
    expect(after.masked).toEqual([false, 'redact']);
    const { rows: planted } = await db.query<{ ssn: string }>('select ssn from customers where ssn is not null');
    for (const { ssn } of planted) expect(JSON.stringify(after.rows)).not.toContain(ssn);
  });

  it('recomputes the plan once the catalog TTL expires, without invalidate()', async () => {
    await db.query('create view plan_cache_ttl as select id, name as label from customers');
    let now = 0;
    const catalog = createColumnCatalog(counting, { ttlMs: 1000, now: () => now });
    const sql = 'select id, label from plan_cache_ttl order by id limit 1';
    expect((await seen(sql, catalog)).masked).toEqual([false, false]);
    await db.query('create or replace view plan_cache_ttl as select id, ssn as label from customers');
    now = 500;
    expect((await seen(sql, catalog)).masked, 'within the TTL the catalog answer (and plan) stands').toEqual([false, false]);
    now = 1500;
    expect((await seen(sql, catalog)).masked).toEqual([false, 'redact']);
  });

  it('moves the generation on invalidate() and on TTL expiry, and only then', async () => {
    let now = 0;
    const catalog = createColumnCatalog(counting, { ttlMs: 1000, now: () => now });
    const g0 = catalog.generation;
    await catalog.relationsByName([{ name: 'customers' }]);
    await catalog.functions([{ name: 'lower' }]);
    now = 900;
    await catalog.relationsByName([{ name: 'orders' }]);
    expect(catalog.generation).toBe(g0);
    catalog.invalidate();
    const g1 = catalog.generation;
    expect(g1).toBeGreaterThan(g0);
    now = 1000;
    await catalog.relationsByName([{ name: 'customers' }]); // first answer of the new epoch
    now = 1900;
    expect(catalog.generation).toBe(g1);
    now = 2001;
    expect(catalog.generation).toBeGreaterThan(g1);
  });

  it('does not keep answers fetched while the catalog was invalidated', async () => {
    const catalog = createColumnCatalog(counting);
    await db.query('create table plan_cache_race (id int, secret text)');
    // DDL after the name was resolved but before the answer is stored: the pipeline invalidates.
    beforeNextQuery = async () => {
      await db.query('drop table plan_cache_race; create table plan_cache_race (id int, ssn_copy text)');
      catalog.invalidate();
    };
    await catalog.relationsByName([{ name: 'plan_cache_race' }]);
    const fresh = await catalog.relationsByName([{ name: 'plan_cache_race' }]);
    expect(fresh.get('plan_cache_race')?.columns.map((c) => c.name)).toEqual(['id', 'ssn_copy']);
  });
});
