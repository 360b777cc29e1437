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
  const connections = new ConnectionRuntime(o.policy, { secrets: o.secrets, ...(o.entraToken ? { entraToken: o.entraToken } : {}) });
  const broker = new Broker({
    policy: o.policy,
    audit: withEventPublishing(o.audit, o.events, { logger: o.log }),
    events: o.events,
    connections,
    clock: o.clock ?? systemClock,
    log: o.log,
    ...(o.hashKey ? { hashKey: o.hashKey } : {}),
    ...(o.approvals ? { approvals: o.approvals } : {}),
  });
  const app = createApp({
    broker,
    verifier: o.verifier,
    log: o.log,
    health: async () => ({ audit: (await o.audit.ping().catch(() => false)) ? 'ok' : 'unavailable', policy: 'ok' }),
    ...(o.devIssuer ? { devIssuer: o.devIssuer } : {}),
    ...(o.routes ? { routes: o.routes } : {}),
  });
  return { app, broker, connections, close: () => connections.close() };
}
