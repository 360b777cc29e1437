/**
 * Composition root for the Azure host: Entra ID verifier, Blob audit log, Key Vault secrets and
 * Service Bus events, all through the Function App's managed identity. Heavy modules load on the
 * first request, off the cold-start path of the entry module.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DurableClient } from 'durable-functions';
import type { BrokerRuntime } from '../src/compose.js';
import type { IdentityVerifier } from '../src/broker/ports.js';
import type { DevIssuer } from '../src/identity/dev-issuer.js';

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
  const [{ createBrokerRuntime }, { loadPolicyFile }, { readSetting }, identity, jose, verify, audit, events, secrets, log, approvalsModule, audienceModule, entraTokens, localDev, publishing] = await Promise.all([
    import('../src/compose.js'),
    import('../src/policy/load.js'),
    import('../src/settings.js'),
    import('../src/identity/azure-credential.js'),
    import('jose'),
    import('../src/identity/verify.js'),
    import('../src/audit/blob-log.js'),
    import('../src/events/service-bus.js'),
    import('../src/secrets/key-vault.js'),
    import('../src/log.js'),
    import('../src/approval/azure.js'),
    import('../src/identity/audience.js'),
    import('../src/secrets/entra-token.js'),
    import('../src/identity/local-dev-issuer.js'),
    import('../src/audit/publishing-log.js'),
  ]);
  const policy = loadPolicyFile(readSetting('QB_CONFIG') ?? 'qb.yaml');
  // func start on a developer machine may ask for the local dev issuer (never on App Service).
  const devMode = localDev.localDevIssuerEnabled();
  if (!devMode && !policy.tenant) throw new Error('The policy file must set `tenant` (the Entra tenant id) when running in Azure.');
  const credential = identity.azureCredential();
  const vaultUrl = readSetting('QB_KEY_VAULT_URL');
  const logger = log.createJsonLogger();
  const audiences = audienceModule.audiencesOf(policy.audience);
  let verifier: IdentityVerifier;
  let devIssuer: DevIssuer | undefined;
  if (devMode) {
    const base = (readSetting('QB_PUBLIC_BASE_URL') ?? 'http://localhost:7071').replace(/\/+$/, '');
    devIssuer = await (await import('../src/identity/dev-issuer.js')).createDevIssuer({ issuer: `${base}/api/dev`, audience: audienceModule.primaryAudience(policy.audience) });
    verifier = verify.createTokenVerifier({ audience: audiences, issuers: [devIssuer.issuer], keys: jose.createLocalJWKSet(devIssuer.jwks()) });
    logger.warn(`${localDev.LOCAL_DEV_ISSUER_SETTING}=true: tokens from ${devIssuer.issuer} are trusted (func start only)`);
  } else {
    const tenant = policy.tenant as string;
    verifier = verify.createTokenVerifier({
      audience: audiences,
      issuers: verify.entraIssuers(tenant),
      tenant,
      keys: jose.createRemoteJWKSet(verify.entraJwksUrl(tenant), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }),
    });
  }
  // One log for the pipeline and the approval workflow, so approval events reach Service Bus too.
  const auditLog = publishing.withEventPublishing(
    audit.createBlobAuditLog({ containerClient: audit.auditContainerFromSettings(credential), logger }),
    events.createServiceBusPublisher({ credential, logger }),
    { logger },
  );
  let built: Awaited<ReturnType<typeof createBrokerRuntime>> | undefined;
  const approvals = approvalsModule.createAzureApprovals({
    policy,
    audit: auditLog,
    verifier,
    log: logger,
    credential,
    durableClient: () => durableClientScope.getStore(),
    executor: () => {
      if (!built) throw new Error('the broker runtime is not built yet');
      return built.broker;
    },
  });
  built = await createBrokerRuntime({
    policy,
    verifier,
    audit: auditLog,
    secrets: vaultUrl ? secrets.createKeyVaultSecretProvider({ vaultUrl, credential }) : (await import('../src/secrets/env.js')).createEnvSecretProvider(),
    log: logger,
    entraToken: entraTokens.createEntraTokenSource(credential),
    approvals,
    ...(devIssuer ? { devIssuer } : {}),
    // GET /api/health?deep=1: qb doctor's checks with the app's own identity and settings.
    deepHealth: (await import('../src/doctor/deep-health.js')).createDeepHealth({
      policy,
      verifier,
      doctor: async () => (await import('../src/doctor/from-settings.js')).doctorFromSettings(process.env),
    }),
  });
  return built;
}
