import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { BrokerError } from '../errors.js';
import { systemClock, type Clock, type SecretProvider } from '../broker/ports.js';
import { createSingleFlightCache } from './cache.js';

export interface KeyVaultSecretProviderOptions {
  /** e.g. https://kv-name.vault.azure.net */
  vaultUrl: string;
  /** the broker's managed identity in Azure (`DefaultAzureCredential` for developers) */
  credential: TokenCredential;
  /** how long a fetched value is served without asking Key Vault again; default 5 minutes */
  ttlMs?: number;
  /** budget for one lookup, retries included; past it the lookup fails closed. Default 5 s */
  timeoutMs?: number;
  /** retries after a 5xx, 408, 429 or network error; default 2 */
  maxRetries?: number;
  /** passed to the SecretClient (transport, retry delays, ...); values here win */
  clientOptions?: SecretClientOptions;
  clock?: Clock;
}

/** Key Vault secret names: 1-127 letters, digits and dashes. */
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/**
 * SecretProvider backed by Azure Key Vault through the SDK's SecretClient (challenge-based auth,
 * retries, managed identity tokens). Values are cached for `ttlMs`; while Key Vault is down a warm
 * cache keeps serving until the TTL ends, then lookups fail closed with `dependency_unavailable`.
 * Errors name the secret, never its value, and carry no SDK error as `cause` (an SDK error can
 * hold the response it failed to read).
 */
export function createKeyVaultSecretProvider(options: KeyVaultSecretProviderOptions): SecretProvider {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxRetries = options.maxRetries ?? 2;
  const client = new SecretClient(options.vaultUrl, options.credential, {
    ...options.clientOptions,
    retryOptions: { maxRetries, retryDelayInMs: 200, maxRetryDelayInMs: 2_000, ...options.clientOptions?.retryOptions },
  });
  const cache = createSingleFlightCache<string>({ ttlMs, clock: options.clock ?? systemClock });

  async function fetchSecret(name: string): Promise<string> {
    let value: string | undefined;
    try {
      // The abort signal bounds the whole lookup: slow replies and long Retry-After waits included.
      const secret = await client.getSecret(name, { abortSignal: AbortSignal.timeout(timeoutMs) });
      value = secret.value;
    } catch (e) {
      throw describeKeyVaultFailure(name, e, timeoutMs);
    }
    if (value === undefined || value === '') {
      throw new BrokerError('dependency_unavailable', `Key Vault returned no value for the secret "${name}"; set a value for it.`);
    }
    return value;
  }

  return {
    getSecret(name) {
      if (!SECRET_NAME.test(name)) {
        return Promise.reject(
          new BrokerError('internal_error', `"${name}" is not a valid Key Vault secret name (1-127 letters, digits and dashes); fix the policy file.`),
        );
      }
      return cache.get(name, () => fetchSecret(name));
    },
    invalidate(name) {
      cache.invalidate(name);
    },
  };
}

interface SdkErrorShape {
  name?: unknown;
  statusCode?: unknown;
  code?: unknown;
}

/** Translate an SDK failure into a BrokerError built only from its status, code and the secret name. */
function describeKeyVaultFailure(name: string, error: unknown, timeoutMs: number): BrokerError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const errorName = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) ? e.code : undefined;
  const fail = (message: string) => new BrokerError('dependency_unavailable', message);

  if (status === 404) {
    return fail(`Key Vault has no secret named "${name}"; create it or correct the name in the policy file.`);
  }
  if (status === 401 || status === 403) {
    return fail(
      `Key Vault refused to give the broker the secret "${name}" (HTTP ${status}); grant the broker's managed identity the "Key Vault Secrets User" role on the vault.`,
    );
  }
  if (status !== undefined) {
    return fail(`Key Vault answered HTTP ${status} when the broker asked for the secret "${name}"; try again later.`);
  }
  if (errorName === 'AbortError') {
    return fail(`Key Vault did not answer within ${timeoutMs} ms when the broker asked for the secret "${name}"; try again later.`);
  }
  if (/Credential|Authentication/.test(errorName)) {
    return fail(`The broker could not get a token for Key Vault from its managed identity (needed for the secret "${name}"); check the identity's configuration.`);
  }
  return fail(`Key Vault could not be reached for the secret "${name}"${code ? ` (${code})` : ''}; try again later.`);
}
