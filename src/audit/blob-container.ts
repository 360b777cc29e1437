/**
 * The audit container client: Azurite (or any account) by connection string locally and in tests,
 * the account endpoint + managed identity in Azure. One client per process, so every append reuses
 * the SDK's keep-alive HTTP pipeline instead of opening a connection per request.
 */
import { ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BrokerError } from '../errors.js';
import { readSetting } from '../settings.js';
import { removeIdlePolicies } from './sdk-pipeline.js';

export const DEFAULT_AUDIT_CONTAINER = 'audit';

/**
 * Small retry budget: the query path waits on every append, and an unreachable store must turn into
 * a 503 within seconds, not after the SDK's default minutes of back-off. The audit log bounds each
 * operation with its own deadline on top of this.
 */
export const AUDIT_PIPELINE_OPTIONS: StoragePipelineOptions = {
  retryOptions: { maxTries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 400 },
  keepAliveOptions: { enable: true },
};

export type AuditStoreTarget =
  | { connectionString: string; container?: string }
  | { endpoint: string; container?: string; credential?: TokenCredential };

/** Its blob clients share its request pipeline, without the policies that do nothing for the audit log (sdk-pipeline.ts). */
export function createAuditContainerClient(target: AuditStoreTarget, pipelineOptions: StoragePipelineOptions = AUDIT_PIPELINE_OPTIONS): ContainerClient {
  const container = target.container ?? DEFAULT_AUDIT_CONTAINER;
  let client: ContainerClient;
  if ('connectionString' in target) client = new ContainerClient(target.connectionString, container, pipelineOptions);
  else {
    const url = `${target.endpoint.replace(/\/+$/, '')}/${encodeURIComponent(container)}`;
    client = new ContainerClient(url, target.credential ?? azureCredential(), pipelineOptions);
  }
  removeIdlePolicies(client);
  return client;
}

/**
 * From app settings: QB_AUDIT_BLOB_ENDPOINT (managed identity) wins over QB_AUDIT_CONNECTION_STRING
 * (Azurite); QB_AUDIT_CONTAINER names the container (default `audit`). Pass the host's credential
 * to share its token cache; without one, AZURE_CLIENT_ID picks the user-assigned identity.
 */
export function auditContainerFromSettings(credential?: TokenCredential): ContainerClient {
  const container = readSetting('QB_AUDIT_CONTAINER') ?? DEFAULT_AUDIT_CONTAINER;
  const endpoint = readSetting('QB_AUDIT_BLOB_ENDPOINT');
  if (endpoint !== undefined) {
    return createAuditContainerClient(credential === undefined ? { endpoint, container } : { endpoint, container, credential });
  }
  const connectionString = readSetting('QB_AUDIT_CONNECTION_STRING');
  if (connectionString !== undefined) return createAuditContainerClient({ connectionString, container });
  throw new BrokerError(
    'internal_error',
    'No audit store configured: set QB_AUDIT_BLOB_ENDPOINT (Azure, managed identity) or QB_AUDIT_CONNECTION_STRING (Azurite).',
  );
}

/** A user-assigned identity (AZURE_CLIENT_ID) is asked directly; otherwise the default chain. */
function azureCredential(): TokenCredential {
  const clientId = readSetting('AZURE_CLIENT_ID');
  return clientId === undefined ? new DefaultAzureCredential() : new ManagedIdentityCredential({ clientId });
}
