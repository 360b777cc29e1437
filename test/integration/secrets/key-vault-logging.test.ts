import { describe, it, expect, vi, afterEach, afterAll } from 'vitest';

// The Azure SDK reads its log level when its logger loads: turn everything on before any import.
vi.hoisted(() => {
  process.env.AZURE_LOG_LEVEL = 'verbose';
});

import { createKeyVaultSecretProvider } from '../../../src/secrets/key-vault.js';
import { startKeyVaultStub } from './key-vault-stub.js';

const PLANTED = 'planted-Pa55w0rd-4be27a';

describe('Key Vault secret provider logging', () => {
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => {
    delete process.env.AZURE_LOG_LEVEL;
  });

  it('never writes the secret or the access token to the logs, even at verbose level', async () => {
    const stub = await startKeyVaultStub();
    stub.secrets.set('sales-agent', PLANTED);
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    try {
      const secrets = createKeyVaultSecretProvider({
        vaultUrl: stub.vaultUrl,
        credential: stub.credential,
        ttlMs: 1,
        clientOptions: { ...stub.clientOptions, retryOptions: { retryDelayInMs: 5 } },
      });
      await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
      stub.override = (_n, i) => (i === 2 ? { status: 500, body: { error: { code: 'InternalError', message: 'x' } } } : undefined);
      await new Promise((r) => setTimeout(r, 5));
      await expect(secrets.getSecret('sales-agent')).resolves.toBe(PLANTED);
    } finally {
      vi.restoreAllMocks();
      await stub.close();
    }
    const log = written.join('');
    expect(log).toContain('sales-agent'); // the SDK did log these requests...
    expect(log).not.toContain(PLANTED); // ...but not the value
    expect(log).not.toContain(stub.credential.token);
  });
});
