import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { createFunctionCatalog } from '../../../src/db/catalog/functions.js';
import type { Queryable } from '../../../src/db/types.js';
import type { QualifiedName } from '../../../src/sql/types.js';

let db: TestDatabase;
/** Counts the catalog's round trips, to pin the cache. */
let queries = 0;
const counting: Queryable = {
  async query(text, values) {
    queries += 1;
    const r = await db.query(text, values);
    return { rows: r.rows as never[] };
  },
};

beforeAll(async () => {
  db = await createDemoDatabase('qbfncat');
  await db.query(`create schema util`);
  await db.query(`create function util.stable_fn() returns int language sql stable as 'select 1'`);
  await db.query(`create function util.volatile_fn() returns int language sql volatile as 'select 1'`);
  // A public function shadowing nothing, and one that overloads a pg_catalog name with a volatile body.
  await db.query(`create function public.my_immutable(int) returns int language sql immutable as 'select $1'`);
  await db.query(`create function public.lower(int) returns int language sql volatile as 'select $1'`);
});

afterAll(async () => {
  await db?.drop();
});

const names = (fns: QualifiedName[]): string[] => fns.map((f) => (f.schema === undefined ? f.name : `${f.schema}.${f.name}`));

describe('function catalog (pg_proc.provolatile)', () => {
  it('finds the volatile built-ins an agent abuses and passes the stable ones', async () => {
    const catalog = createFunctionCatalog(counting);
    const volatile = await catalog.volatileAmong([
      { name: 'pg_sleep' },
      { name: 'pg_terminate_backend' },
      { name: 'nextval' },
      { name: 'setval' },
      { name: 'set_config' },
      { name: 'lo_import' },
      { name: 'pg_advisory_lock' },
      { name: 'random' },
      { name: 'count' },
      { name: 'upper' },
      { name: 'now' },
      { name: 'generate_series' },
      { schema: 'pg_catalog', name: 'abs' },
      { name: 'current_setting' },
    ]);
    expect(names(volatile)).toEqual(['pg_sleep', 'pg_terminate_backend', 'nextval', 'setval', 'set_config', 'lo_import', 'pg_advisory_lock', 'random']);
  });

  it('treats unknown functions and unknown schemas as volatile (fail closed)', async () => {
    const catalog = createFunctionCatalog(counting);
    const volatile = await catalog.volatileAmong([{ name: 'no_such_function' }, { schema: 'nowhere', name: 'abs' }, { name: 'PG_SLEEP' }, { name: 'abs' }]);
    expect(names(volatile)).toEqual(['no_such_function', 'nowhere.abs', 'PG_SLEEP']);
  });

  it('looks up names that need quoting without breaking the query', async () => {
    const catalog = createFunctionCatalog(counting);
    const odd = [{ name: 'we"ird,{name}\\' }, { schema: 'a"b', name: "it's" }];
    expect(await catalog.volatileAmong(odd)).toEqual(odd);
  });

  it('resolves qualified names in their schema only', async () => {
    const catalog = createFunctionCatalog(counting);
    const volatile = await catalog.volatileAmong([{ schema: 'util', name: 'stable_fn' }, { schema: 'util', name: 'volatile_fn' }]);
    expect(names(volatile)).toEqual(['util.volatile_fn']);
  });

  it('resolves unqualified names along the search path, not in other schemas', async () => {
    const catalog = createFunctionCatalog(counting);
    // util is not on the default search_path: an unqualified call could not reach it.
    const volatile = await catalog.volatileAmong([{ name: 'stable_fn' }, { name: 'my_immutable' }]);
    expect(names(volatile)).toEqual(['stable_fn']);
  });

  it('counts a name as volatile when any overload on the path is volatile', async () => {
    const catalog = createFunctionCatalog(counting);
    // pg_catalog.lower is immutable, but public.lower(int) is volatile and `lower(1)` would pick it.
    expect(names(await catalog.volatileAmong([{ name: 'lower' }]))).toEqual(['lower']);
    expect(names(await catalog.volatileAmong([{ schema: 'pg_catalog', name: 'lower' }]))).toEqual([]);
  });

  it('caches look-ups per catalog and refreshes them after the TTL', async () => {
    let clock = 0;
    const catalog = createFunctionCatalog(counting, { ttlMs: 1000, now: () => clock });
    const before = queries;
    await catalog.volatileAmong([{ name: 'abs' }, { name: 'pg_sleep' }]);
    const afterFirst = queries;
    expect(afterFirst - before).toBe(2); // the names, and the search path once
    await catalog.volatileAmong([{ name: 'pg_sleep' }, { name: 'abs' }]);
    await catalog.volatileAmong([{ schema: 'pg_catalog', name: 'abs' }]);
    expect(queries).toBe(afterFirst);
    clock = 2000;
    await catalog.volatileAmong([{ schema: 'pg_catalog', name: 'abs' }]);
    expect(queries).toBe(afterFirst + 1);
  });

  it('notices a function whose volatility changed once the TTL has passed', async () => {
    let clock = 0;
    const catalog = createFunctionCatalog(counting, { ttlMs: 1000, now: () => clock });
    await db.query(`create function util.flips() returns int language sql stable as 'select 1'`);
    expect(await catalog.volatileAmong([{ schema: 'util', name: 'flips' }])).toEqual([]);
    await db.query(`alter function util.flips() volatile`);
    expect(await catalog.volatileAmong([{ schema: 'util', name: 'flips' }])).toEqual([]); // cached
    clock = 5000;
    expect(names(await catalog.volatileAmong([{ schema: 'util', name: 'flips' }]))).toEqual(['util.flips']);
  });

  it('finds the volatile function behind a user-defined operator, on the path or named by schema', async () => {
    await db.query(`create function util.op_fn(int, int) returns int language sql volatile as 'select 1'`);
    await db.query(`create operator util.#%# (leftarg = int, rightarg = int, function = util.op_fn)`);
    await db.query(`create function public.op_fn2(int, int) returns int language sql volatile as 'select 1'`);
    await db.query(`create operator public.#%# (leftarg = int, rightarg = int, function = public.op_fn2)`);
    const catalog = createFunctionCatalog(counting);
    // util is not on the search_path: an unqualified #%# can only be public's.
    expect(names(await catalog.volatileBehindOperators([{ name: '#%#' }]))).toEqual(['public.op_fn2']);
    expect(names(await catalog.volatileBehindOperators([{ schema: 'util', name: '#%#' }]))).toEqual(['util.op_fn']);
    // The server's own operators never call a volatile function.
    expect(await catalog.volatileBehindOperators([{ name: '=' }, { name: '||' }, { name: '+' }, { name: '<' }])).toEqual([]);
    const before = queries;
    expect(await catalog.volatileBehindOperators([])).toEqual([]);
    expect(queries).toBe(before);
  });

  it('judges an aggregate by its support functions (its own row always says immutable)', async () => {
    await db.query(`create function util.sum_step(int, int) returns int language sql volatile as 'select coalesce($1, 0) + $2'`);
    await db.query(`create aggregate util.vsum(int) (sfunc = util.sum_step, stype = int)`);
    await db.query(`create function util.sum_step_ok(int, int) returns int language sql immutable as 'select coalesce($1, 0) + $2'`);
    await db.query(`create aggregate util.isum(int) (sfunc = util.sum_step_ok, stype = int)`);
    const marked = await db.query(`select provolatile from pg_proc where proname = 'vsum'`);
    expect(marked.rows[0]!.provolatile).toBe('i'); // the premise
    const catalog = createFunctionCatalog(counting);
    expect(names(await catalog.volatileAmong([{ schema: 'util', name: 'vsum' }, { schema: 'util', name: 'isum' }, { name: 'sum' }]))).toEqual(['util.vsum']);
  });

  it('reports an unreachable database as dependency_unavailable', async () => {
    const broken: Queryable = {
      query: () => Promise.reject(new Error('connection refused')),
    };
    await expect(createFunctionCatalog(broken).volatileAmong([{ name: 'abs' }])).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('does not ask the database when there is nothing to look up', async () => {
    const before = queries;
    expect(await createFunctionCatalog(counting).volatileAmong([])).toEqual([]);
    expect(queries).toBe(before);
  });
});
