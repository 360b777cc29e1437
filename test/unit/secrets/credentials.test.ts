import { describe, it, expect } from 'vitest';
import { createConnectionCredentials, withPasswordRetry, isPasswordRejected } from '../../../src/db/credentials.js';
import { ConnectionConfig } from '../../../src/policy/schema.js';
import type { SecretProvider } from '../../../src/broker/ports.js';

/** A SecretProvider holding values in memory and recording invalidations. */
function memorySecrets(values: Record<string, string>) {
  const invalidated: string[] = [];
  const secrets: SecretProvider = {
    async getSecret(name) {
      const v = values[name];
      if (v === undefined) throw new Error(`no ${name}`);
      return v;
    },
    invalidate: (name) => void invalidated.push(name),
  };
  return { secrets, invalidated, values };
}

const conn = (raw: unknown) => ConnectionConfig.parse(raw);

describe('connection credentials', () => {
  it('keyVaultSecret: target from the policy, password from the secret provider, invalidate forwards', async () => {
    const { secrets, invalidated } = memorySecrets({ 'sales-agent': 's3cret' });
    const creds = createConnectionCredentials(
      conn({ host: 'sales.postgres.database.azure.com', database: 'sales', user: 'qb_broker', ssl: true, credentials: { keyVaultSecret: 'sales-agent' } }),
      { secrets },
    );
    await expect(creds.target()).resolves.toEqual({ host: 'sales.postgres.database.azure.com', port: 5432, database: 'sales', user: 'qb_broker', ssl: true });
    await expect(creds.password()).resolves.toBe('s3cret');
    creds.invalidate();
    expect(invalidated).toEqual(['sales-agent']);
  });

  it('keyVaultSecret with a password-less url: host, port, database, user and sslmode come from it', async () => {
    const { secrets } = memorySecrets({ pw: 'x' });
    const creds = createConnectionCredentials(conn({ url: 'postgres://qb_broker@db.internal:6543/sales?sslmode=require', credentials: { keyVaultSecret: 'pw' } }), {
      secrets,
    });
    await expect(creds.target()).resolves.toEqual({ host: 'db.internal', port: 6543, database: 'sales', user: 'qb_broker', ssl: true });
  });

  it('env: the URL in the environment gives target and password, re-read on every call', async () => {
    const env: NodeJS.ProcessEnv = { SALES_URL: 'postgresql://qb%40broker:p%40ss@127.0.0.1:5433/sales' };
    const creds = createConnectionCredentials(conn({ credentials: { env: 'SALES_URL' } }), { secrets: memorySecrets({}).secrets, env });
    await expect(creds.target()).resolves.toEqual({ host: '127.0.0.1', port: 5433, database: 'sales', user: 'qb@broker', ssl: false });
    await expect(creds.password()).resolves.toBe('p@ss');
    env.SALES_URL = 'postgresql://qb%40broker:rotated@127.0.0.1:5433/sales';
    await expect(creds.password()).resolves.toBe('rotated');
  });

  it('env: a mysql connection takes a mysql:// URL (default port 3306) and refuses a postgres one', async () => {
    const env: NodeJS.ProcessEnv = { SHOP_URL: 'mysql://shop_agent:pw@db.internal/shop' };
    const creds = createConnectionCredentials(conn({ engine: 'mysql', credentials: { env: 'SHOP_URL' } }), { secrets: memorySecrets({}).secrets, env });
    await expect(creds.target()).resolves.toEqual({ host: 'db.internal', port: 3306, database: 'shop', user: 'shop_agent', ssl: false });
    await expect(creds.password()).resolves.toBe('pw');
    env.SHOP_URL = 'postgres://shop_agent:pw@db.internal/shop';
    await expect(creds.password()).rejects.toThrow(/must hold a mysql:\/\/ URL/);
    const pg = createConnectionCredentials(conn({ credentials: { env: 'SHOP_URL' } }), { secrets: memorySecrets({}).secrets, env: { SHOP_URL: 'mysql://u:p@h/d' } });
    await expect(pg.password()).rejects.toThrow(/must hold a postgres:\/\/ URL/);
  });

  it('env: a malformed URL is reported without repeating it', async () => {
    const env: NodeJS.ProcessEnv = { SALES_URL: 'not a url but has hunter2 in it' };
    const creds = createConnectionCredentials(conn({ credentials: { env: 'SALES_URL' } }), { secrets: memorySecrets({}).secrets, env });
    const e = (await creds.password().then(
      () => undefined,
      (x: unknown) => x,
    )) as Error;
    expect(e.message).toContain('SALES_URL');
    expect(JSON.stringify(e) + e.message + e.stack).not.toContain('hunter2');
  });

  it('entra: the token is the password and invalidate reaches the token source', async () => {
    let invalidations = 0;
    const entraToken = Object.assign(async () => 'eyJ0b2tlbg', { invalidate: () => void invalidations++ });
    const creds = createConnectionCredentials(conn({ host: 'h', user: 'func-qb-identity', ssl: true, credentials: { entra: true } }), {
      secrets: memorySecrets({}).secrets,
      entraToken,
    });
    await expect(creds.password()).resolves.toBe('eyJ0b2tlbg');
    creds.invalidate();
    expect(invalidations).toBe(1);
  });

  it('refuses at start-up a connection it could never log in with', () => {
    const { secrets } = memorySecrets({});
    expect(() => createConnectionCredentials(conn({ host: 'h', credentials: { keyVaultSecret: 'x' } }), { secrets, name: 'sales' })).toThrow(/"sales" has no user/);
    expect(() => createConnectionCredentials(conn({ host: 'h', user: 'u', credentials: { entra: true } }), { secrets })).toThrow(/entra/);
  });
});

describe('withPasswordRetry', () => {
  const rejected = () => Object.assign(new Error('password authentication failed for user "qb_broker"'), { code: '28P01' });

  it('invalidates and retries exactly once after 28P01', async () => {
    const { secrets, invalidated } = memorySecrets({ s: 'x' });
    const creds = createConnectionCredentials(conn({ host: 'h', user: 'u', credentials: { keyVaultSecret: 's' } }), { secrets });
    let attempts = 0;
    await expect(withPasswordRetry(creds, async () => (++attempts === 1 ? Promise.reject(rejected()) : 'ok'))).resolves.toBe('ok');
    expect(attempts).toBe(2);
    expect(invalidated).toEqual(['s']);

    attempts = 0;
    await expect(withPasswordRetry(creds, async () => (attempts++, Promise.reject(rejected())))).rejects.toMatchObject({ code: '28P01' });
    expect(attempts).toBe(2);
  });

  it('does not retry other failures', async () => {
    const { secrets, invalidated } = memorySecrets({ s: 'x' });
    const creds = createConnectionCredentials(conn({ host: 'h', user: 'u', credentials: { keyVaultSecret: 's' } }), { secrets });
    let attempts = 0;
    await expect(withPasswordRetry(creds, async () => (attempts++, Promise.reject(Object.assign(new Error('x'), { code: '42P01' }))))).rejects.toThrow();
    expect(attempts).toBe(1);
    expect(invalidated).toEqual([]);
    expect(isPasswordRejected({ code: '28000' })).toBe(false);
  });
});
