/**
 * The one credential every Azure function uses: the Function App's user-assigned managed identity
 * (its client id is the AZURE_CLIENT_ID app setting). Without that setting (a developer's machine,
 * `func start`), DefaultAzureCredential (Azure CLI sign-in and the like). One instance per process,
 * so its token cache is shared by the HTTP, approval, notifier and JIT-sweeper functions.
 */
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';

let shared: { clientId: string | undefined; credential: TokenCredential } | undefined;

export function createAzureCredential(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const clientId = env.AZURE_CLIENT_ID === '' ? undefined : env.AZURE_CLIENT_ID;
  return clientId !== undefined ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential();
}

/** The process-wide credential (recreated only if AZURE_CLIENT_ID changes). */
export function azureCredential(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const clientId = env.AZURE_CLIENT_ID === '' ? undefined : env.AZURE_CLIENT_ID;
  if (shared?.clientId !== clientId || shared === undefined) shared = { clientId, credential: createAzureCredential(env) };
  return shared.credential;
}
