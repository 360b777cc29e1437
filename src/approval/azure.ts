/**
 * The approval flow in Azure: the orchestration runs in the Durable Functions task hub (started
 * and signalled through the HTTP invocation's DurableClient), the request store is a container
 * beside the audit container, notifications go to the approvals Service Bus queue, and the review
 * page trusts App Service Authentication (only where it runs).
 */
import { impactOf } from './review/impact.js';
import { ServiceBusClient } from '@azure/service-bus';
import type { TokenCredential } from '@azure/identity';
import type { DurableClient } from 'durable-functions';
import { BrokerError } from '../errors.js';
import { systemClock, type AuditLog, type Clock, type IdentityVerifier, type SecretProvider } from '../broker/ports.js';
import type { ApprovalExecutor } from '../broker/types.js';
import type { PolicyConfig } from '../policy/schema.js';
import type { EntraTokenFunction } from '../db/credentials.js';
import type { Logger } from '../log.js';
import { readSetting } from '../settings.js';
import { createAuditContainerClient } from '../audit/blob-container.js';
import { createApprovalActivities, type ApprovalActivities } from './workflow/activities.js';
import { createBlobRequestStore, DEFAULT_REQUESTS_CONTAINER } from './store/blob-request-store.js';
import { createApprovalDecisions } from './workflow/decide.js';
import type { ApprovalWiring } from './local.js';
import { reviewUrlOf, type ApprovalNotifier } from './notify/notification.js';
import { createQueueNotifier, DEFAULT_APPROVALS_QUEUE } from './notify/queue-notifier.js';
import type { RequestStore } from './store/request-store.js';
import { createApprovalStarter, type OrchestrationClient } from './workflow/start.js';
import { createTeamsWebhookNotifier, teamsWebhookUrlFromSettings } from './notify/teams-notifier.js';
import { DECISION_EVENT, ORCHESTRATION_NAME } from './types.js';

/**
 * The request store from app settings: the audit storage account (QB_AUDIT_BLOB_ENDPOINT with
 * the managed identity, or QB_AUDIT_CONNECTION_STRING), container `requests`.
 */
export function requestStoreFromSettings(credential?: TokenCredential): RequestStore {
  const endpoint = readSetting('QB_AUDIT_BLOB_ENDPOINT');
  const connectionString = readSetting('QB_AUDIT_CONNECTION_STRING');
  const container = DEFAULT_REQUESTS_CONTAINER;
  if (endpoint !== undefined) {
    return createBlobRequestStore({ containerClient: createAuditContainerClient(credential ? { endpoint, container, credential } : { endpoint, container }) });
  }
  if (connectionString !== undefined) return createBlobRequestStore({ containerClient: createAuditContainerClient({ connectionString, container }) });
  throw new BrokerError('internal_error', 'No store for approval requests: set QB_AUDIT_BLOB_ENDPOINT (Azure) or QB_AUDIT_CONNECTION_STRING (Azurite).');
}

function publicBaseUrlFromSettings(): string {
  const url = readSetting('QB_PUBLIC_BASE_URL');
  if (url) return url;
  const site = process.env.WEBSITE_HOSTNAME;
  if (site) return `https://${site}`;
  throw new BrokerError('internal_error', 'Set QB_PUBLIC_BASE_URL (the broker\'s public URL) so approval links point somewhere.');
}

export interface AzureApprovalsDeps {
  policy: PolicyConfig;
  audit: AuditLog;
  verifier: IdentityVerifier;
  log: Logger;
  /** the current HTTP invocation's Durable client (functions/runtime.ts: `() => durableClientScope.getStore()`) */
  durableClient: () => DurableClient | undefined;
  store?: RequestStore;
  credential?: TokenCredential;
  clock?: Clock;
  /** default QB_PUBLIC_BASE_URL */
  publicBaseUrl?: string;
  /** the pipeline's Executor port, for the review page's impact preview (built after the approval flow) */
  executor?: () => ApprovalExecutor | Promise<ApprovalExecutor>;
}

function durableOrchestrationClient(durableClient: () => DurableClient | undefined): OrchestrationClient {
  const client = (): DurableClient => {
    const c = durableClient();
    if (!c) throw new BrokerError('dependency_unavailable', 'The Durable Functions client is not available in this invocation.');
    return c;
  };
  return {
    async start(requestId, input) {
      await client().startNew(ORCHESTRATION_NAME, { instanceId: requestId, input });
    },
    async raiseDecision(requestId, event) {
      await client().raiseEvent(requestId, DECISION_EVENT, event);
    },
  };
}

/** Starter and what the review routes serve, for functions/runtime.ts. */
export function createAzureApprovals(deps: AzureApprovalsDeps): ApprovalWiring {
  const clock = deps.clock ?? systemClock;
  const store = deps.store ?? requestStoreFromSettings(deps.credential);
  const client = durableOrchestrationClient(deps.durableClient);
  const publicBaseUrl = deps.publicBaseUrl ?? readSetting('QB_PUBLIC_BASE_URL');
  const reviewUrl = publicBaseUrl ? (id: string) => reviewUrlOf(publicBaseUrl, id) : undefined;
  const starter = createApprovalStarter({ store, client, clock, log: deps.log, ...(reviewUrl ? { reviewUrl } : {}) });
  const decisions = createApprovalDecisions({ store, audit: deps.audit, policy: deps.policy, client, clock, log: deps.log });
  const review = {
    store,
    decisions,
    identity: { verifier: deps.verifier, platform: 'trust-on-app-service' as const, ...(deps.policy.tenant ? { tenant: deps.policy.tenant } : {}) },
    clock,
    // App Service Authentication's login; it returns to the review page afterwards.
    signInUrl: (next: string) => `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(next)}`,
    ...(reviewUrl ? { reviewUrl } : {}),
    ...(publicBaseUrl ? { publicBaseUrl } : {}),
    ...(deps.executor ? { impact: impactOf({ executor: deps.executor, policy: deps.policy }) } : {}),
  };
  return { starter, review, close: async () => undefined };
}

export interface AzureApprovalActivitiesDeps {
  /** the pipeline's Executor port */
  executor: ApprovalExecutor;
  policy: PolicyConfig;
  audit: AuditLog;
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  log: Logger;
  credential: TokenCredential;
  store?: RequestStore;
  clock?: Clock;
}

/**
 * The notifier of the activities: the approvals queue when Service Bus is configured, else (a
 * Function App without Service Bus) the Teams webhook directly.
 */
export function notifierFromSettings(credential: TokenCredential, secrets: SecretProvider, log: Logger): ApprovalNotifier {
  const namespace = readSetting('QB_SERVICE_BUS_NAMESPACE');
  if (namespace === undefined) return createTeamsWebhookNotifier({ webhookUrl: teamsWebhookUrlFromSettings(secrets), log });
  const sender = new ServiceBusClient(namespace, credential, { retryOptions: { maxRetries: 2, retryDelayInMs: 300 } }).createSender(
    readSetting('QB_APPROVALS_QUEUE') ?? DEFAULT_APPROVALS_QUEUE,
  );
  return createQueueNotifier(sender);
}

/** Activities for functions/approval.ts. */
export function createAzureApprovalActivities(deps: AzureApprovalActivitiesDeps): ApprovalActivities {
  const publicBaseUrl = publicBaseUrlFromSettings();
  return createApprovalActivities({
    store: deps.store ?? requestStoreFromSettings(deps.credential),
    audit: deps.audit,
    notifier: notifierFromSettings(deps.credential, deps.secrets, deps.log),
    executor: () => deps.executor,
    policy: deps.policy,
    secrets: deps.secrets,
    clock: deps.clock ?? systemClock,
    log: deps.log,
    reviewUrl: (id) => reviewUrlOf(publicBaseUrl, id),
    ...(deps.entraToken ? { entraToken: deps.entraToken } : {}),
  });
}
