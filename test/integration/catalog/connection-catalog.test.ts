/**
 * One catalog per connection and role (src/db/catalog): functions, relations and the schema listing
 * share one invalidation and one generation, against a real database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { createConnectionCatalog } from '../../../src/db/catalog/index.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import type { Queryable } from '../../../src/db/types.js';

let db: TestDatabase;
let queries = 0;
/** the admin role, counting round trips (privileges are checked for the role named to the catalog) */
const counting: Queryable = {
  async query(text, values) {
    queries += 1;
    const r = await db.query(text, values);
    return { rows: r.rows as never[] };
  },
};

beforeAll(async () => {
  await loadSqlParser();
  db = await createDemoDatabase('qbconncat');
  await db.query(`create function public.was_stable() returns int language sql stable as 'select 1'`);
});

afterAll(async () => {
  await db?.drop();
});

describe('connection catalog', () => {
  it('lists what the role may read, with keys, row estimates and only granted columns', async () => {
    await db.query(`create table secret_stuff (id int primary key, v text)`);
    await db.query(`create table partly (id int primary key, open text, closed text)`);
    await db.query(`grant select (id, open) on partly to qb_agent_read`);
    const catalog = createConnectionCatalog({ asRole: counting, asLogin: counting, role: 'qb_agent_read' });
    const listing = await catalog.schema();
    const byName = new Map(listing.map((r) => [r.name, r]));
    expect(byName.has('secret_stuff')).toBe(false);
    expect(byName.get('partly')!.columns.map((c) => c.name)).toEqual(['id', 'open']);
    expect(byName.get('partly')!.privileges).toEqual([]);
    const orders = byName.get('orders')!;
    expect(orders).toMatchObject({ schema: 'public', kind: 'table', primaryKey: ['id'], privileges: ['select'] });
    expect(orders.foreignKeys).toEqual([{ columns: ['customer_id'], references: { schema: 'public', table: 'customers', columns: ['id'] } }]);
    expect(orders.estimatedRows).toBe(50);
    // The listed relations are in the relation cache too: the masking trace needs no round trip for them.
    const before = queries;
    expect(catalog.relations.peekRelation(orders.oid)?.columns.map((c) => c.name)).toContain('customer_id');
    expect(queries).toBe(before);
  });

  it('serves the listing from its cache until one invalidate() forgets functions, relations and listing together', async () => {
    const catalog = createConnectionCatalog({ asRole: counting, asLogin: counting, role: null });
    const first = await catalog.schema();
    expect(await catalog.functions.volatileAmong([{ schema: 'public', name: 'was_stable' }])).toEqual([]);
    const generation = catalog.generation;
    const before = queries;
    expect(await catalog.schema()).toBe(first);
    expect(await catalog.functions.volatileAmong([{ schema: 'public', name: 'was_stable' }])).toEqual([]);
    expect(queries).toBe(before);

    await db.query(`create table made_later (id int)`);
    await db.query(`alter function public.was_stable() volatile`);
    // Cached: the change is not seen yet.
    expect((await catalog.schema()).some((r) => r.name === 'made_later')).toBe(false);
    expect(await catalog.functions.volatileAmong([{ schema: 'public', name: 'was_stable' }])).toEqual([]);

    catalog.invalidate();
    expect(catalog.generation).not.toBe(generation);
    expect((await catalog.schema()).some((r) => r.name === 'made_later')).toBe(true);
    expect(await catalog.functions.volatileAmong([{ schema: 'public', name: 'was_stable' }])).toEqual([{ schema: 'public', name: 'was_stable' }]);
  });

  it('keeps the listing exactly as long as the relation answers (their TTL epoch)', async () => {
    let now = 1_000_000;
    const catalog = createConnectionCatalog({ asRole: counting, asLogin: counting, role: null }, { ttlMs: 1000, now: () => now });
    const first = await catalog.schema();
    now += 500;
    expect(await catalog.schema()).toBe(first);
    now += 1000;
    expect(await catalog.schema()).not.toBe(first);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const flaky: Queryable = {
      async query(text, values) {
        if (fail) throw new Error('connection refused');
        return { rows: (await db.query(text, values)).rows as never[] };
      },
    };
    const catalog = createConnectionCatalog({ asRole: flaky, asLogin: flaky, role: null });
    await expect(catalog.schema()).rejects.toThrow('connection refused');
    fail = false;
    expect((await catalog.schema()).length).toBeGreaterThan(0);
  });
});
