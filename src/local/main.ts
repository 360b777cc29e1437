/**
 * `npm start`: the whole broker on a laptop. Embedded PostgreSQL seeded with the demo database (or
 * your own databases with QB_CONFIG), Azurite for the audit log, the dev issuer, HTTP on PORT.
 * Ctrl-C stops everything and removes every temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres, type LocalPostgres } from './postgres.js';
import { startAzurite, type LocalAzurite } from './azurite.js';
import { seedDemoDatabase, demoPolicy, DEMO_CONNECTION_ENV, ensureDemoRoles } from './demo.js';
import { seedMysqlDemo, addMysqlDemoConnection, DEMO_MYSQL_ENV, DEMO_MYSQL_CONNECTION, type MysqlDemo, type RawDemoPolicy } from './demo-mysql.js';
import { startLocalBroker, type LocalBroker } from './host.js';
import { loadPolicyFile, validatePolicy, PolicyFileError } from '../policy/load.js';
import { readSetting } from '../settings.js';
import type { PolicyConfig } from '../policy/schema.js';
import pg from 'pg';
import { existsSync } from 'node:fs';

const cleanups: (() => Promise<void>)[] = [];

let stopped: Promise<void> | undefined;

/** Runs the clean-ups once; a second Ctrl-C waits for the first instead of leaving files behind. */
async function stopAll(code: number): Promise<never> {
  stopped ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  })();
  await stopped;
  process.exit(code);
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 7071);
  const started = performance.now();
  // QB_CONFIG, else qb.yaml in the working directory, else the built-in demo.
  const configPath = readSetting('QB_CONFIG') ?? (existsSync('qb.yaml') ? 'qb.yaml' : undefined);
  let policy: PolicyConfig;
  let pgServer: LocalPostgres | undefined;
  let mysqlDemo: MysqlDemo | undefined;

  const azuriteP: Promise<LocalAzurite> = startAzurite();
  if (configPath) {
    policy = loadPolicyFile(configPath);
  } else {
    const raw = demoPolicy() as RawDemoPolicy;
    // A MySQL server of your own (QB_MYSQL_URL) joins the demo as connection "shop"; PostgreSQL stays first.
    const mysqlUrl = process.env[DEMO_MYSQL_ENV];
    if (mysqlUrl) {
      mysqlDemo = await seedMysqlDemo(mysqlUrl);
      addMysqlDemoConnection(raw, mysqlDemo.database);
    }
    policy = validatePolicy(raw, 'built-in demo policy');
    let serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) {
      pgServer = await startEmbeddedPostgres();
      cleanups.push(() => pgServer!.stop());
      serverUrl = pgServer.adminUrl;
    }
    await ensureDemoRoles(serverUrl);
    const database = `qb_demo_${randomBytes(4).toString('hex')}`;
    process.env[DEMO_CONNECTION_ENV] = await seedDemoDatabase(serverUrl, database, randomBytes(18).toString('base64url'));
    if (!pgServer) {
      cleanups.push(async () => {
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        await c.query(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
        await c.end();
      });
    }
  }
  const azurite = await azuriteP;
  cleanups.push(() => azurite.stop());

  // Approval links use the host the banner prints, so the review page and the dev sign-in share one origin.
  const broker: LocalBroker = await startLocalBroker({ policy, blobConnectionString: azurite.connectionString, port, publicHost: 'localhost' });
  cleanups.push(() => broker.close());

  const agent = await broker.token({ sub: 'demo-agent', name: 'Demo agent', roles: ['Query.Read'] });
  const writer = await broker.token({ sub: 'demo-writer', name: 'Demo writing agent', roles: ['Query.Read', 'Query.Write'] });
  const approver = await broker.token({ sub: 'demo-approver', name: 'Demo approver', roles: ['Query.Approve'], idtyp: 'user' });
  const auditor = await broker.token({ sub: 'demo-auditor', name: 'Demo auditor', roles: ['Audit.Read'], idtyp: 'user' });
  const url = broker.url.replace('127.0.0.1', 'localhost');
  const firstConnection = Object.keys(policy.connections)[0] ?? 'sales';
  const out = [
    '',
    `Query Broker is listening on ${url}  (ready in ${Math.round(performance.now() - started)} ms)`,
    configPath ? `Policy: ${configPath}` : 'Policy: built-in demo (connection "sales", embedded PostgreSQL with demo customers and orders)',
    ...(pgServer ? [`Demo database: embedded PostgreSQL on 127.0.0.1:${pgServer.port} (${pgServer.dataDir})`] : []),
    ...(mysqlDemo
      ? [
          `MySQL demo: connection "${DEMO_MYSQL_CONNECTION}" (engine mysql) on ${mysqlDemo.host}:${mysqlDemo.port}/${mysqlDemo.database}, from ${DEMO_MYSQL_ENV} (${mysqlDemo.seeded ? 'demo customers and orders created' : 'existing customers and orders kept'})`,
        ]
      : []),
    `Audit log: Azurite blob container "audit" (${azurite.blobEndpoint})`,
    '',
    'Dev tokens (valid 1 hour; more with `npx qb token --role Query.Read --sub me`):',
    `  AGENT_TOKEN=${agent}`,
    `  WRITER_TOKEN=${writer}`,
    `  APPROVER_TOKEN=${approver}`,
    `  AUDITOR_TOKEN=${auditor}`,
    '',
    'Try:',
    `  curl -s ${url}/api/query -H "Authorization: Bearer ${agent}" -H 'Content-Type: application/json' \\`,
    `    -d '{"connection":"${firstConnection}","sql":"select id, name, email, card_number from customers order by id limit 3"}'`,
    '',
    'Approvals: a write that needs a human answers 202 with a requestId; review it at',
    `  ${url}/api/approvals/<requestId>  (sign in as the demo approver at ${url}/api/dev/sign-in)`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(out.join('\n'));
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stopAll(0));

main().catch((e: unknown) => {
  if (e instanceof PolicyFileError) process.stderr.write(`${e.message}\n`);
  else process.stderr.write(`Query Broker could not start: ${e instanceof Error ? e.message : String(e)}\n`);
  void stopAll(1);
});
