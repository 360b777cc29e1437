import type { AuditLog, Clock, EventPublisher, IdentityVerifier, SecretProvider } from './ports.js';
import { systemClock } from './ports.js';
import type { PolicyConfig } from '../policy/schema.js';
import type { Logger } from '../log.js';
import type { DevIssuer } from '../identity/dev-issuer.js';
import { Broker, type ApprovalStarter } from './pipeline.js';
import { ConnectionRuntime } from './connections.js';
import { createApp, type AppDeps, type BrokerApp } from '../http/app.js';
import { loadSqlParser } from '../sql/parser.js';
import { withEventPublishing } from '../audit/publishing-log.js';
import { entraIssuers } from '../identity/verify.js';
import { primaryAudience } from '../identity/audience.js';
import { createSchemaDiscovery, registerConnectionRoutes } from '../http/routes/connections.js';
import { registerSessionRoutes } from '../http/routes/sessions.js';
import { registerWellKnownRoutes } from '../http/routes/well-known.js';
import { registerMcpRoutes } from '../http/routes/mcp.js';

export interface RuntimeOptions {
  policy: PolicyConfig;
  verifier: IdentityVerifier;
  audit: AuditLog;
  events: EventPublisher;
  secrets: SecretProvider;
  log: Logger;
  clock?: Clock;
  devIssuer?: DevIssuer;
  entraToken?: () => Promise<string>;
  hashKey?: Uint8Array;
  approvals?: ApprovalStarter;
  routes?: AppDeps['routes'];
  deepHealth?: AppDeps['deepHealth'];
}

export interface BrokerRuntime {
  app: BrokerApp;
  broker: Broker;
  connections: ConnectionRuntime;
  close(): Promise<void>;
}

/** Wire the pipeline and the HTTP app from adapters; each host (Functions, local) calls this once. */
export async function createBrokerRuntime(o: RuntimeOptions): Promise<BrokerRuntime> {
  await loadSqlParser();
  // The `hash` masker's HMAC key comes from the secret provider, never from the policy file.
  const hashKey = o.hashKey ?? (o.policy.masking.hashKeySecret ? new TextEncoder().encode(await o.secrets.getSecret(o.policy.masking.hashKeySecret)) : undefined);
  const connections = new ConnectionRuntime(o.policy, { secrets: o.secrets, ...(o.entraToken ? { entraToken: o.entraToken } : {}) });
  const broker = new Broker({
    policy: o.policy,
    audit: withEventPublishing(o.audit, o.events, { logger: o.log }),
    events: o.events,
    connections,
    clock: o.clock ?? systemClock,
    log: o.log,
    ...(hashKey ? { hashKey } : {}),
    ...(o.approvals ? { approvals: o.approvals } : {}),
  });
  // Agent interfaces: discovery, sessions (auditors), OAuth resource metadata and MCP, then the host's own groups.
  const schema = createSchemaDiscovery(broker);
  const authorizationServers = o.devIssuer ? [o.devIssuer.issuer] : o.policy.tenant ? entraIssuers(o.policy.tenant).slice(0, 1) : [];
  const routes: NonNullable<AppDeps['routes']> = [
    (app, auth) => registerConnectionRoutes(app, auth, { broker, schema }),
    (app, auth) => registerSessionRoutes(app, auth, { broker }),
    (app, auth) => registerWellKnownRoutes(app, auth, { audience: primaryAudience(o.policy.audience), authorizationServers }),
    (app, auth) => registerMcpRoutes(app, auth, { broker, schema }),
    ...(o.routes ?? []),
  ];
  const app = createApp({
    broker,
    verifier: o.verifier,
    log: o.log,
    health: async () => ({ audit: (await o.audit.ping().catch(() => false)) ? 'ok' : 'unavailable', policy: 'ok' }),
    ...(o.devIssuer ? { devIssuer: o.devIssuer } : {}),
    ...(o.deepHealth ? { deepHealth: o.deepHealth } : {}),
    routes,
  });
  return { app, broker, connections, close: () => connections.close() };
}
