/**
 * The broker pipeline without HTTP: the same composition the hosts use (createBrokerRuntime), with
 * principals that come out of the real token verifier (dev issuer keys, local JWKS: no network).
 */
import { createLocalJWKSet } from 'jose';
import { createBrokerRuntime, type BrokerRuntime } from '../../src/compose.js';
import { createDevIssuer, type DevIssuer } from '../../src/identity/dev-issuer.js';
import { createTokenVerifier } from '../../src/identity/verify.js';
import { audiencesOf, primaryAudience, type AudienceSetting } from '../../src/identity/audience.js';
import { createInProcessPublisher } from '../../src/events/in-process.js';
import { withEventPublishing } from '../../src/audit/publishing-log.js';
import { createEnvSecretProvider } from '../../src/secrets/env.js';
import { silentLogger } from '../../src/log.js';
import type { AuditLog, IdentityVerifier, Principal } from '../../src/broker/ports.js';
import type { PolicyConfig, ProfileConfig } from '../../src/policy/schema.js';
import type { ConnectionRuntime } from '../../src/broker/connections.js';
import type { ConnectionCatalog } from '../../src/db/catalog/index.js';
import { isPoolHandle, type ExecutionMode, type PoolHandle } from '../../src/db/pools.js';

export const BENCH_ISSUER = 'http://bench.invalid/api/dev';

export interface InProcessBroker {
  runtime: BrokerRuntime;
  issuer: DevIssuer;
  verifier: IdentityVerifier;
  /** a verified principal for these claims (signed by the dev issuer, checked by the verifier) */
  principal(sub: string, roles: string[]): Promise<Principal>;
  close(): Promise<void>;
}

export async function createDevVerifier(audience: AudienceSetting): Promise<{ issuer: DevIssuer; verifier: IdentityVerifier }> {
  const issuer = await createDevIssuer({ issuer: BENCH_ISSUER, audience: primaryAudience(audience) });
  const verifier = createTokenVerifier({ audience: audiencesOf(audience), issuers: [issuer.issuer], keys: createLocalJWKSet(issuer.jwks()) });
  return { issuer, verifier };
}

export async function createInProcessBroker(policy: PolicyConfig, audit: AuditLog): Promise<InProcessBroker> {
  const { issuer, verifier } = await createDevVerifier(policy.audience);
  const runtime = await createBrokerRuntime({
    policy,
    verifier,
    // as the hosts do: every record announced on the (here unsubscribed) publisher
    audit: withEventPublishing(audit, createInProcessPublisher()),
    secrets: createEnvSecretProvider(),
    log: silentLogger,
  });
  return {
    runtime,
    issuer,
    verifier,
    async principal(sub, roles) {
      return await verifier.verify(`Bearer ${await issuer.issue({ sub, roles, name: `Bench ${sub}` })}`);
    },
    close: () => runtime.close(),
  };
}

/**
 * The PostgreSQL parts of a connection the stage benchmarks time one by one (the pipeline reaches
 * them through the engine): its catalog and the engine's pool handles.
 */
export function postgresParts(connections: ConnectionRuntime, connection: string): { catalog: ConnectionCatalog; pool: (profileName: string, profile: ProfileConfig, mode: ExecutionMode) => Promise<PoolHandle> } {
  if (connections.engine(connection).name !== 'postgres') throw new Error(`${connection} is not a postgres connection`);
  return {
    // The postgres engine's catalogs are ConnectionCatalogs (engine/postgres.ts).
    catalog: connections.catalog(connection) as ConnectionCatalog,
    pool: async (profileName, profile, mode) => {
      const handle = await connections.pool(connection, profileName, profile, mode);
      if (!isPoolHandle(handle)) throw new Error('not a PostgreSQL pool');
      return handle;
    },
  };
}
