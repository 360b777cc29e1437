/** The doctor's dependencies from the app settings (the same names the app reads, src/settings.ts). */
import { loadPolicyFile } from '../policy/load.js';
import { createAuditContainerClient, DEFAULT_AUDIT_CONTAINER } from '../audit/blob-container.js';
import { createSecretProviderFromSettings } from '../secrets/from-settings.js';
import { createEntraTokenSource } from '../secrets/entra-token.js';
import { createAzureCredential } from '../identity/azure-credential.js';
import { localDevIssuerEnabled } from '../identity/local-dev-issuer.js';
import { DEFAULT_EVENTS_TOPIC } from '../events/service-bus.js';
import type { DoctorDeps } from './checks.js';

const value = (env: NodeJS.ProcessEnv, name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);

export async function doctorFromSettings(env: NodeJS.ProcessEnv): Promise<{ deps: DoctorDeps; close: () => Promise<void> }> {
  const policy = loadPolicyFile(value(env, 'QB_CONFIG') ?? 'qb.yaml');
  const credential = createAzureCredential(env);
  const container = value(env, 'QB_AUDIT_CONTAINER') ?? DEFAULT_AUDIT_CONTAINER;
  const endpoint = value(env, 'QB_AUDIT_BLOB_ENDPOINT');
  const connectionString = value(env, 'QB_AUDIT_CONNECTION_STRING');
  if (endpoint === undefined && connectionString === undefined) throw new Error('No audit store configured: set QB_AUDIT_BLOB_ENDPOINT (Azure) or QB_AUDIT_CONNECTION_STRING (Azurite).');
  const audit = endpoint !== undefined ? createAuditContainerClient({ endpoint, container, credential }) : createAuditContainerClient({ connectionString: connectionString as string, container });
  const keyVaultUrl = value(env, 'QB_KEY_VAULT_URL');
  const teamsWebhookSecret = value(env, 'QB_TEAMS_WEBHOOK_SECRET');
  const namespace = value(env, 'QB_SERVICE_BUS_NAMESPACE');
  const closers: (() => Promise<void>)[] = [];
  const deps: DoctorDeps = {
    policy,
    audit,
    auditIsAzure: endpoint !== undefined,
    secrets: createSecretProviderFromSettings({ credential, env }),
    entraToken: createEntraTokenSource(credential),
    devIssuer: localDevIssuerEnabled(env),
    env,
    ...(keyVaultUrl ? { keyVaultUrl } : {}),
    ...(teamsWebhookSecret ? { teamsWebhookSecret } : {}),
  };
  if (namespace !== undefined) {
    const { ServiceBusClient } = await import('@azure/service-bus');
    const client = new ServiceBusClient(namespace, credential, { retryOptions: { maxRetries: 1, timeoutInMs: 15_000 } });
    closers.push(() => client.close());
    deps.serviceBus = {
      namespace,
      // Opening a sender link and creating a batch needs Send permission; nothing is sent.
      probe: async () => {
        const sender = client.createSender(value(env, 'QB_EVENTS_TOPIC') ?? DEFAULT_EVENTS_TOPIC);
        try {
          await sender.createMessageBatch();
        } finally {
          await sender.close();
        }
      },
    };
  }
  return { deps, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
