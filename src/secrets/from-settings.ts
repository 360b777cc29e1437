import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { SecretProvider } from '../broker/ports.js';
import { SETTINGS } from '../settings.js';
import { createKeyVaultSecretProvider } from './key-vault.js';
import { createEnvSecretProvider } from './env.js';

/**
 * The secret provider a host should use: Key Vault when `QB_KEY_VAULT_URL` is set (Azure, or a
 * developer signed in with `az login`), otherwise environment variables (`npm start`).
 * `credential` defaults to DefaultAzureCredential, which picks the user-assigned managed identity
 * named by AZURE_CLIENT_ID.
 */
export function createSecretProviderFromSettings(
  options: { credential?: TokenCredential; env?: NodeJS.ProcessEnv; ttlMs?: number } = {},
): SecretProvider {
  const env = options.env ?? process.env;
  const vaultUrl = env[SETTINGS.QB_KEY_VAULT_URL];
  if (vaultUrl === undefined || vaultUrl === '') return createEnvSecretProvider(env);
  return createKeyVaultSecretProvider({
    vaultUrl,
    credential: options.credential ?? new DefaultAzureCredential(),
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
  });
}
