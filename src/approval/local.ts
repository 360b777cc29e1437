/**
 * The approval flow of the local host (`npm start`, tests): the request store on Azurite, the
 * orchestrator in the in-process runner, Teams posted in-process (when a webhook is configured),
 * and the dev sign-in for the review page. Same store, rules, pages and orchestrator as in Azure.
 */
import { impactOf, type ImpactPreview } from './review/impact.js';
import type { Principal } from '../identity/principal.js';
import type { ApprovalRequestRecord } from './types.js';
import { ContainerClient } from '@azure/storage-blob';
import { systemClock, type AuditLog, type Clock, type IdentityVerifier, type SecretProvider } from '../broker/ports.js';
import type { ApprovalExecutor, ApprovalStarter, PendingApproval } from '../broker/types.js';
import type { PolicyConfig } from '../policy/schema.js';
import type { DevIssuer } from '../identity/dev-issuer.js';
import type { EntraTokenFunction } from '../db/credentials.js';
import type { Logger } from '../log.js';
import type { ApproverIdentityOptions } from './review/approver-identity.js';
import { createApprovalActivities } from './workflow/activities.js';
import { createBlobRequestStore, DEFAULT_REQUESTS_CONTAINER } from './store/blob-request-store.js';
import { createApprovalDecisions, type ApprovalDecisions } from './workflow/decide.js';
import { createInProcessRunner, type InProcessRunner } from './workflow/in-process-runner.js';
import { reviewUrlOf, type ApprovalNotifier } from './notify/notification.js';
import { approvalOrchestrator } from './workflow/orchestrator.js';
import type { RequestStore } from './store/request-store.js';
import { createApprovalStarter, type OrchestrationClient } from './workflow/start.js';
import { createTeamsWebhookNotifier, teamsWebhookUrlFromSettings } from './notify/teams-notifier.js';
import { DECISION_EVENT } from './types.js';

/**
 * What the request status route and the review page serve: the host's composition root
 * (src/compose.ts) mounts them on the app.
 */
export interface ApprovalReview {
  store: RequestStore;
  decisions: ApprovalDecisions;
  /** who may open the review page, and how a platform sign-in is trusted */
  identity: ApproverIdentityOptions;
  clock: Clock;
  /** the review page of a request on the public URL */
  reviewUrl?: (requestId: string) => string;
  /** where a browser without a session signs in; `next` is the page to return to */
  signInUrl: (next: string) => string;
  publicBaseUrl?: string;
  /** local host: the dev sign-in page */
  devIssuer?: DevIssuer;
  /** the impact preview of a held UPDATE/DELETE, as this approver's reads would see it */
  impact?: (record: ApprovalRequestRecord, approver: Principal) => Promise<ImpactPreview | undefined>;
}

export interface ApprovalWiring {
  starter: ApprovalStarter;
  review: ApprovalReview;
  close(): Promise<void>;
}

export interface LocalApprovalsDeps {
  policy: PolicyConfig;
  audit: AuditLog;
  verifier: IdentityVerifier;
  secrets: SecretProvider;
  /** the pipeline's Executor port; the pipeline is created after this wiring (it takes the starter), hence a function */
  executor: () => ApprovalExecutor | Promise<ApprovalExecutor>;
  /** URL of the local host, for links in cards and redirects, e.g. http://127.0.0.1:7071 */
  publicBaseUrl: string;
  log: Logger;
  /** Azurite connection string for the request store (or give `store`) */
  blobConnectionString?: string;
  /** container of the request store; default `requests` */
  requestsContainer?: string;
  store?: RequestStore;
  /** the dev issuer: enables the dev sign-in page */
  devIssuer?: DevIssuer;
  clock?: Clock;
  /** default: Teams webhook from QB_TEAMS_WEBHOOK_SECRET (an environment variable locally), else the link is logged */
  notifier?: ApprovalNotifier;
  entraToken?: EntraTokenFunction;
  /** how long approvers have; default the profile's `expiresAfterMinutes` (tests pass seconds) */
  expiresAfterMs?: (pending: PendingApproval) => number;
}

export interface LocalApprovals extends ApprovalWiring {
  store: RequestStore;
  runner: InProcessRunner;
}

export function createLocalApprovals(deps: LocalApprovalsDeps): LocalApprovals {
  const clock = deps.clock ?? systemClock;
  const store = deps.store ?? localStore(deps);
  const notifier = deps.notifier ?? createTeamsWebhookNotifier({ webhookUrl: teamsWebhookUrlFromSettings(deps.secrets), log: deps.log });
  const activities = createApprovalActivities({
    store,
    audit: deps.audit,
    notifier,
    executor: deps.executor,
    policy: deps.policy,
    secrets: deps.secrets,
    clock,
    log: deps.log,
    reviewUrl: (id) => reviewUrlOf(deps.publicBaseUrl, id),
    ...(deps.entraToken ? { entraToken: deps.entraToken } : {}),
  });
  const runner = createInProcessRunner({ orchestrator: approvalOrchestrator, activities, clock, log: deps.log });
  const client: OrchestrationClient = {
    async start(requestId, input) {
      runner.start(requestId, input);
    },
    async raiseDecision(requestId, event) {
      runner.raiseEvent(requestId, DECISION_EVENT, event);
    },
  };
  const reviewUrl = (id: string) => reviewUrlOf(deps.publicBaseUrl, id);
  const starter = createApprovalStarter({ store, client, clock, log: deps.log, reviewUrl, ...(deps.expiresAfterMs ? { expiresAfterMs: deps.expiresAfterMs } : {}) });
  const decisions = createApprovalDecisions({ store, audit: deps.audit, policy: deps.policy, client, clock, log: deps.log });
  const review: ApprovalReview = {
    store,
    decisions,
    identity: { verifier: deps.verifier, platform: 'refuse' },
    clock,
    reviewUrl,
    signInUrl: (next) => `/api/dev/sign-in?next=${encodeURIComponent(next)}`,
    publicBaseUrl: deps.publicBaseUrl,
    impact: impactOf({ executor: deps.executor, policy: deps.policy }),
    ...(deps.devIssuer ? { devIssuer: deps.devIssuer } : {}),
  };
  return { starter, review, store, runner, close: () => runner.close() };
}

function localStore(deps: LocalApprovalsDeps): RequestStore {
  if (!deps.blobConnectionString) throw new Error('createLocalApprovals needs `blobConnectionString` (Azurite) or a `store`.');
  const container = new ContainerClient(deps.blobConnectionString, deps.requestsContainer ?? DEFAULT_REQUESTS_CONTAINER);
  return createBlobRequestStore({ containerClient: container });
}
