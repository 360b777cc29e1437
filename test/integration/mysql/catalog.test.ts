import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';
import { createMysqlHandle, mysqlQueryable, type MysqlHandle } from '../../../src/engine/mysql/pools.js';
import { createMysqlCatalog } from '../../../src/engine/mysql/catalog.js';
import type { ConnectionCredentials } from '../../../src/db/credentials.js';
import type { Queryable } from '../../../src/db/types.js';

const missing = mysqlUnavailable();

describe.skipIf(missing !== undefined)('MySQL catalog over information_schema', () => {
  let my: TestMysql;
  let handle: MysqlHandle;
  let db: Queryable;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    await my.rootQuery(`
      create table customers (id int primary key, email varchar(200) not null, note text) comment = 'Customers of the shop';
      create table orders (
        id bigint primary key, customer_id int not null, total decimal(10,2),
        constraint orders_customer foreign key (customer_id) references customers (id)
      );
      create table line_items (order_id bigint, line int, primary key (order_id, line));
      insert into customers values (1, 'a@example.com', null), (2, 'b@example.com', 'vip');
      create view v_customers as select id, email from customers;
      create function fn_double(x int) returns int deterministic no sql return x * 2;
      create database other;
      create table other.shared (k int primary key, v varchar(10));
      create table other.hidden (k int primary key, secret varchar(10));
      create table other.partial (a int, b int);
      grant select on other.shared to ${my.user}@'%';
      grant select (a) on other.partial to ${my.user}@'%';
      analyze table customers;
    `);
    const credentials: ConnectionCredentials = {
      target: async () => ({ host: my.host, port: my.port, database: my.database, user: my.user, ssl: false }),
      password: async () => my.password,
      invalidate() {},
    };
    handle = await createMysqlHandle(credentials, { statementTimeoutMs: 5000, lockTimeoutMs: 1000 }, 'read', { connectionLimit: 2 });
    db = mysqlQueryable(handle);
  });

  afterAll(async () => {
    await handle?.end();
    await my?.stop();
  });

  it('describes a table with its columns in ordinal order, and a view with its definition', async () => {
    const catalog = createMysqlCatalog(db, my.database);
    expect(catalog.defaultSchema).toBe(my.database);
    expect(await catalog.relation({ name: 'customers' })).toEqual({ schema: my.database, name: 'customers', kind: 'table', columns: ['id', 'email', 'note'] });
    const view = await catalog.relation({ schema: my.database, name: 'v_customers' });
    expect(view).toMatchObject({ kind: 'view', columns: ['id', 'email'] });
    expect(view!.viewDefinition).toMatch(/`email`/);
    expect(await catalog.relation({ schema: 'other', name: 'shared' })).toMatchObject({ schema: 'other', kind: 'table', columns: ['k', 'v'] });
  });

  it('does not describe what the user holds no privilege on, or what does not exist', async () => {
    const catalog = createMysqlCatalog(db, my.database);
    expect(await catalog.relation({ schema: 'other', name: 'hidden' })).toBeUndefined();
    expect(await catalog.relation({ schema: 'mysql', name: 'user' })).toBeUndefined();
    expect(await catalog.relation({ name: 'no_such_table' })).toBeUndefined();
  });

  it('finds stored functions by case-insensitive name, and no built-ins', async () => {
    const catalog = createMysqlCatalog(db, my.database);
    const found = await catalog.routines([{ name: 'FN_DOUBLE' }, { name: 'abs' }, { schema: 'other', name: 'fn_double' }]);
    expect(found).toEqual([{ schema: my.database, name: 'fn_double', deterministic: true, dataAccess: 'NO SQL' }]);
    expect(await catalog.routines([])).toEqual([]);
  });

  it('lists the relations the user may read, with columns, keys, estimates, privileges and comments', async () => {
    const catalog = createMysqlCatalog(db, my.database);
    const listing = await catalog.schema();
    const names = listing.map((r) => `${r.schema}.${r.name}`);
    expect(names).toEqual([`other.partial`, `other.shared`, `${my.database}.customers`, `${my.database}.line_items`, `${my.database}.orders`, `${my.database}.v_customers`].sort());
    expect(names).not.toContain('other.hidden');

    const byName = new Map(listing.map((r) => [r.name, r]));
    const customers = byName.get('customers')!;
    expect(customers).toMatchObject({
      kind: 'table',
      primaryKey: ['id'],
      foreignKeys: [],
      comment: 'Customers of the shop',
      privileges: ['select', 'insert', 'update', 'delete'],
    });
    expect(customers.columns).toEqual([
      { name: 'id', type: expect.stringMatching(/^int/), nullable: false },
      { name: 'email', type: 'varchar(200)', nullable: false },
      { name: 'note', type: 'text', nullable: true },
    ]);
    expect(customers.estimatedRows).toBe(2);
    expect(byName.get('orders')!.foreignKeys).toEqual([{ columns: ['customer_id'], references: { schema: my.database, table: 'customers', columns: ['id'] } }]);
    expect(byName.get('line_items')!.primaryKey).toEqual(['order_id', 'line']);
    expect(byName.get('v_customers')).toMatchObject({ kind: 'view', estimatedRows: null });
    expect(byName.get('v_customers')!.comment).toBeUndefined();
    expect(byName.get('shared')!.privileges).toEqual(['select']);
    // A column-level grant: listed, only that column, no table-level privilege.
    expect(byName.get('partial')).toMatchObject({ privileges: [], columns: [{ name: 'a', type: expect.stringMatching(/^int/), nullable: true }] });
    expect(new Set(listing.map((r) => r.oid)).size).toBe(listing.length);
  });

  it('keeps answers for a generation: invalidate() or the TTL shows changes', async () => {
    let clock = 1_000_000;
    const catalog = createMysqlCatalog(db, my.database, { ttlMs: 60_000, now: () => clock });
    const g0 = catalog.generation;
    expect(await catalog.relation({ name: 'later' })).toBeUndefined();
    const listing = await catalog.schema();
    await my.rootQuery('create table later (x int)');
    try {
      expect(await catalog.relation({ name: 'later' })).toBeUndefined();
      expect(await catalog.schema()).toBe(listing);
      catalog.invalidate();
      expect(catalog.generation).toBeGreaterThan(g0);
      expect(await catalog.relation({ name: 'later' })).toMatchObject({ columns: ['x'] });

      await my.rootQuery('alter table later add column y int');
      const g1 = catalog.generation;
      expect((await catalog.relation({ name: 'later' }))!.columns).toEqual(['x']);
      clock += 60_000;
      expect(catalog.generation).toBeGreaterThan(g1);
      expect((await catalog.relation({ name: 'later' }))!.columns).toEqual(['x', 'y']);
      expect((await catalog.schema()).some((r) => r.name === 'later')).toBe(true);
    } finally {
      await my.rootQuery('drop table later');
    }
  });
});
