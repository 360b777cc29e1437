import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { estimateAffectedRows as estimateAnalysed } from '../../../src/sql/estimate.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import type { Queryable } from '../../../src/db/types.js';

let db: TestDatabase;
let client: pg.Client;
/** A read-only transaction, as the pipeline is told to use for estimates. */
let readOnly: Queryable;

beforeAll(async () => {
  await loadSqlParser();
  db = await createDemoDatabase('qbestimate');
  await db.query(`create table big (id int primary key, v int)`);
  await db.query(`insert into big select g, g % 10 from generate_series(1, 5000) g`);
  await db.query(`analyze big`);
  await db.query(`analyze orders`);
  client = new pg.Client({ connectionString: db.adminUrl });
  await client.connect();
  await client.query('begin transaction read only');
  readOnly = { query: async (text, values) => ({ rows: (await client.query(text, values)).rows as never[] }) };
});

afterAll(async () => {
  await client?.query('rollback').catch(() => undefined);
  await client?.end();
  await db?.drop();
});

/** As the pipeline calls it: with the statement's one analysis. */
async function estimateAffectedRows(q: Queryable, sql: string, params: unknown[]): Promise<number> {
  return estimateAnalysed(q, analyzeSql(sql), sql, params);
}

async function countBig(): Promise<number> {
  return Number((await db.query<{ n: string }>('select count(*)::text as n from big')).rows[0]!.n);
}

describe('estimateAffectedRows (EXPLAIN, never executed)', () => {
  it('estimates a DELETE without WHERE as the whole table and deletes nothing', async () => {
    const rows = await estimateAffectedRows(readOnly, 'delete from big', []);
    expect(rows).toBeGreaterThan(4000);
    expect(await countBig()).toBe(5000);
  });

  it('estimates a keyed UPDATE as one row, with bound parameters', async () => {
    expect(await estimateAffectedRows(readOnly, 'update big set v = $1 where id = $2', [7, 42])).toBe(1);
    expect((await db.query('select v from big where id = 42')).rows[0]).toEqual({ v: 2 });
  });

  it('uses the planner selectivity for a range', async () => {
    const rows = await estimateAffectedRows(readOnly, 'update big set v = 0 where id <= 2500', []);
    expect(rows).toBeGreaterThan(1500);
    expect(rows).toBeLessThan(3500);
  });

  it('counts INSERT … SELECT and MERGE', async () => {
    expect(await estimateAffectedRows(readOnly, 'insert into big select id + 10000, v from big', [])).toBeGreaterThan(4000);
    expect(await estimateAffectedRows(readOnly, 'merge into big b using (select 1 as id) s on b.id = s.id when matched then delete', [])).toBe(1);
    expect(await countBig()).toBe(5000);
  });

  it('sees writes inside data-modifying CTEs', async () => {
    const rows = await estimateAffectedRows(readOnly, 'with d as (delete from big returning id) select count(*) from d', []);
    expect(rows).toBeGreaterThan(4000);
    expect(await countBig()).toBe(5000);
  });

  it('estimates the statement under EXPLAIN ANALYZE without running it', async () => {
    const rows = await estimateAffectedRows(readOnly, 'explain (analyze, costs off) /* é */ delete from big where v = 3', []);
    expect(rows).toBeGreaterThan(100);
    expect(await countBig()).toBe(5000);
  });

  it('refuses statements it is not meant for, and anything but exactly one statement', async () => {
    await expect(estimateAffectedRows(readOnly, 'drop table big', [])).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(estimateAffectedRows(readOnly, 'delete from big; drop table big', [])).rejects.toMatchObject({ code: 'multiple_statements' });
    expect(await countBig()).toBe(5000);
  });
});
