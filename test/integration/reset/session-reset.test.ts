/**
 * Nothing survives a request on a pooled connection (issue 17). The DBA's objects are planted by
 * the database owner, as a DBA might; the agent only reads them. Analysis cannot see into a
 * PL/pgSQL body, so these statements are allowed: the session reset is what keeps the pool clean.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { PoolRegistry, type PoolHandle } from '../../../src/db/pools.js';
import { executeStatement } from '../../../src/db/execute.js';
import type { ProfileConfig } from '../../../src/policy/schema.js';

const PLANT = `
  create function public.qb_take_lock(k int) returns boolean language plpgsql stable as $$
    begin return pg_try_advisory_lock(k); end $$;
  create function public.qb_set_path() returns text language plpgsql stable as $$
    begin
      perform set_config('search_path', 'pg_catalog', false);
      perform set_config('statement_timeout', '1234', false);
      perform set_config('role', session_user, false);
      return 'x';
    end $$;
  create function public.qb_listen() returns text language plpgsql volatile as $$
    begin execute 'listen qb_channel'; return 'x'; end $$;
  create view public.qb_locking_view as select id, public.qb_take_lock(731101) as locked from public.customers where id = 1;
  create view public.qb_path_view as select public.qb_set_path() as changed;
  create view public.qb_listen_view as select public.qb_listen() as listening;
  grant execute on function public.qb_take_lock(int), public.qb_set_path(), public.qb_listen() to qb_agent_read;
  grant select on public.qb_locking_view, public.qb_path_view, public.qb_listen_view to qb_agent_read;
`;

/** What the next request must see: the profile's role and start-up settings. */
const SETTINGS_SQL = `select current_user::text as "user", current_setting('search_path') as path,
  current_setting('statement_timeout') as timeout, current_setting('default_transaction_read_only') as ro`;

async function brokerAdvisoryLocks(db: TestDatabase): Promise<number> {
  const r = await db.query<{ n: number }>(
    `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and a.application_name like 'query-broker%' and a.datname = current_database()`,
  );
  return r.rows[0]!.n;
}

describe('through the broker (one connection in the pool)', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ policyPatch: (p) => (p.connections.sales.poolSize = 1) });
    await b.db.query(PLANT);
  });
  afterAll(async () => b?.close());

  it('the planted objects take a session lock and change settings (premise)', async () => {
    const c = new pg.Client({ connectionString: b.db.adminUrl });
    await c.connect();
    try {
      await c.query('select * from qb_locking_view');
      const held = await c.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()");
      expect(held.rows[0]!.n).toBe(1);
      await c.query('select * from qb_path_view');
      const changed = await c.query("select current_setting('search_path') as p, current_setting('statement_timeout') as t");
      expect(changed.rows[0]).toEqual({ p: 'pg_catalog', t: '1234ms' });
    } finally {
      await c.end();
    }
  });

  it('a view whose function takes an advisory lock: not held after the request', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select id, locked from qb_locking_view' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toHaveLength(1);
    expect(await brokerAdvisoryLocks(b.db)).toBe(0);
    // and the key is free for anyone
    const other = await b.db.query<{ got: boolean }>('select pg_try_advisory_lock(731101) as got');
    expect(other.rows[0]!.got).toBe(true);
    await b.db.query('select pg_advisory_unlock_all()');
  });

  it('a STABLE function called directly takes an advisory lock: none held after the request', async () => {
    const r = await b.query({ connection: 'sales', sql: 'select public.qb_take_lock(731102) as locked' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toHaveLength(1);
    expect(await brokerAdvisoryLocks(b.db)).toBe(0);
  });

  it('a view that calls set_config(…, false): the next request on the same pool sees the defaults', async () => {
    const before = await b.query({ connection: 'sales', sql: SETTINGS_SQL });
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.rows[0]).toEqual(['qb_agent_read', '"$user", public', '5s', 'on']);
    const changed = await b.query({ connection: 'sales', sql: `select changed, current_setting('search_path') as path, current_user::text as u from qb_path_view` });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const after = await b.query({ connection: 'sales', sql: SETTINGS_SQL });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.rows[0]).toEqual(before.body.rows[0]);
  });

});

describe('executor and pool, below the policy', () => {
  let db: TestDatabase;
  let registry: PoolRegistry;
  let handle: PoolHandle;
  const profile: ProfileConfig = {
    match: { roles: [], groups: [], oids: [] },
    connections: [],
    access: 'write',
    dbRole: 'qb_agent_read',
    maxRows: 100,
    maxResultBytes: 1_000_000,
    statementTimeoutMs: 5000,
    lockTimeoutMs: 1000,
    allowVolatile: [],
  };

  beforeAll(async () => {
    db = await createDemoDatabase();
    await db.query(PLANT);
    await db.query('create view public.qb_direct_lock as select pg_try_advisory_lock(731103) as locked; grant select on public.qb_direct_lock to qb_agent_read');
    const url = new URL(db.brokerUrl);
    registry = new PoolRegistry(
      () => ({
        target: async () => ({ host: url.hostname, port: Number(url.port), database: url.pathname.slice(1), user: decodeURIComponent(url.username), ssl: false }),
        password: async () => decodeURIComponent(url.password),
        invalidate() {},
      }),
      () => 1,
    );
    handle = await registry.get('sales', 'reset-test', profile, 'write');
  });
  afterAll(async () => {
    await registry?.closeAll();
    await db?.drop();
  });

  const pid = async (): Promise<number> => Number((await executeStatement(handle, { sql: 'select pg_backend_pid()', params: [], maxRows: 1, mode: 'read' })).rows[0]![0]);

  it('a read that takes a lock and then fails still leaves no lock (the reset follows the Sync)', async () => {
    await expect(executeStatement(handle, { sql: 'select locked, 1 / (case when locked then 0 else 1 end) from qb_direct_lock', params: [], maxRows: 10, mode: 'read' })).rejects.toThrow(/division by zero/);
    expect(await brokerAdvisoryLocks(db)).toBe(0);
  });

  it('a write that takes a lock leaves none, and a later read sees the start-up settings', async () => {
    const first = await pid();
    const w = await executeStatement(handle, { sql: 'select locked, public.qb_set_path() from qb_direct_lock', params: [], maxRows: 10, mode: 'write' });
    expect(w.rows[0]![0]).toBe('t');
    expect(await brokerAdvisoryLocks(db)).toBe(0);
    const r = await executeStatement(handle, { sql: SETTINGS_SQL, params: [], maxRows: 1, mode: 'read' });
    expect(r.rows[0]).toEqual(['qb_agent_read', '"$user", public', '5s', 'off']);
    expect(await pid()).toBe(first); // the same connection, reset (not replaced)
  });

  it('a LISTEN made by a function: the connection listens to nothing after the request', async () => {
    await executeStatement(handle, { sql: 'select public.qb_listen()', params: [], maxRows: 1, mode: 'write' });
    const channels = await executeStatement(handle, { sql: 'select count(*) from pg_listening_channels()', params: [], maxRows: 1, mode: 'read' });
    expect(channels.rows).toEqual([['0']]);
  });

  it('a reset that fails destroys the connection: it is never reused', async () => {
    const first = await pid();
    // A transaction left open: DISCARD ALL refuses to run inside it, so the reset fails.
    await executeStatement(handle, { sql: 'begin', params: [], maxRows: 1, mode: 'write' });
    const next = await pid();
    expect(next).not.toBe(first);
    const gone = await db.query('select 1 from pg_stat_activity where pid = $1', [first]);
    expect(gone.rows).toEqual([]);
  });

  it('pool.query users (catalog look-ups, row estimates) are reset too, and a failed reset destroys the connection', async () => {
    await handle.pool.query('select pg_try_advisory_lock(731104)');
    expect(await brokerAdvisoryLocks(db)).toBe(0);
    const first = await pid();
    await handle.pool.query('begin');
    const r = await handle.pool.query<{ pid: number }>('select pg_backend_pid() as pid');
    expect(r.rows[0]!.pid).not.toBe(first);
    expect((await db.query('select 1 from pg_stat_activity where pid = $1', [first])).rows).toEqual([]);
  });
});
