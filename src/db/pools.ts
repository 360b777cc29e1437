import pg from 'pg';
import { pgPassword, type ConnectionCredentials } from './credentials.js';
import type { ProfileConfig } from '../policy/schema.js';
import { resetOnRelease } from './session-reset.js';
import { identityStartupOptions } from './identity.js';

export type ExecutionMode = 'read' | 'write';

export interface PoolHandle {
  pool: pg.Pool;
  credentials: ConnectionCredentials;
}

/** Whether an engine's opaque handle is a PostgreSQL pool's. */
export function isPoolHandle(handle: unknown): handle is PoolHandle {
  return typeof handle === 'object' && handle !== null && (handle as { pool?: unknown }).pool instanceof pg.Pool;
}

/**
 * Session settings fixed when a connection opens, so no statement of the agent can relax them:
 * the profile's role, read-only transactions for reads, timeouts, and a dead-client check that
 * cancels a statement whose HTTP request was abandoned (the executor drops the socket).
 * Start-up options are what the session reset (DISCARD ALL) returns to: after every request the
 * connection has exactly these settings and this role again, whatever the statement's code changed.
 */
export function sessionOptions(profile: ProfileConfig, mode: ExecutionMode): string {
  const opts = [
    `statement_timeout=${profile.statementTimeoutMs}`,
    `lock_timeout=${profile.lockTimeoutMs}`,
    `idle_in_transaction_session_timeout=${Math.max(profile.statementTimeoutMs * 2, 10_000)}`,
    'client_connection_check_interval=1000',
    // The server must lex strings exactly as libpg-query did (backslashes are not escapes).
    'standard_conforming_strings=on',
    `default_transaction_read_only=${mode === 'read' ? 'on' : 'off'}`,
    // qb.* defined (empty) for the whole session: a DBA's current_setting('qb.principal_oid') reads ''
    // outside a request instead of failing; each statement sets them for its transaction (identity.ts).
    ...identityStartupOptions(),
  ];
  if (profile.dbRole) opts.unshift(`role=${profile.dbRole}`);
  return opts.map((o) => `-c ${o}`).join(' ');
}

/** One pool per connection, profile and mode; created on first use, kept warm. */
export class PoolRegistry {
  private readonly pools = new Map<string, Promise<PoolHandle>>();

  constructor(
    private readonly credentialsFor: (connection: string) => ConnectionCredentials,
    private readonly poolSize: (connection: string) => number,
  ) {}

  /** `maxConnections` caps this pool below the connection's pool size (the catalog pools need few). */
  get(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode, maxConnections?: number): Promise<PoolHandle> {
    const key = `${connection}\u0000${profileName}\u0000${mode}`;
    let handle = this.pools.get(key);
    if (!handle) {
      handle = this.create(connection, profileName, profile, mode, maxConnections);
      this.pools.set(key, handle);
      handle.catch(() => this.pools.delete(key));
    }
    return handle;
  }

  private async create(connection: string, profileName: string, profile: ProfileConfig, mode: ExecutionMode, maxConnections: number | undefined): Promise<PoolHandle> {
    const credentials = this.credentialsFor(connection);
    const target = await credentials.target();
    const pool = new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      ssl: target.ssl ? { rejectUnauthorized: true } : false,
      password: pgPassword(credentials),
      max: Math.min(this.poolSize(connection), maxConnections ?? Number.POSITIVE_INFINITY),
      idleTimeoutMillis: 60_000,
      connectionTimeoutMillis: 5_000,
      application_name: `query-broker/${profileName}/${mode}`,
      options: sessionOptions(profile, mode),
    });
    // An idle client's error (server restart, network) must not crash the process.
    pool.on('error', () => {});
    // Nothing survives a use of a connection (session-reset.ts), whoever used it.
    resetOnRelease(pool);
    return { pool, credentials };
  }

  async closeAll(): Promise<void> {
    const handles = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(handles.map(async (h) => (await h).pool.end()));
  }
}
