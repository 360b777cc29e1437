import { serve, type ServerType } from '@hono/node-server';
import { createRemoteJWKSet } from 'jose';
import type { PolicyConfig } from '../policy/schema.js';
import { createDevIssuer, type DevIssuer } from '../identity/dev-issuer.js';
import { createTokenVerifier } from '../identity/verify.js';
import { createBrokerRuntime, type BrokerRuntime } from '../broker/runtime.js';
import { createBlobAuditLog, createAuditContainerClient } from '../audit/blob-log.js';
import { createInProcessPublisher } from '../events/in-process.js';
import { createEnvSecretProvider } from '../secrets/env.js';
import { createJsonLogger, type Logger } from '../log.js';
import type { AuditLog } from '../broker/ports.js';
import { freePort } from './postgres.js';

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
}

export interface LocalBroker {
  url: string;
  port: number;
  devIssuer: DevIssuer;
  runtime: BrokerRuntime;
  audit: AuditLog;
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
  const devIssuer = await createDevIssuer({ issuer: `${base}/api/dev`, audience: o.policy.audience });
  const verifier = createTokenVerifier({
    audience: o.policy.audience,
    issuers: [devIssuer.issuer],
    keys: createRemoteJWKSet(new URL(`${base}/api/dev/jwks`)),
  });
  const audit: AuditLog = o.audit ?? blobAudit(o.blobConnectionString, o.auditContainer ?? 'audit');
  const runtime = await createBrokerRuntime({
    policy: o.policy,
    verifier,
    audit,
    events: createInProcessPublisher(),
    secrets: createEnvSecretProvider(),
    log,
    devIssuer,
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
    token: (claims) => devIssuer.issue(claims),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await runtime.close();
    },
  };
}
