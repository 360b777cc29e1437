/**
 * `npm start` with QB_MYSQL_URL: the demo gains a `shop` connection (engine mysql) over that server,
 * seeded with the demo customers and orders, printed in the banner; a read on it answers masked.
 * PostgreSQL stays the default demo connection.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/local/postgres.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../helpers/mariadb.js';

const missing = mysqlUnavailable();
const repo = fileURLToPath(new URL('../..', import.meta.url));

describe.skipIf(missing !== undefined)('npm start with QB_MYSQL_URL', () => {
  let my: TestMysql;
  let child: ChildProcess | undefined;
  let out = '';

  beforeAll(async () => {
    // No roles on the server: the demo must work with an account that may only create tables.
    my = (await startTestMysql())!;
  }, 120_000);

  afterAll(async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGINT');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          if (child?.pid) process.kill(-child.pid, 'SIGKILL');
          resolve();
        }, 20_000);
        child!.once('exit', () => (clearTimeout(t), resolve()));
      });
    }
    await my?.stop();
  }, 60_000);

  it('adds the shop connection, seeds it, prints it, and a read on it comes back masked', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()), QB_MYSQL_URL: my.url };
    delete env.DATABASE_URL;
    delete env.QB_CONFIG;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/local/main.ts'], { cwd: repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const until = Date.now() + 90_000;
    while (!out.includes('Ctrl-C stops everything') && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('Ctrl-C stops everything');
    expect(out).toMatch(new RegExp(`MySQL demo: connection "shop" \\(engine mysql\\) on 127\\.0\\.0\\.1:${my.port}/${my.database}`));
    expect(out).not.toContain(my.password);
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    const token = /AGENT_TOKEN=(\S+)/.exec(out)![1]!;

    // The seed is really there (read as the superuser, not through the broker).
    const [count] = await my.rootQuery<{ n: number }>('select count(*) as n from customers');
    expect(Number(count!.n)).toBe(5);

    const ask = async (connection: string, sql: string) => {
      const res = await fetch(`${url}/api/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ connection, sql }),
      });
      return { status: res.status, body: (await res.json()) as { rows: unknown[][]; columns: { name: string; masked: string | false }[] } };
    };
    const shop = await ask('shop', 'select id, name, ssn from customers order by id limit 2');
    expect(shop.status, JSON.stringify(shop.body)).toBe(200);
    expect(shop.body.rows).toHaveLength(2);
    expect(shop.body.columns.map((c) => c.masked)).toEqual([false, false, 'redact']);
    expect(JSON.stringify(shop.body)).not.toContain('123-45-6789');
    expect(shop.body.rows[0]![1]).toBe('Ada Lovelace');

    // PostgreSQL is still the demo's first connection.
    const sales = await ask('sales', 'select count(*) from customers');
    expect(sales.status, JSON.stringify(sales.body)).toBe(200);
  }, 150_000);
});
