/**
 * The composition root both hosts call (functions/runtime.ts in Azure, src/local/host.ts locally):
 * the pipeline from its ports, then the HTTP app from the pipeline and the capabilities each route
 * group needs. This is the one module that imports both the core and src/http; the core never
 * imports src/http (test/unit/architecture/imports.test.ts).
 */
import type { AuditLog, Clock, IdentityVerifier, SecretProvider } from './broker/ports.js';
import { systemClock } from './broker/ports.js';
import type { PolicyConfig } from './policy/schema.js';
import type { Logger } from './log.js';
import type { DevIssuer } from './identity/dev-issuer.js';
import { Broker } from './broker/pipeline.js';
import { ConnectionRuntime } from './broker/connections.js';
import type { ApprovalWiring, ApprovalReview } from './approval/local.js';
import { createApp, type AppDeps, type BrokerApp, type RouteGroup } from './http/app.js';
import { loadSqlParser } from './sql/parser.js';
import { entraIssuers } from './identity/verify.js';
import { primaryAudience } from './identity/audience.js';
import { createSchemaDiscovery, registerConnectionRoutes } from './http/routes/connections.js';
import { registerSessionRoutes } from './http/routes/sessions.js';
import { registerWellKnownRoutes } from './http/routes/well-known.js';
import { registerMcpRoutes } from './http/routes/mcp.js';
import { approvalRoutes, devSignInRoutes } from './http/routes/approvals.js';
import { inboxRoutes } from './http/routes/approval-inbox.js';
import { requestRoutes, requestStatusOf, type RequestRouteDeps } from './http/routes/requests.js';

export interface RuntimeOptions {
  policy: PolicyConfig;
  verifier: IdentityVerifier;
  /**
   * The one audit log of this host, already announcing every record on the event publisher
   * (`withEventPublishing`): the approval workflow, built before the runtime, appends to the same
   * object, so its events reach subscribers like the pipeline's.
   */
  audit: AuditLog;
  secrets: SecretProvider;
  log: Logger;
  clock?: Clock;
  devIssuer?: DevIssuer;
  entraToken?: () => Promise<string>;
  hashKey?: Uint8Array;
  /** the approval workflow (its starter, and what its request status and review routes serve) */
  approvals?: Pick<ApprovalWiring, 'starter' | 'review'>;
  /** more route groups, mounted after the broker's own */
  routes?: RouteGroup[];
  deepHealth?: AppDeps['deepHealth'];
}

export interface BrokerRuntime {
  app: BrokerApp;
  broker: Broker;
  connections: ConnectionRuntime;
  policy: PolicyConfig;
  /** the audit log the pipeline and the approval workflow append to (events published after each append) */
  audit: AuditLog;
  log: Logger;
  close(): Promise<void>;
}

/** The request status and review routes of the approval workflow. */
function approvalRouteGroups(policy: PolicyConfig, log: Logger, review: ApprovalReview, status: RequestRouteDeps): RouteGroup[] {
  const groups: RouteGroup[] = [
    requestRoutes(status),
    inboxRoutes({ policy, store: review.store, clock: review.clock, identity: review.identity, signInUrl: review.signInUrl }),
    approvalRoutes({
      policy,
      decisions: review.decisions,
      identity: review.identity,
      clock: review.clock,
      log,
      signInUrl: review.signInUrl,
      ...(review.publicBaseUrl === undefined ? {} : { publicBaseUrl: review.publicBaseUrl }),
      ...(review.impact ? { impact: review.impact } : {}),
    }),
  ];
  if (review.devIssuer) groups.push(devSignInRoutes({ devIssuer: review.devIssuer }));
  return groups;
}

/** Wire the pipeline and the HTTP app from adapters; each host (Functions, local) calls this once. */
export async function createBrokerRuntime(o: RuntimeOptions): Promise<BrokerRuntime> {
  await loadSqlParser();
  // The `hash` masker's HMAC key comes from the secret provider, never from the policy file.
  const hashKey = o.hashKey ?? (o.policy.masking.hashKeySecret ? new TextEncoder().encode(await o.secrets.getSecret(o.policy.masking.hashKeySecret)) : undefined);
  const connections = new ConnectionRuntime(o.policy, { secrets: o.secrets, ...(o.entraToken ? { entraToken: o.entraToken } : {}) });
  const policy = o.policy;
  const log = o.log;
  const audit = o.audit;
  const broker = new Broker({
    policy,
    audit,
    executor: connections,
    catalog: connections,
    clock: o.clock ?? systemClock,
    ...(hashKey ? { hashKey } : {}),
    ...(o.approvals ? { approvals: o.approvals.starter } : {}),
  });
  // Agent interfaces: discovery, sessions (auditors), OAuth resource metadata and MCP, then the approval workflow's.
  const schema = createSchemaDiscovery({ policy, connections, log });
  const authorizationServers = o.devIssuer ? [o.devIssuer.issuer] : policy.tenant ? entraIssuers(policy.tenant).slice(0, 1) : [];
  const review = o.approvals?.review;
  const status: RequestRouteDeps | undefined = review ? { policy, store: review.store, clock: review.clock, ...(review.reviewUrl ? { reviewUrl: review.reviewUrl } : {}) } : undefined;
  const routes: RouteGroup[] = [
    (app, auth) => registerConnectionRoutes(app, auth, { policy, schema }),
    (app, auth) => registerSessionRoutes(app, auth, { policy, audit: o.audit, log }),
    (app, auth) => registerWellKnownRoutes(app, auth, { audience: primaryAudience(policy.audience), authorizationServers }),
    (app, auth) =>
      registerMcpRoutes(app, auth, { broker, policy, schema, log, ...(status ? { requestStatus: (principal, requestId) => requestStatusOf(status, principal, requestId) } : {}) }),
    ...(review && status ? approvalRouteGroups(policy, log, review, status) : []),
    ...(o.routes ?? []),
  ];
  const app = createApp({
    broker,
    policy,
    verifier: o.verifier,
    log,
    health: async () => ({ audit: (await o.audit.ping().catch(() => false)) ? 'ok' : 'unavailable', policy: 'ok' }),
    ...(o.devIssuer ? { devIssuer: o.devIssuer } : {}),
    ...(o.deepHealth ? { deepHealth: o.deepHealth } : {}),
    routes,
  });
  return { app, broker, connections, policy, audit, log, close: () => connections.close() };
}
