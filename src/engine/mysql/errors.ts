/**
 * MySQL/MariaDB errors as the broker reads them (the engine seam's error mapping):
 *
 * - `mysqlErrorInfo(e)`: a server refusal as { sqlstate, message, vendorCode: errno, kind? } for
 *   the sanitizer; undefined for anything that is not a refusal by a reachable server.
 * - `isMysqlUnavailable(info)`: the codes that mean "the database cannot be reached or will not
 *   take us now" (503 dependency_unavailable), not "the database refused this statement".
 * - `toMysqlFailure(e)`: what the executor throws: DatabaseFailure for a refusal, BrokerError
 *   dependency_unavailable (with a retry sentence) for everything else.
 */
import { BrokerError } from '../../errors.js';
import { AffectedRowsOverLimit, DatabaseFailure } from '../../db/execute.js';
import type { EngineErrorInfo } from '../types.js';

/** ER_QUERY_TIMEOUT (MySQL 8 max_execution_time), ER_STATEMENT_TIMEOUT (MariaDB max_statement_time) */
const TIMEOUT_ERRNOS = new Set([3024, 1969]);
/** ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION */
const READ_ONLY_ERRNO = 1792;

/**
 * Connection-level refusals: too many connections, access denied (login), unknown database, host
 * blocked or not allowed, per-user connection limits, an expired password, server shutdown or
 * connection killed, and the client-side 2xxx codes (cannot connect, server gone, lost connection).
 */
const UNAVAILABLE_ERRNOS = new Set([
  1040, 1044, 1045, 1049, 1053, 1077, 1129, 1130, 1152, 1153, 1158, 1159, 1160, 1161, 1184, 1203, 1226, 1251, 1820, 1862, 1927, 2002, 2003, 2005,
  2006, 2013, 2026, 2055, 3159, 3169, 4031,
]);

/** Socket and protocol failures mysql2 reports with a code but no server errno. */
const UNAVAILABLE_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|ENOENT|PROTOCOL_CONNECTION_LOST|PROTOCOL_SEQUENCE_TIMEOUT|PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR|PROTOCOL_ENQUEUE_AFTER_QUIT|HANDSHAKE_\w+|AUTH_SWITCH_PLUGIN_ERROR|ER_\w*SSL\w*)$/;

interface MysqlDriverError extends Error {
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
  code?: string;
  fatal?: boolean;
}

function asDriverError(e: unknown): MysqlDriverError | undefined {
  return e instanceof Error ? (e as MysqlDriverError) : undefined;
}

/** A server refusal as the info the sanitizer reads; undefined when it is not one (socket, client, fatal). */
export function mysqlErrorInfo(e: unknown): EngineErrorInfo | undefined {
  const x = asDriverError(e);
  if (!x || typeof x.errno !== 'number' || typeof x.sqlState !== 'string' || !/^[0-9A-Z]{5}$/.test(x.sqlState)) return undefined;
  const info: EngineErrorInfo = { sqlstate: x.sqlState, message: x.sqlMessage ?? x.message, vendorCode: String(x.errno) };
  if (TIMEOUT_ERRNOS.has(x.errno)) info.kind = 'timeout';
  else if (x.errno === READ_ONLY_ERRNO) info.kind = 'read_only';
  return info;
}

/** Whether a refusal means the database cannot be reached or will not take connections now (retry later). */
export function isMysqlUnavailable(info: EngineErrorInfo): boolean {
  if (info.vendorCode !== undefined && UNAVAILABLE_ERRNOS.has(Number(info.vendorCode))) return true;
  return (info.sqlstate ?? '').startsWith('08');
}

export const UNAVAILABLE_SENTENCE = 'The database cannot be reached right now; nothing was executed. Retry in a moment.';

/** The executor's error for `e`: BrokerError and AffectedRowsOverLimit as they are, a refusal as DatabaseFailure, the rest 503. */
export function toMysqlFailure(e: unknown): Error {
  if (e instanceof BrokerError || e instanceof AffectedRowsOverLimit || e instanceof DatabaseFailure) return e;
  const info = mysqlErrorInfo(e);
  if (info && !isMysqlUnavailable(info) && asDriverError(e)?.fatal !== true) return new DatabaseFailure(info);
  return new BrokerError('dependency_unavailable', UNAVAILABLE_SENTENCE, { cause: e });
}

/** Whether a connect failed because the server rejected the password (ER_ACCESS_DENIED_ERROR). */
export function isMysqlPasswordRejected(e: unknown): boolean {
  return asDriverError(e)?.errno === 1045;
}

/** Socket/protocol failure codes (for callers that look at a raw error without an errno). */
export function isMysqlConnectionError(e: unknown): boolean {
  const x = asDriverError(e);
  return x !== undefined && typeof x.code === 'string' && UNAVAILABLE_CODES.test(x.code);
}
