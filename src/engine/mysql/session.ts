/**
 * One connection to a MySQL / MariaDB connection's server for the broker's own statements (the
 * just-in-time admin work, `qb doctor`): the connection's credentials (password or Entra token over
 * TLS, retried once after a rejected password), no session settings, closed by `close()`.
 * Agent SQL never runs here; it goes through the executor (execute.ts).
 */
import type mysql from 'mysql2';
import { BrokerError } from '../../errors.js';
import type { ConnectionConfig } from '../../policy/schema.js';
import { createConnectionCredentials, type ConnectionCredentials, type ConnectionCredentialsDeps } from '../../db/credentials.js';
import { acquireMysql, createMysqlHandle, killMysqlConnection, queryRows } from './pools.js';

export interface MysqlSession {
  /** one statement; `?` placeholders bound by mysql2 */
  query(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * `what` names the login in the error sentence ("the admin user of …"). `noDatabase`: log in without
 * the connection's default database (the admin user needs no privilege on it).
 */
export async function openMysqlSession(connection: ConnectionConfig, deps: ConnectionCredentialsDeps, what: string, options: { noDatabase?: boolean } = {}): Promise<MysqlSession> {
  const base = createConnectionCredentials(connection, deps);
  const credentials: ConnectionCredentials = options.noDatabase ? { ...base, target: async () => ({ ...(await base.target()), database: '' }) } : base;
  const handle = await createMysqlHandle(credentials, { statementTimeoutMs: 30_000, lockTimeoutMs: 10_000 }, 'write', {
    connectionLimit: 1,
    entra: connection.credentials.entra === true,
  });
  let conn: mysql.PoolConnection;
  try {
    conn = await acquireMysql(handle, 10_000);
  } catch (e) {
    await handle.end();
    // The driver's reason (access denied, refused), which never holds the password.
    const cause = e instanceof BrokerError && e.cause instanceof Error ? `: ${e.cause.message.split('\n')[0]!.slice(0, 300)}` : '';
    throw new BrokerError('dependency_unavailable', `Could not log in as ${what}${cause}.`, { cause: e });
  }
  return {
    query: (sql, values) => queryRows(conn, sql, values),
    async close() {
      killMysqlConnection(conn, 'done');
      await handle.end();
    },
  };
}
