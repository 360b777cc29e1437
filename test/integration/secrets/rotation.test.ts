import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { createKeyVaultSecretProvider } from '../../../src/secrets/key-vault.js';
import { createConnectionCredentials, pgPassword, withPasswordRetry, type ConnectionCredentials } from '../../../src/db/credentials.js';
import { ConnectionConfig } from '../../../src/policy/schema.js';
import type { SecretProvider } from '../../../src/broker/ports.js';
import { BrokerError } from '../../../src/errors.js';
import { startKeyVaultStub, type KeyVaultStub } from './key-vault-stub.js';

/**
 * Password rotation on a real PostgreSQL: the broker's login password lives in (a stub of) Key
 * Vault, pools ask for it on every new connection, and ALTER ROLE … PASSWORD happens mid-run.
 */
describe('password rotation through Key Vault', () => {
  let db: TestDatabase;
  let stub: KeyVaultStub;
  let secrets: SecretProvider;
  let creds: ConnectionCredentials;
  let brokerRole: string;
  const pools: pg.Pool[] = [];

  beforeAll(async () => {
    db = await createDemoDatabase();
    stub = await startKeyVaultStub();
    stub.secrets.set('sales-broker', db.brokerPassword);
    const url = new URL(db.brokerUrl);
    brokerRole = decodeURIComponent(url.username);
    secrets = createKeyVaultSecretProvider({ vaultUrl: stub.vaultUrl, credential: stub.credential, ttlMs: 10 * 60_000, clientOptions: stub.clientOptions });
    const conn = ConnectionConfig.parse({
      host: url.hostname,
      port: Number(url.port),
      database: db.name,
      user: brokerRole,
      credentials: { keyVaultSecret: 'sales-broker' },
    });
    creds = createConnectionCredentials(conn, { secrets, name: 'sales' });
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await stub?.close();
    await db?.drop();
  });

  /** A pool built the way the broker builds its pools: the password is a function of the credentials. */
  async function brokerPool(): Promise<pg.Pool> {
    const target = await creds.target();
    // maxUses: 1 makes every query open a NEW connection, i.e. log in again with password().
    const pool = new pg.Pool({ ...target, password: pgPassword(creds), max: 4, maxUses: 1 });
    pool.on('error', () => {});
    pools.push(pool);
    return pool;
  }

  async function rotate(newPassword: string): Promise<void> {
    // The order a rotation job should use: the new version in Key Vault first, then the server.
    // Cached copies of the old password keep working until ALTER ROLE; after it, 28P01 → refetch.
    stub.secrets.set('sales-broker', newPassword);
    await db.query(`alter role ${pg.escapeIdentifier(brokerRole)} password ${pg.escapeLiteral(newPassword)}`);
  }

  it('rejects new connections with the cached old password (28P01) until invalidate(), then logs in with the new one', async () => {
    const pool = await brokerPool();
    const before = await pool.query<{ u: string }>('select current_user as u');
    expect(before.rows[0]?.u).toBe(brokerRole);
    const fetched = stub.authorizedRequests('sales-broker');

    await rotate('rotated-once-5f2a');
    await expect(pool.query('select 1')).rejects.toMatchObject({ code: '28P01' });
    expect(stub.authorizedRequests('sales-broker')).toBe(fetched); // still the cached, stale password

    creds.invalidate();
    const after = await pool.query<{ u: string }>('select current_user as u');
    expect(after.rows[0]?.u).toBe(brokerRole);
    expect(stub.authorizedRequests('sales-broker')).toBe(fetched + 1);
  });

  it('keeps queries succeeding across a rotation mid-run with withPasswordRetry', async () => {
    const pool = await brokerPool();
    const results: number[] = [];
    const run = async (i: number) => {
      const r = await withPasswordRetry(creds, () => pool.query<{ n: number }>('select $1::int as n', [i]));
      results.push(r.rows[0]?.n ?? -1);
    };
    await Promise.all([0, 1, 2, 3].map(run));
    await rotate('rotated-twice-9c41');
    await Promise.all([4, 5, 6, 7, 8, 9, 10, 11].map(run));
    await rotate('rotated-thrice-0d77');
    for (let i = 12; i < 16; i++) await run(i);
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('leaves sessions opened before the rotation working', async () => {
    const target = await creds.target();
    const client = await withPasswordRetry(creds, async () => {
      const c = new pg.Client({ ...target, password: pgPassword(creds) });
      await c.connect();
      return c;
    });
    try {
      await rotate('rotated-while-connected-1b9e');
      await expect(client.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await client.end();
    }
  });

  it('fails closed with dependency_unavailable when Key Vault is down and nothing is cached', async () => {
    const pool = await brokerPool();
    stub.override = () => ({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down' } } });
    try {
      creds.invalidate();
      const error = await pool.query('select 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BrokerError);
      expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503 });
    } finally {
      stub.override = undefined;
    }
    await expect(withPasswordRetry(creds, () => pool.query('select 1 as one'))).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('leaves no half-open connection on the server when the password lookup fails', async () => {
    const target = await creds.target();
    const client = new pg.Client({ ...target, password: pgPassword(creds) });
    client.on('error', () => {});
    // The client's port identifies its backend in pg_stat_activity (node-postgres creates the socket up front).
    const socket = (client as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    let clientPort = 0;
    socket.once('connect', () => (clientPort = socket.localPort ?? 0));
    stub.override = () => ({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down' } } });
    try {
      creds.invalidate();
      await expect(client.connect()).rejects.toMatchObject({ code: 'dependency_unavailable' });
    } finally {
      stub.override = undefined;
    }
    expect(clientPort).toBeGreaterThan(0);
    const backends = async () => (await db.query('select state from pg_stat_activity where client_port = $1', [clientPort])).rowCount;
    // The backend exits when it sees the closed socket; on a loaded 2-core machine that can take a while.
    for (let i = 0; i < 200 && (await backends()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await backends()).toBe(0);
  });

  it('never puts the password in the error of a rejected login', async () => {
    const planted = 'planted-Stale-Pa55-3e8d';
    stub.secrets.set('sales-broker', planted);
    creds.invalidate();
    const pool = await brokerPool();
    const error = (await pool.query('select 1').then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & Record<string, unknown>;
    expect(error).toMatchObject({ code: '28P01' });
    expect(`${error.message}\n${error.stack}\n${JSON.stringify(error)}`).not.toContain(planted);
  });
});
