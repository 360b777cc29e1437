/**
 * Section 5: the MySQL engine. A one-row read through the broker in-process (Broker.query, audit in
 * memory) next to a direct mysql2 query on the same server, as the same login user, in the same run.
 * The server is a private MariaDB in a temp directory (the tests' harness), or QB_MYSQL_URL; without
 * either the section is skipped with a printed line.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { validatePolicy } from '../../src/policy/load.js';
import { demoPolicy } from '../../src/local/demo.js';
import { seedMysqlDemo, addMysqlDemoConnection, DEMO_MYSQL_CONNECTION, type RawDemoPolicy } from '../../src/local/demo-mysql.js';
import type { QueryRequest } from '../../src/broker/types.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../test/helpers/mariadb.js';
import { createDemoRoles } from '../../test/helpers/mysql-roles.js';
import { createMysqlHandle, type MysqlHandle } from '../../src/engine/mysql/pools.js';
import { executeMysql } from '../../src/engine/mysql/execute.js';
import { createConnectionCredentials } from '../../src/db/credentials.js';
import { ConnectionConfig } from '../../src/policy/schema.js';
import { createEnvSecretProvider } from '../../src/secrets/env.js';
import { createInProcessBroker } from '../lib/in-process.js';
import { median, nowUs, percentile, round } from '../lib/stats.js';

export const MYSQL_ONE_ROW_SQL = 'select id, name, country from customers where id = 3';

export interface MysqlPath {
  path: string;
  p50Us: number;
  p95Us: number;
  /** p50 over the direct mysql2 p50 */
  ratioP50: number;
  ratioP95: number;
  samples: number;
}

export type MysqlResult =
  | { skipped: string }
  | {
      /** the server's version string */
      server: string;
      sql: string;
      paths: MysqlPath[];
      /** Broker.query p50 minus direct mysql2 p50 */
      overheadP50Us: number;
      /** Broker.query p50 minus the executor alone (executeMysql): the broker's own work */
      overheadOverProtocolP50Us: number;
    };

interface Timed {
  p50: number;
  p95: number;
  n: number;
}

/** Sequential calls: `warmup` untimed, then `runs` runs of `iterations`; the median of the runs' percentiles. */
async function time(fn: () => Promise<void>, warmup: number, iterations: number, runs: number): Promise<Timed> {
  for (let i = 0; i < warmup; i++) await fn();
  const p50s: number[] = [];
  const p95s: number[] = [];
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = nowUs();
      await fn();
      samples.push(nowUs() - t0);
    }
    samples.sort((a, b) => a - b);
    p50s.push(percentile(samples, 50));
    p95s.push(percentile(samples, 95));
    n += samples.length;
  }
  return { p50: median(p50s), p95: median(p95s), n };
}

export async function measureMysql(o: { quick: boolean; runs: number }): Promise<MysqlResult> {
  const missing = mysqlUnavailable();
  if (missing !== undefined) return { skipped: missing };
  const env = `QB_BENCH_MYSQL_${randomBytes(4).toString('hex').toUpperCase()}`;
  let my: TestMysql | undefined;
  let direct: mysql.Pool | undefined;
  let executor: MysqlHandle | undefined;
  let broker: Awaited<ReturnType<typeof createInProcessBroker>> | undefined;
  try {
    my = (await startTestMysql())!;
    await seedMysqlDemo(my.url);
    // The demo profiles' roles, as a deployment runs them (every use starts with SET ROLE).
    await createDemoRoles(my);
    process.env[env] = my.url;
    // The demo policy with only the MySQL connection (no PostgreSQL needed for this section).
    const raw = demoPolicy() as RawDemoPolicy & Record<string, unknown>;
    raw.connections = {};
    for (const p of Object.values(raw.profiles)) if (p) p.connections = [];
    raw.masking.rules = [];
    addMysqlDemoConnection(raw, my.database, env, { dbRoles: true });
    raw.limits = { requestsPerMinute: 100_000_000 };
    const policy = validatePolicy(raw, 'bench MySQL policy');
    broker = await createInProcessBroker(policy, createMemoryAuditLog());
    const principal = await broker.principal('bench-mysql', ['Query.Read']);
    const req: QueryRequest = { connection: DEMO_MYSQL_CONNECTION, sql: MYSQL_ONE_ROW_SQL, params: [], dryRun: false, sessionId: `s_bench_mysql_${randomBytes(6).toString('hex')}` };
    direct = mysql.createPool({ uri: my.url, connectionLimit: 4, rowsAsArray: true });

    const viaDirect = async (): Promise<void> => {
      const [rows] = await direct!.query(MYSQL_ONE_ROW_SQL);
      if ((rows as unknown[]).length !== 1) throw new Error('direct mysql2: row count');
    };
    // The executor alone (executeMysql) on a pool of the agent-read profile's settings and role, as
    // the broker runs it: the statement on an armed connection is timed; the reset and the arming for
    // the next use (pipelined) run after the result, before the connection goes back to its pool.
    // What the connection's protocol costs, apart from the broker's work.
    const profile = policy.profiles['agent-read']!;
    const connection = ConnectionConfig.parse({ engine: 'mysql', credentials: { env } });
    executor = await createMysqlHandle(
      createConnectionCredentials(connection, { secrets: createEnvSecretProvider({}), name: 'bench' }),
      { statementTimeoutMs: profile.statementTimeoutMs, lockTimeoutMs: profile.lockTimeoutMs },
      'read',
      { connectionLimit: 4, ...(profile.dbRole === undefined ? {} : { role: profile.dbRole }) },
    );
    const viaProtocol = async (): Promise<void> => {
      const r = await executeMysql(executor!, { sql: MYSQL_ONE_ROW_SQL, params: [], maxRows: profile.maxRows, maxRowBytes: profile.maxResultBytes, mode: 'read' });
      if (r.rows.length !== 1) throw new Error('executor: row count');
    };
    const viaBroker = async (): Promise<void> => {
      const out = await broker!.runtime.broker.query(principal, req);
      if (out.decision !== 'allowed' || !out.executed || out.rowCount !== 1) throw new Error(`broker: unexpected outcome ${JSON.stringify(out).slice(0, 300)}`);
    };
    const warmup = o.quick ? 50 : 500;
    const iterations = o.quick ? 100 : 1000;
    // Alternate the paths run by run so that a busy moment of the machine does not land on one only.
    const d: Timed[] = [];
    const pr: Timed[] = [];
    const bq: Timed[] = [];
    for (let i = 0; i < warmup; i++) {
      await viaDirect();
      await viaProtocol();
      await viaBroker();
    }
    for (let r = 0; r < o.runs; r++) {
      d.push(await time(viaDirect, 20, iterations, 1));
      pr.push(await time(viaProtocol, 20, iterations, 1));
      bq.push(await time(viaBroker, 20, iterations, 1));
    }
    const pick = (xs: Timed[]): Timed => ({ p50: median(xs.map((x) => x.p50)), p95: median(xs.map((x) => x.p95)), n: xs.reduce((a, x) => a + x.n, 0) });
    const floor = pick(d);
    const rows: [string, Timed][] = [
      ['direct mysql2 (same server, same login user)', floor],
      ['the executor alone (executeMysql on an armed pooled connection)', pick(pr)],
      ['broker in-process (Broker.query, audit in memory)', pick(bq)],
    ];
    return {
      server: my.version,
      sql: MYSQL_ONE_ROW_SQL,
      paths: rows.map(([path, t]) => ({
        path,
        p50Us: round(t.p50),
        p95Us: round(t.p95),
        ratioP50: round(t.p50 / floor.p50, 2),
        ratioP95: round(t.p95 / floor.p95, 2),
        samples: t.n,
      })),
      overheadP50Us: round(pick(bq).p50 - floor.p50),
      overheadOverProtocolP50Us: round(pick(bq).p50 - pick(pr).p50),
    };
  } finally {
    await direct?.end().catch(() => {});
    await executor?.end().catch(() => {});
    await broker?.close().catch(() => {});
    await my?.stop().catch(() => {});
    delete process.env[env];
  }
}
