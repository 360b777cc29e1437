/**
 * Composition root for the Azure host: Entra ID verifier, Blob audit log, Key Vault secrets and
 * Service Bus events, all through the Function App's managed identity. Heavy modules load on the
 * first request, off the cold-start path of the entry module.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DurableClient } from 'durable-functions';
import type { BrokerRuntime } from '../src/broker/runtime.js';

/** The durable client of the current HTTP invocation (the approval starter reads it). */
export const durableClientScope = new AsyncLocalStorage<DurableClient>();

let runtime: Promise<BrokerRuntime> | undefined;

export function getAzureRuntime(): Promise<BrokerRuntime> {
  runtime ??= buildAzureRuntime().catch((e: unknown) => {
    runtime = undefined;
    throw e;
  });
  return runtime;
}

async function buildAzureRuntime(): Promise<BrokerRuntime> {
  const [{ createBrokerRuntime }, { loadPolicyFile }, { readSetting }, identity, jose, verify, audit, events, secrets, log, approvalsModule] = await Promise.all([
    import('../src/broker/runtime.js'),
    import('../src/policy/load.js'),
    import('../src/settings.js'),
    import('@azure/identity'),
    import('jose'),
    import('../src/identity/verify.js'),
    import('../src/audit/blob-log.js'),
    import('../src/events/service-bus.js'),
    import('../src/secrets/key-vault.js'),
    import('../src/log.js'),
    import('../src/approval/azure.js'),
  ]);
  const policy = loadPolicyFile(readSetting('QB_CONFIG') ?? 'qb.yaml');
  if (!policy.tenant) throw new Error('The policy file must set `tenant` (the Entra tenant id) when running in Azure.');
  const clientId = readSetting('AZURE_CLIENT_ID');
  const credential = clientId ? new identity.ManagedIdentityCredential({ clientId }) : new identity.DefaultAzureCredential();
  const vaultUrl = readSetting('QB_KEY_VAULT_URL');
  const logger = log.createJsonLogger();
  const verifier = verify.createTokenVerifier({
    audience: policy.audience,
    issuers: verify.entraIssuers(policy.tenant),
    tenant: policy.tenant,
    keys: jose.createRemoteJWKSet(verify.entraJwksUrl(policy.tenant), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }),
  });
  const auditLog = audit.createBlobAuditLog({ containerClient: audit.auditContainerFromSettings(credential), logger });
  let built: Awaited<ReturnType<typeof createBrokerRuntime>> | undefined;
  const approvals = approvalsModule.createAzureApprovals({
    policy,
    audit: auditLog,
    verifier,
    log: logger,
    credential,
    durableClient: () => durableClientScope.getStore(),
    broker: () => {
      if (!built) throw new Error('the broker runtime is not built yet');
      return built.broker;
    },
  });
  built = await createBrokerRuntime({
    policy,
    verifier,
    audit: auditLog,
    events: events.createServiceBusPublisher({ credential, logger }),
    secrets: vaultUrl ? secrets.createKeyVaultSecretProvider({ vaultUrl, credential }) : (await import('../src/secrets/env.js')).createEnvSecretProvider(),
    log: logger,
    entraToken: async () => (await credential.getToken('https://ossrdbms-aad.database.windows.net/.default')).token,
    approvals: approvals.starter,
    routes: approvals.routes,
  });
  return built;
}
