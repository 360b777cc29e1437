import { serve, type ServerType } from '@hono/node-server';
import { createRemoteJWKSet } from 'jose';
import type { PolicyConfig } from '../policy/schema.js';
import { createDevIssuer, type DevIssuer } from '../identity/dev-issuer.js';
import { createTokenVerifier } from '../identity/verify.js';
import { audiencesOf, primaryAudience } from '../identity/audience.js';
import { createBrokerRuntime, type BrokerRuntime } from '../compose.js';
import { createBlobAuditLog, createAuditContainerClient } from '../audit/blob-log.js';
import { createInProcessPublisher, type InProcessPublisher } from '../events/in-process.js';
import { withEventPublishing } from '../audit/publishing-log.js';
import { createEnvSecretProvider } from '../secrets/env.js';
import { createJsonLogger, type Logger } from '../log.js';
import type { AuditLog } from '../broker/ports.js';
import { freePort } from './postgres.js';
import { createLocalApprovals, type LocalApprovals, type LocalApprovalsDeps } from '../approval/local.js';

function blobAudit(connectionString: string, container: string): AuditLog {
  return createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString, container }) });
}

export interface LocalBrokerOptions {
  policy: PolicyConfig;
  /** Blob Storage (Azurite) connection string for the audit log */
  blobConnectionString: string;
  auditContainer?: string;
  /** 0 or undefined: a free port */
  port?: number;
  log?: Logger;
  /** replace the Blob audit log (benchmarks: audit off) */
  audit?: AuditLog;
  /** host name of approval links (the review page, the notification), e.g. `localhost` as the banner prints; default 127.0.0.1 */
  publicHost?: string;
  /** approval flow knobs (tests: a short expiry, a notifier, a store container); the flow is always on */
  approvals?: Pick<Partial<LocalApprovalsDeps>, 'expiresAfterMs' | 'notifier' | 'requestsContainer' | 'clock'>;
}

export interface LocalBroker {
  url: string;
  port: number;
  devIssuer: DevIssuer;
  runtime: BrokerRuntime;
  audit: AuditLog;
  /** the in-process publisher of broker events (Service Bus in Azure) */
  publisher: InProcessPublisher;
  /** the in-process approval flow (its request store and runner) */
  approvals: LocalApprovals;
  /** a dev token for these claims */
  token(claims: { sub: string; roles?: string[]; groups?: string[]; name?: string; oid?: string; idtyp?: 'app' | 'user'; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

/**
 * The local host: the same Hono app as in Azure, served by @hono/node-server, with the dev issuer
 * (tokens checked by the same verifier through its JWKS over HTTP), the Blob audit log on Azurite,
 * environment-variable secrets and in-process events.
 */
export async function startLocalBroker(o: LocalBrokerOptions): Promise<LocalBroker> {
  const port = o.port || (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const log = o.log ?? createJsonLogger();
  const devIssuer = await createDevIssuer({ issuer: `${base}/api/dev`, audience: primaryAudience(o.policy.audience) });
  const verifier = createTokenVerifier({
    audience: audiencesOf(o.policy.audience),
    issuers: [devIssuer.issuer],
    keys: createRemoteJWKSet(new URL(`${base}/api/dev/jwks`)),
  });
  const events = createInProcessPublisher({ logger: log });
  // One log for the pipeline and the approval workflow, so approval events are published too.
  const audit: AuditLog = withEventPublishing(o.audit ?? blobAudit(o.blobConnectionString, o.auditContainer ?? 'audit'), events, { logger: log });
  const secrets = createEnvSecretProvider();
  // The approval runner executes through the pipeline, which is built next (it takes the starter).
  const approvals = createLocalApprovals({
    policy: o.policy,
    audit,
    verifier,
    secrets,
    log,
    devIssuer,
    publicBaseUrl: o.publicHost ? `http://${o.publicHost}:${port}` : base,
    blobConnectionString: o.blobConnectionString,
    executor: () => runtime.broker,
    ...o.approvals,
  });
  const runtime = await createBrokerRuntime({
    policy: o.policy,
    verifier,
    audit,
    secrets,
    log,
    devIssuer,
    approvals,
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: runtime.app.fetch, port, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: base,
    port,
    devIssuer,
    runtime,
    audit,
    publisher: events,
    approvals,
    token: (claims) => devIssuer.issue(claims),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await approvals.close();
      await runtime.close();
    },
  };
}
