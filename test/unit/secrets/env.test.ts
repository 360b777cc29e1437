import { describe, it, expect } from 'vitest';
import { createEnvSecretProvider, environmentNameOf } from '../../../src/secrets/env.js';

describe('environment secret provider', () => {
  it('reads a secret by its own name or by the shell-safe name', async () => {
    const env: NodeJS.ProcessEnv = { SALES_AGENT: 'from-shell', 'billing-agent': 'exact' };
    const secrets = createEnvSecretProvider(env);
    await expect(secrets.getSecret('sales-agent')).resolves.toBe('from-shell');
    await expect(secrets.getSecret('billing-agent')).resolves.toBe('exact');
    expect(environmentNameOf('sales-agent')).toBe('SALES_AGENT');
  });

  it('sees a changed variable at once', async () => {
    const env: NodeJS.ProcessEnv = { SALES_AGENT: 'one' };
    const secrets = createEnvSecretProvider(env);
    await secrets.getSecret('sales-agent');
    env.SALES_AGENT = 'two';
    await expect(secrets.getSecret('sales-agent')).resolves.toBe('two');
  });

  it('fails closed naming the variable when it is missing or empty', async () => {
    const secrets = createEnvSecretProvider({ SALES_AGENT: '' });
    await expect(secrets.getSecret('sales-agent')).rejects.toMatchObject({
      code: 'dependency_unavailable',
      message: expect.stringContaining('SALES_AGENT'),
    });
  });
});
