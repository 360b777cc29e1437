/** The PostgreSQL engine behind the Engine interface, against the run's real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { engineFor, type EnginePools } from '../../../src/engine/index.js';
import { ConnectionConfig, ProfileConfig } from '../../../src/policy/schema.js';
import { createConnectionCredentials } from '../../../src/db/credentials.js';

const engine = engineFor('postgres');
const readProfile = ProfileConfig.parse({ match: {}, connections: ['c'], access: 'read' });
let db: TestDatabase;
let pools: EnginePools<unknown>;

beforeAll(async () => {
  await engine.ready();
  db = await createDemoDatabase('qbengine');
  process.env.QB_ENGINE_TEST_URL = db.adminUrl;
  const config = ConnectionConfig.parse({ credentials: { env: 'QB_ENGINE_TEST_URL' } });
  const secrets = { getSecret: async () => '', invalidate: () => {} };
  pools = engine.createPools(() => createConnectionCredentials(config, { secrets }), () => 2, () => config);
});

afterAll(async () => {
  await pools?.closeAll();
  delete process.env.QB_ENGINE_TEST_URL;
  await db?.drop();
});

describe('postgres engine', () => {
  it('analyzes one statement and refuses two', () => {
    const a = engine.analyze('update orders set status = $1 where id = $2');
    expect(a).toMatchObject({ command: 'UpdateStmt', kind: 'write', needsRowEstimate: true });
    expect(a.reach.relations).toEqual([{ name: 'orders' }]);
    expect(() => engine.analyze('select 1; select 2')).toThrow(expect.objectContaining({ code: 'multiple_statements' }));
    expect(() => engine.checkParams('select $1, $2', [1])).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it("maps the server's refusal to its SQLSTATE and tells it apart from an unreachable server", async () => {
    const client = new pg.Client({ connectionString: db.adminUrl });
    await client.connect();
    try {
      const refusal = await client.query('select * from no_such_table').catch((e: unknown) => e);
      const info = engine.databaseError(refusal);
      expect(info).toMatchObject({ sqlstate: '42P01' });
      expect(engine.isUnavailable(info!)).toBe(false);
    } finally {
      await client.end();
    }
    const refused = await new pg.Client({ connectionString: db.adminUrl.replace(/\/[^/]*$/, '/qb_no_such_database') }).connect().catch((e: unknown) => e);
    const unreachable = engine.databaseError(refused);
    expect(unreachable).toMatchObject({ sqlstate: '3D000' });
    expect(engine.isUnavailable(unreachable!)).toBe(true);
    expect(engine.databaseError(new Error('socket hang up'))).toBeUndefined();
  });

  it('estimates a write from its analysis without running it, and quotes identifiers', async () => {
    const sql = "update orders set status = 'x' where id <= 3";
    const handle = await pools.get('c', 'reader', readProfile, 'read');
    const rows = await engine.estimateAffectedRows(handle, engine.analyze(sql), sql, []);
    expect(rows).toBeGreaterThan(0);
    expect((await db.query(`select count(*)::int as n from orders where status = 'x'`)).rows[0]!.n).toBe(0);
    expect(engine.quoteQualified({ schema: 'we"ird', name: 'T' })).toBe('"we""ird"."T"');
  });

  it('creates one catalog per role that lists what the role may read', async () => {
    const catalog = engine.createCatalog(pools, 'c', 'qb_agent_read');
    expect((await catalog.schema()).map((r) => r.name)).toEqual(expect.arrayContaining(['customers', 'orders']));
  });
});
