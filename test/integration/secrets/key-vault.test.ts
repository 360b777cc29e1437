import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createKeyVaultSecretProvider, type KeyVaultSecretProviderOptions } from '../../../src/secrets/key-vault.js';
import { BrokerError } from '../../../src/errors.js';
import { startKeyVaultStub, type KeyVaultStub } from './key-vault-stub.js';

const PLANTED = 'planted-Pa55w0rd-7d1c9e';

function manualClock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

/** Everything an error could show a person or a log: message, stack, own fields, causes. */
function everythingIn(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof Error) parts.push(e.message, e.stack ?? '', JSON.stringify(e), String(e));
    else parts.push(String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

async function failureOf(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BrokerError);
    return e as BrokerError;
  }
  throw new Error('expected the lookup to fail');
}

describe('Key Vault secret provider (real SecretClient against an HTTPS stub of the REST API)', () => {
  let stub: KeyVaultStub;
  beforeEach(async () => {
    stub = await startKeyVaultStub();
    stub.secrets.set('sales-agent', PLANTED);
  });
  afterEach(async () => stub.close());

  const provider = (options: Partial<KeyVaultSecretProviderOptions> = {}) =>
    createKeyVaultSecretProvider({
      vaultUrl: stub.vaultUrl,
      credential: stub.credential,
      ttlMs: 60_000,
      ...options,
      clientOptions: { ...stub.clientOptions, retryOptions: { retryDelayInMs: 5, maxRetryDelayInMs: 10 }, ...options.clientOptions },
    });

  it('answers the challenge with a token for the vault resource and returns the value', async () => {
    const secrets = provider();
    await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
    // First request unauthenticated → 401 challenge → token for the named resource → retried with it.
    expect(stub.requests.map((r) => r.authorized)).toEqual([false, true]);
    expect(stub.credential.scopesRequested).toEqual(['https://vault.azure.net/.default']);
  });

  it('refuses a challenge that names another resource instead of handing it a token', async () => {
    stub.challengeResource = 'https://attacker.example.com';
    const e = await failureOf(provider().getSecret('sales-agent'));
    expect(e.code).toBe('dependency_unavailable');
    expect(stub.credential.scopesRequested).toEqual([]);
    expect(stub.authorizedRequests('sales-agent')).toBe(0);
  });

  it('reports a missing secret by name (404) and does not cache the miss', async () => {
    const secrets = provider();
    const e = await failureOf(secrets.getSecret('billing-agent'));
    expect(e.code).toBe('dependency_unavailable');
    expect(e.status).toBe(503);
    expect(e.message).toContain('"billing-agent"');
    expect(e.message).toMatch(/no secret named/);
    stub.secrets.set('billing-agent', 'now-there');
    await expect(secrets.getSecret('billing-agent')).resolves.toBe('now-there');
  });

  it('reports a refused identity (403) once, without retrying', async () => {
    stub.override = () => ({ status: 403, body: { error: { code: 'Forbidden', message: 'Caller is not authorized', innererror: { code: 'ForbiddenByRbac' } } } });
    const e = await failureOf(provider().getSecret('sales-agent'));
    expect(e.code).toBe('dependency_unavailable');
    expect(e.message).toMatch(/refused.*"sales-agent".*Key Vault Secrets User/);
    expect(stub.authorizedRequests('sales-agent')).toBe(1);
  });

  it('retries a failing vault a bounded number of times, then fails closed', async () => {
    stub.override = () => ({ status: 500, body: { error: { code: 'InternalError', message: 'boom' } } });
    const e = await failureOf(provider({ maxRetries: 2 }).getSecret('sales-agent'));
    expect(e.code).toBe('dependency_unavailable');
    expect(e.message).toMatch(/HTTP 500/);
    expect(stub.authorizedRequests('sales-agent')).toBe(3); // 1 + 2 retries
  });

  it('rides out a transient 5xx', async () => {
    stub.override = (_name, n) => (n <= 2 ? { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'busy' } } } : undefined);
    await expect(provider({ maxRetries: 2 }).getSecret('sales-agent')).resolves.toBe(PLANTED);
    expect(stub.authorizedRequests('sales-agent')).toBe(3);
  });

  it('gives up on a slow vault within its time budget', async () => {
    stub.override = () => ({ status: 200, delayMs: 5_000, body: {} });
    const started = Date.now();
    const e = await failureOf(provider({ timeoutMs: 300 }).getSecret('sales-agent'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(e.code).toBe('dependency_unavailable');
    // Under heavy load the handshake itself can be cut short; either way the lookup fails closed in time.
    expect(e.message).toMatch(/did not answer within 300 ms|could not be reached/);
    expect(e.message).not.toContain(PLANTED);
  });

  it('does not wait out a long Retry-After beyond its time budget', async () => {
    stub.override = () => ({ status: 429, headers: { 'retry-after': '3600' }, body: { error: { code: 'Throttled', message: 'slow down' } } });
    const started = Date.now();
    const e = await failureOf(provider({ timeoutMs: 300 }).getSecret('sales-agent'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(e.code).toBe('dependency_unavailable');
  });

  it('serves a warm cache through an outage until the TTL ends, then fails closed', async () => {
    const clock = manualClock();
    const secrets = provider({ ttlMs: 60_000, clock });
    await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
    expect(stub.authorizedRequests('sales-agent')).toBe(1);

    stub.override = () => ({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down' } } });
    clock.advance(59_000);
    await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
    expect(stub.authorizedRequests('sales-agent')).toBe(1); // served from the cache

    clock.advance(1_000);
    const e = await failureOf(secrets.getSecret('sales-agent'));
    expect(e.code).toBe('dependency_unavailable');
    expect(everythingIn(e)).not.toContain(PLANTED);
    // Still failing closed on the next call: the expired value is gone for good.
    await expect(secrets.getSecret('sales-agent')).rejects.toMatchObject({ code: 'dependency_unavailable' });

    stub.override = undefined;
    await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
  });

  it('shares one request among concurrent lookups of the same secret', async () => {
    const secrets = provider();
    const values = await Promise.all(Array.from({ length: 20 }, () => secrets.getSecret('sales-agent')));
    expect(new Set(values)).toEqual(new Set([PLANTED]));
    expect(stub.authorizedRequests('sales-agent')).toBe(1);
  });

  it('fetches the rotated value after invalidate()', async () => {
    const secrets = provider();
    await secrets.getSecret('sales-agent');
    stub.secrets.set('sales-agent', 'rotated-value');
    await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED); // cached
    secrets.invalidate('sales-agent');
    await expect(secrets.getSecret('sales-agent')).resolves.toBe('rotated-value');
    expect(stub.authorizedRequests('sales-agent')).toBe(2);
  });

  it('rejects a name Key Vault could not hold without any request', async () => {
    const e = await failureOf(provider().getSecret('../keys/master'));
    expect(e.code).toBe('internal_error');
    expect(stub.requests).toEqual([]);
  });
});
