import pg from 'pg';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { seedDemoDatabase, demoPolicy } from '../../src/local/demo.js';
import { validatePolicy } from '../../src/policy/load.js';
import type { PolicyConfig } from '../../src/policy/schema.js';

export interface TestDatabase {
  /** superuser URL of this test's own database: for assertions on effects and for setup */
  adminUrl: string;
  /** URL of the broker's NOINHERIT login role (qb_broker) */
  brokerUrl: string;
  brokerPassword: string;
  name: string;
  /** run SQL as the superuser on this database */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

/** A fresh database seeded with the demo schema and data, on the run's real PostgreSQL. */
export async function createDemoDatabase(prefix = 'qbtest'): Promise<TestDatabase> {
  const serverUrl = inject('adminDatabaseUrl');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const brokerPassword = `bpw_${randomBytes(8).toString('hex')}`;
  const brokerUrl = await seedDemoDatabase(serverUrl, name, brokerPassword, `qb_broker_${name}`);
  const adminUrlObj = new URL(serverUrl);
  adminUrlObj.pathname = `/${name}`;
  const adminUrl = adminUrlObj.toString();
  const pool = new pg.Pool({ connectionString: adminUrl, max: 2 });
  // Tests terminate backends on purpose (rotation, JIT drops, force-dropped databases): an idle
  // client of this pool killed that way must not become an unhandled error.
  pool.on('error', () => {});
  return {
    adminUrl,
    brokerUrl,
    brokerPassword,
    name,
    query: (sql, values) => pool.query(sql, values),
    async drop() {
      await pool.end();
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
        await admin.query(`drop role if exists ${pg.escapeIdentifier(`qb_broker_${name}`)}`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * Hold a cluster-wide advisory lock for the life of a test file. JIT roles are cluster-wide and a
 * sweep drops every expired one, so two files that create and sweep them would drop each other's:
 * they take this lock to run one after the other. Returns the release function.
 */
export async function holdClusterLock(name: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await client.connect();
  await client.query('select pg_advisory_lock(hashtext($1))', [name]);
  return async () => {
    await client.query('select pg_advisory_unlock(hashtext($1))', [name]).catch(() => {});
    await client.end().catch(() => {});
  };
}

/**
 * A demo database of its own and the demo policy pointed at it (its URL in an environment variable,
 * as a deployment would name it); `policyPatch` edits the policy before validation. `releaseEnv`
 * forgets the variable (the database is dropped with `db.drop()`).
 */
export async function createDemoSetup(policyPatch?: (p: Record<string, any>) => void): Promise<{ db: TestDatabase; policy: PolicyConfig; releaseEnv(): void }> {
  const db = await createDemoDatabase();
  const envName = `QB_TEST_URL_${randomBytes(4).toString('hex').toUpperCase()}`;
  process.env[envName] = db.brokerUrl;
  const raw = demoPolicy() as Record<string, any>;
  raw.connections.sales.credentials = { env: envName };
  policyPatch?.(raw);
  return { db, policy: validatePolicy(raw), releaseEnv: () => void delete process.env[envName] };
}
