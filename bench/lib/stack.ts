/**
 * The real parts every benchmark runs against: one PostgreSQL (embedded, or the server named by
 * DATABASE_URL), one Azurite, and a bench database seeded with the demo schema plus a wide
 * 100,000-row table. `stop()` drops what was created and stops what was started.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres, type LocalPostgres } from '../../src/local/postgres.js';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite.js';
import { ensureDemoRoles, seedDemoDatabase, demoPolicy } from '../../src/local/demo.js';
import { validatePolicy } from '../../src/policy/load.js';
import type { PolicyConfig } from '../../src/policy/schema.js';

export const WIDE_ROWS = 100_000;

/** Ten columns: three masked by rule, four text columns the detectors scan, three non-text. */
const WIDE_TABLE_SQL = `
create table bench_wide as
select g as id,
       'Customer ' || g as name,
       'user' || g || '@example.com' as email,
       '4' || lpad(((g::bigint * 7919) % 1000000000000000)::text, 15, '0') as card_number,
       lpad((g % 899 + 100)::text, 3, '0') || '-' || lpad((g % 89 + 10)::text, 2, '0') || '-' || lpad((g % 8999 + 1000)::text, 4, '0') as ssn,
       (array['US','GB','NL','DE','FR'])[1 + g % 5] as country,
       (((g * 37) % 100000) / 100.0)::numeric(12,2) as amount,
       case g % 3 when 0 then 'shipped' when 1 then 'open' else 'returned' end as status,
       'note ' || md5(g::text) as note,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' as created_at
  from generate_series(1, ${WIDE_ROWS}) g;
alter table bench_wide add primary key (id);
grant select on bench_wide to qb_agent_read, qb_agent_write;
analyze bench_wide;
analyze customers;
analyze orders;
`;

export interface BenchStack {
  /** superuser URL of the server */
  serverUrl: string;
  /** superuser URL of the bench database */
  adminUrl: string;
  /** the broker's NOINHERIT login role on the bench database (with password) */
  brokerUrl: string;
  database: string;
  brokerRole: string;
  blobConnectionString: string;
  /** "embedded" or "DATABASE_URL" */
  postgresSource: string;
  /** environment variable holding brokerUrl (the policy's `credentials.env`) */
  connectionEnv: string;
  /** how long the parts took to start (the same steps `npm start` takes), ms */
  startupMs: { postgres: number | null; azurite: number; demoSeed: number; wideTable: number };
  stop(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const external = process.env.DATABASE_URL;
  let server: LocalPostgres | undefined;
  let azurite: LocalAzurite | undefined;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => process.stderr.write(`cleanup: ${String(e)}\n`));
  };
  try {
    const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
      const t0 = performance.now();
      const v = await p;
      return [v, Math.round(performance.now() - t0)];
    };
    let pgMs: number | null = null;
    let azMs: number;
    [[server, pgMs], [azurite, azMs]] = await Promise.all([external ? Promise.resolve([undefined, null] as const) : timed(startEmbeddedPostgres()), timed(startAzurite())]);
    if (server) stops.push(() => server!.stop());
    stops.push(() => azurite!.stop());
    const serverUrl = external ?? server!.adminUrl;
    await ensureDemoRoles(serverUrl);
    const suffix = randomBytes(4).toString('hex');
    const database = `qb_bench_${suffix}`;
    // Its own login role: never re-password a `qb_broker` that another process on a shared server uses.
    const brokerRole = `qb_broker_bench_${suffix}`;
    const seed0 = performance.now();
    const brokerUrl = await seedDemoDatabase(serverUrl, database, `bpw_${randomBytes(12).toString('hex')}`, brokerRole);
    const demoSeed = Math.round(performance.now() - seed0);
    stops.push(() => dropDatabase(serverUrl, database, brokerRole));
    const adminUrl = withDatabase(serverUrl, database);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const wide0 = performance.now();
    try {
      await admin.query(WIDE_TABLE_SQL);
    } finally {
      await admin.end();
    }
    const wideTable = Math.round(performance.now() - wide0);
    const connectionEnv = `QB_BENCH_DB_URL_${suffix.toUpperCase()}`;
    process.env[connectionEnv] = brokerUrl;
    stops.push(async () => void delete process.env[connectionEnv]);
    return {
      serverUrl,
      adminUrl,
      brokerUrl,
      database,
      brokerRole,
      blobConnectionString: azurite.connectionString,
      postgresSource: external ? 'DATABASE_URL' : 'embedded',
      connectionEnv,
      startupMs: { postgres: pgMs, azurite: azMs, demoSeed, wideTable },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function dropDatabase(serverUrl: string, database: string, role: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
    await c.query(`drop role if exists ${pg.escapeIdentifier(role)}`);
  } finally {
    await c.end();
  }
}

export interface BenchPolicyOptions {
  /** requests a minute per identity; the bench lifts the default (600) so the limiter never decides a throughput figure */
  requestsPerMinute?: number;
}

/**
 * The demo policy on the bench database, plus masking rules on the wide table and a `bulk-read`
 * profile (role Bench.Bulk) allowed 100,000-row results for the masking-at-scale figure.
 */
export function benchPolicyRaw(connectionEnv: string, o: BenchPolicyOptions = {}): Record<string, unknown> {
  const raw = demoPolicy() as Record<string, any>;
  raw.connections.sales.credentials = { env: connectionEnv };
  raw.profiles['bulk-read'] = {
    match: { roles: ['Bench.Bulk'] },
    connections: ['sales'],
    access: 'read',
    dbRole: 'qb_agent_read',
    maxRows: 200_000,
    maxResultBytes: 256 * 1024 * 1024,
    statementTimeoutMs: 60_000,
  };
  raw.masking.rules.push(
    { column: 'public.bench_wide.email', with: 'email' },
    { column: 'public.bench_wide.card_number', with: 'last4' },
    { column: 'public.bench_wide.ssn', with: 'redact' },
  );
  if (o.requestsPerMinute !== undefined) raw.limits = { requestsPerMinute: o.requestsPerMinute };
  return raw;
}

export function benchPolicy(connectionEnv: string, o: BenchPolicyOptions = {}): PolicyConfig {
  return validatePolicy(benchPolicyRaw(connectionEnv, o), 'bench policy');
}
