import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import type { Queryable } from '../../../src/db/types.js';
import { createColumnCatalog, planMasking, type MaskingPolicyInput } from '../../../src/masking/index.js';

const POLICY: MaskingPolicyInput = { rules: [{ column: 'public.customers.ssn', with: 'redact' }], detectors: [], exempt: false };

let db: TestDatabase;
let client: pg.Client;
let queries = 0;
const counting: Queryable = {
  query: async (text, values) => {
    queries++;
    return { rows: (await client.query(text, values)).rows };
  },
};

beforeAll(async () => {
  await loadSqlParser();
  db = await createDemoDatabase('qbcat');
  client = new pg.Client({ connectionString: db.brokerUrl });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('column catalog', () => {
  it('resolves names as the server does and caches the answers', async () => {
    const catalog = createColumnCatalog(counting);
    const sql = 'select c.ssn, o.amount_cents from customers c join orders o on o.customer_id = c.id';
    const first = await planMasking(analyzeSql(sql), POLICY, catalog);
    expect(first.maskedInReach).toBe(true);
    const afterFirst = queries;
    expect(afterFirst).toBeGreaterThan(0);
    await planMasking(analyzeSql(sql), POLICY, catalog);
    expect(queries).toBe(afterFirst);
    catalog.invalidate();
    await planMasking(analyzeSql(sql), POLICY, catalog);
    expect(queries).toBeGreaterThan(afterFirst);
  });

  it('expires entries after the TTL so DDL made elsewhere is seen', async () => {
    let now = 0;
    const catalog = createColumnCatalog(counting, { ttlMs: 1000, now: () => now });
    const rels = await catalog.relationsByName([{ name: 'renamed_later' }]);
    expect(rels.get('renamed_later')).toBeNull();
    await db.query('create table renamed_later (x int)');
    expect((await catalog.relationsByName([{ name: 'renamed_later' }])).get('renamed_later')).toBeNull();
    now = 2000;
    expect((await catalog.relationsByName([{ name: 'renamed_later' }])).get('renamed_later')?.columns.map((c) => c.name)).toEqual(['x']);
  });

  it('tells built-in functions from user functions and finds set-returning ones', async () => {
    await db.query("create function public.upper_user(t text) returns text language sql immutable as 'select upper(t)'");
    const catalog = createColumnCatalog(counting);
    const facts = await catalog.functions([{ name: 'upper' }, { name: 'unnest' }, { name: 'upper_user' }, { schema: 'pg_catalog', name: 'lower' }, { name: 'no_such_function' }]);
    expect(facts.get('upper')).toEqual({ builtin: true, setReturning: false });
    expect(facts.get('unnest')?.setReturning).toBe(true);
    expect(facts.get('upper_user')?.builtin).toBe(false);
    expect(facts.get('pg_catalog.lower')?.builtin).toBe(true);
    expect(facts.get('no_such_function')?.builtin).toBe(false);
  });

  it('names types the builtin table does not know', async () => {
    await db.query("create type mood as enum ('ok')");
    const { rows } = await db.query<{ oid: string }>("select 'mood'::regtype::oid::text as oid");
    const catalog = createColumnCatalog(counting);
    expect((await catalog.typeNames([Number(rows[0]!.oid), 25])).get(Number(rows[0]!.oid))).toBe('mood');
  });
});

describe('schema flags', () => {
  it('flags masked columns of a table and of a view over it', async () => {
    await db.query('create view ssn_view as select id, ssn as tax_id from customers; grant select on ssn_view to qb_agent_read');
    const { maskedColumnsOf } = await import('../../../src/masking/index.js');
    const catalog = createColumnCatalog(counting);
    expect(await maskedColumnsOf({ schema: 'public', name: 'customers' }, POLICY, catalog)).toEqual([
      { name: 'id', masked: false }, { name: 'name', masked: false }, { name: 'email', masked: false }, { name: 'card_number', masked: false },
      { name: 'ssn', masked: 'redact' }, { name: 'country', masked: false }, { name: 'created_at', masked: false },
    ]);
    expect(await maskedColumnsOf({ schema: 'public', name: 'ssn_view' }, POLICY, catalog)).toEqual([{ name: 'id', masked: false }, { name: 'tax_id', masked: 'redact' }]);
  });
});
