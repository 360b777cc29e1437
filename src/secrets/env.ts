import { BrokerError } from '../errors.js';
import type { SecretProvider } from '../broker/ports.js';

/**
 * SecretProvider for local runs (`npm start`): a secret named `sales-agent` is read from the
 * environment variable `sales-agent` or, since shells cannot set that name, `SALES_AGENT`.
 * Read on every call, so a changed variable is seen at once; nothing to cache or invalidate.
 */
export function createEnvSecretProvider(env: NodeJS.ProcessEnv = process.env): SecretProvider {
  return {
    async getSecret(name) {
      const variable = environmentNameOf(name);
      const value = env[name] ?? env[variable];
      if (value === undefined || value === '') {
        const which = variable === name ? variable : `${variable} (for the secret "${name}")`;
        throw new BrokerError('dependency_unavailable', `The environment variable ${which} is not set; set it before starting the broker.`);
      }
      return value;
    },
    invalidate() {},
  };
}

/** `sales-agent` → `SALES_AGENT`: the variable name a shell can set for a Key Vault-style name. */
export function environmentNameOf(secretName: string): string {
  return secretName.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
