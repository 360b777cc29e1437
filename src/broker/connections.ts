import type { PolicyConfig, ProfileConfig } from '../policy/schema.js';
import type { SecretProvider } from './ports.js';
import { PoolRegistry, type ExecutionMode, type PoolHandle } from '../db/pools.js';
import { createConnectionCredentials, type ConnectionCredentials } from '../db/credentials.js';
import type { ColumnCatalog, ConnectionCatalog, FunctionCatalog } from '../db/catalog/index.js';
import { engineFor } from '../engine/index.js';
import type { Queryable } from '../db/types.js';

/** The catalog connection runs as the login role itself, read-only, with short timeouts. */
const CATALOG_PROFILE: ProfileConfig = {
  match: { roles: [], groups: [], oids: [] },
  connections: [],
  access: 'read',
  maxRows: 100_000,
  maxResultBytes: 64 * 1024 * 1024,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 1000,
  allowVolatile: [],
};

/** Catalog look-ups are few and short (answers are cached): a pool per role needs few connections. */
const CATALOG_POOL_SIZE = 3;

function catalogKey(connection: string, dbRole: string | undefined): string {
  return dbRole === undefined ? connection : `${connection}\u0000${dbRole}`;
}

/**
 * Everything the broker holds per configured connection: credentials, warm pools per profile and
 * mode, and the cached catalogs the analyzer and the masker consult.
 */
export class ConnectionRuntime {
  readonly pools: PoolRegistry;
  private readonly credentials = new Map<string, ConnectionCredentials>();
  private readonly catalogs = new Map<string, ConnectionCatalog>();

  constructor(
    private readonly policy: PolicyConfig,
    private readonly deps: { secrets: SecretProvider; entraToken?: () => Promise<string> },
  ) {
    this.pools = new PoolRegistry(
      (name) => this.credentialsOf(name),
      (name) => this.policy.connections[name]?.poolSize ?? 10,
    );
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

  pool(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode): Promise<PoolHandle> {
    return this.pools.get(connection, profileName, profile, mode);
  }

  /**
   * Runs catalog look-ups read-only on the connection's login role, or as `dbRole` when given: a
   * name resolves on the search_path of the role that runs the statement ("$user" is that role).
   */
  catalogQueryable(connection: string, dbRole?: string): Queryable {
    const profile: ProfileConfig = dbRole === undefined ? CATALOG_PROFILE : { ...CATALOG_PROFILE, dbRole };
    const poolName = dbRole === undefined ? '$catalog' : `$catalog:${dbRole}`;
    return {
      query: async <R extends Record<string, unknown>>(text: string, values?: unknown[]) => {
        const handle = await this.pools.get(connection, poolName, profile, 'read', CATALOG_POOL_SIZE);
        const r = await handle.pool.query<R>(text, values);
        return { rows: r.rows };
      },
    };
  }

  /**
   * The catalog of a connection as seen by one database role (the profile's `dbRole`, or the login
   * role): functions, relations, columns, views, keys and the schema listing, one cache (db/catalog).
   */
  catalog(connection: string, dbRole?: string): ConnectionCatalog {
    const key = catalogKey(connection, dbRole);
    let c = this.catalogs.get(key);
    if (!c) {
      const engine = engineFor(this.policy.connections[connection]?.engine ?? 'postgres');
      c = engine.createCatalog({ asRole: this.catalogQueryable(connection, dbRole), asLogin: this.catalogQueryable(connection), role: dbRole ?? null });
      this.catalogs.set(key, c);
    }
    return c;
  }

  /** Function facts, with unqualified names resolved as `dbRole` (the profile's role) would resolve them. */
  functionCatalog(connection: string, dbRole?: string): FunctionCatalog {
    return this.catalog(connection, dbRole).functions;
  }

  /** Relations and columns, with table names resolved as `dbRole` (the profile's role) would resolve them. */
  columnCatalog(connection: string, dbRole?: string): ColumnCatalog {
    return this.catalog(connection, dbRole).relations;
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
    await this.pools.closeAll();
  }
}
