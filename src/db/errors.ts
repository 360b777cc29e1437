/**
 * PostgreSQL errors as the broker reads them: the SQLSTATE and the server's words (sanitized by the
 * masking stage before anyone sees them), and which SQLSTATEs mean "the database cannot be reached".
 */
import pg from 'pg';
import type { DatabaseErrorInfo } from './types.js';

/** Connection, resources, shutdown, authentication, unknown database: retry later (503), not the agent's fault. */
export const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|28|3D000)/;

/** A driver error (pg) as the info the sanitizer reads; undefined when it is not a server's refusal. */
export function databaseErrorInfo(e: unknown): DatabaseErrorInfo | undefined {
  if (!(e instanceof Error) || !('code' in e) || typeof (e as { code: unknown }).code !== 'string' || !/^[0-9A-Z]{5}$/.test((e as { code: string }).code)) return undefined;
  const x = e as Error & { code: string; detail?: unknown; hint?: unknown };
  const info: DatabaseErrorInfo = { sqlstate: x.code, message: x.message };
  if (typeof x.detail === 'string') info.detail = x.detail;
  if (typeof x.hint === 'string') info.hint = x.hint;
  return info;
}

/** Whether `e` is an error the server sent (as opposed to a socket or client failure). */
export function isServerError(e: unknown): e is pg.DatabaseError {
  return e instanceof pg.DatabaseError;
}
