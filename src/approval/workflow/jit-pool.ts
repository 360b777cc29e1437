/**
 * A one-connection pool under a just-in-time role, for exactly one approved statement: the admin
 * credential creates the role (member of the profile's dbRole, expiring by itself), the statement
 * runs as that role with the profile's session settings, and the role is always dropped after.
 */
import pg from 'pg';
import { BrokerError } from '../../errors.js';
import { createJitRole, dropJitRole, jitAdminConnection } from '../../db/jit.js';
import { connectWithCredentials, createConnectionCredentials } from '../../db/credentials.js';
import { sessionOptions, type PoolHandle } from '../../db/pools.js';
import type { ApprovedHandleOptions } from '../../engine/types.js';

/** Room for connecting on top of the statement timeout, within the role's lifetime. */
const CONNECT_MARGIN_MS = 30_000;

export type JitPoolOptions = ApprovedHandleOptions;

/** The connection's server, logged in as its `admin` credentials (the URL's user for `env`). */
export async function withJitPool<T>(o: JitPoolOptions, run: (handle: PoolHandle) => Promise<T>): Promise<T> {
  const adminConnection = jitAdminConnection(o.connection);
  if (!adminConnection) throw new BrokerError('internal_error', `The connection "${o.connectionName}" has no admin credentials for just-in-time roles.`);
  const grantRole = o.profile.dbRole;
  if (!grantRole) {
    throw new BrokerError('internal_error', `Approved statements on "${o.connectionName}" run under just-in-time roles, which need the profile's \`dbRole\` to grant; set one.`);
  }
  const credentialDeps = { secrets: o.secrets, name: o.connectionName, ...(o.entraToken ? { entraToken: o.entraToken } : {}) };
  const target = await createConnectionCredentials(o.connection, credentialDeps).target();
  const admin = await connectWithCredentials(createConnectionCredentials(adminConnection, credentialDeps), { applicationName: 'query-broker-jit-admin' });
  try {
    const jit = await createJitRole(admin, { requestId: o.requestId, grantRole, ttlMs: o.profile.statementTimeoutMs + CONNECT_MARGIN_MS });
    const pool = new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: jit.role,
      password: jit.password,
      ssl: target.ssl ? { rejectUnauthorized: true } : false,
      max: 1,
      connectionTimeoutMillis: 10_000,
      application_name: `query-broker-jit/${o.requestId.slice(0, 40)}`,
      options: sessionOptions(o.profile, o.mode),
    });
    // dropJitRole ends the role's sessions; that must not surface as an unhandled 'error' event.
    pool.on('error', () => {});
    const handle: PoolHandle = {
      pool,
      credentials: { target: async () => ({ ...target, user: jit.role }), password: async () => jit.password, invalidate() {} },
    };
    try {
      return await run(handle);
    } finally {
      await pool.end().catch(() => undefined);
      try {
        await dropJitRole(admin, jit.role);
      } catch (e) {
        // VALID UNTIL already bounds the role; the sweeper (functions/jit-sweeper.ts) drops it.
        o.log.warn('just-in-time role not dropped', { requestId: o.requestId, role: jit.role, error: e instanceof Error ? e.message : String(e) });
      }
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}
