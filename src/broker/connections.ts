import type { PolicyConfig, ProfileConfig } from '../policy/schema.js';
import type { SecretProvider } from './ports.js';
import { PoolRegistry, type ExecutionMode, type PoolHandle } from '../db/pools.js';
import { createConnectionCredentials, type ConnectionCredentials } from '../db/credentials.js';
import { createFunctionCatalog, type FunctionCatalog } from '../sql/functions-catalog.js';
import { createColumnCatalog, type ColumnCatalog } from '../masking/index.js';
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

interface PerConnection {
  functions: FunctionCatalog;
  columns: ColumnCatalog;
}

/**
 * Everything the broker holds per configured connection: credentials, warm pools per profile and
 * mode, and the cached catalogs the analyzer and the masker consult.
 */
export class ConnectionRuntime {
  readonly pools: PoolRegistry;
  private readonly credentials = new Map<string, ConnectionCredentials>();
  private readonly catalogs = new Map<string, PerConnection>();

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

  /** Runs catalog look-ups on the connection's own login role, read-only. */
  catalogQueryable(connection: string): Queryable {
    return {
      query: async <R extends Record<string, unknown>>(text: string, values?: unknown[]) => {
        const handle = await this.pools.get(connection, '$catalog', CATALOG_PROFILE, 'read');
        const r = await handle.pool.query<R>(text, values);
        return { rows: r.rows };
      },
    };
  }

  private catalogsFor(connection: string): PerConnection {
    let c = this.catalogs.get(connection);
    if (!c) {
      const q = this.catalogQueryable(connection);
      c = { functions: createFunctionCatalog(q), columns: createColumnCatalog(q) };
      this.catalogs.set(connection, c);
    }
    return c;
  }

  functionCatalog(connection: string): FunctionCatalog {
    return this.catalogsFor(connection).functions;
  }

  columnCatalog(connection: string): ColumnCatalog {
    return this.catalogsFor(connection).columns;
  }

  invalidateCatalogs(connection: string): void {
    this.catalogs.get(connection)?.columns.invalidate();
    this.catalogs.delete(connection);
  }

  async close(): Promise<void> {
    await this.pools.closeAll();
  }
}
