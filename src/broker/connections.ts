import type { PolicyConfig, ProfileConfig } from '../policy/schema.js';
import type { SecretProvider } from './ports.js';
import type { ExecutionMode } from '../db/pools.js';
import { createConnectionCredentials, type ConnectionCredentials } from '../db/credentials.js';
import { engineFor, type AnyEngine, type EngineCatalog, type EngineName, type EnginePools } from '../engine/index.js';
import { BrokerError } from '../errors.js';

function catalogKey(connection: string, dbRole: string | undefined): string {
  return dbRole === undefined ? connection : `${connection}\u0000${dbRole}`;
}

/**
 * Everything the broker holds per configured connection: its engine, credentials, warm pools per
 * profile and mode, and the cached catalogs the analyzer and the masker consult. Handles and
 * catalogs are the engine's own; only the engine looks inside them.
 */
export class ConnectionRuntime {
  private readonly credentials = new Map<string, ConnectionCredentials>();
  private readonly catalogs = new Map<string, EngineCatalog>();
  private readonly pools = new Map<EngineName, EnginePools<unknown>>();

  constructor(
    private readonly policy: PolicyConfig,
    private readonly deps: { secrets: SecretProvider; entraToken?: () => Promise<string> },
  ) {}

  /** The engine of a configured connection. */
  engine(connection: string): AnyEngine {
    const config = this.policy.connections[connection];
    if (!config) throw new BrokerError('internal_error', `No connection "${connection}" is configured.`);
    return engineFor(config.engine);
  }

  credentialsOf(name: string): ConnectionCredentials {
    let c = this.credentials.get(name);
    if (!c) {
      const config = this.policy.connections[name];
      if (!config) throw new Error(`unknown connection ${name}`);
      c = createConnectionCredentials(config, this.deps);
      this.credentials.set(name, c);
    }
    return c;
  }

  /** The pools of the connection's engine (one registry per engine). */
  private poolsOf(connection: string): { engine: AnyEngine; pools: EnginePools<unknown> } {
    const engine = this.engine(connection);
    let pools = this.pools.get(engine.name);
    if (!pools) {
      pools = engine.createPools(
        (name) => this.credentialsOf(name),
        (name) => this.policy.connections[name]?.poolSize ?? 10,
        (name) => this.policy.connections[name],
      );
      this.pools.set(engine.name, pools);
    }
    return { engine, pools };
  }

  /** A warm pool of the connection for a profile and mode, as the engine's own handle. */
  pool(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode): Promise<unknown> {
    return this.poolsOf(connection).pools.get(connection, profileName, profile, mode);
  }

  /**
   * The catalog of a connection as seen by one database role (the profile's `dbRole`, or the login
   * role): functions, relations, columns, views, keys and the schema listing, one cache.
   */
  catalog(connection: string, dbRole?: string): EngineCatalog {
    const key = catalogKey(connection, dbRole);
    let c = this.catalogs.get(key);
    if (!c) {
      const { engine, pools } = this.poolsOf(connection);
      c = engine.createCatalog(pools, connection, dbRole ?? null);
      this.catalogs.set(key, c);
    }
    return c;
  }

  /** Forget what is cached about a connection, for every role (after DDL). */
  invalidateCatalogs(connection: string): void {
    const prefix = catalogKey(connection, undefined);
    for (const [key, c] of this.catalogs) {
      if (key !== prefix && !key.startsWith(`${prefix}\u0000`)) continue;
      c.invalidate();
      this.catalogs.delete(key);
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.closeAll()));
  }
}
