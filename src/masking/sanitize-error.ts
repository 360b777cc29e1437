/**
 * Database errors pass through the same rules as results: PostgreSQL quotes the offending value in
 * many messages (`invalid input syntax for type integer: "4111111111111111"`), DETAIL often repeats
 * row values (`Key (email)=(…) already exists`), and some messages print numbers computed from a
 * value (`index 49 out of valid range, 0..7` from get_bit(…, ascii(ssn))). No pattern can strip
 * every such number, so when a masked column is within reach of the statement (or we cannot tell)
 * the server's text is never returned: a fixed sentence per SQLSTATE class replaces it, DETAIL and
 * HINT are dropped, and only the SQLSTATE is kept. With no masked column in reach the message stays
 * readable (it helps the agent fix its SQL), and the content detectors run over it.
 */
import type { DatabaseErrorInfo } from '../db/types.js';
import type { DetectorName } from '../policy/schema.js';
import { ContentScanner } from './detectors.js';
import type { MaskPlan } from './types.js';

const ALL_DETECTORS: readonly DetectorName[] = ['secrets', 'pan', 'ssn', 'email'];

const WITHHELD = "The server's message is withheld because a masked column is within reach of the statement.";

/** What a failure of each SQLSTATE class means, in words that carry nothing from the data. */
const CLASS_SENTENCES: Readonly<Record<string, (code: string) => string>> = {
  '21': (c) => `A sub-query returned more rows (or columns) than its place in the statement allows (SQLSTATE ${c}). ${WITHHELD}`,
  '22': (c) => `The statement failed on a value derived from a masked column (SQLSTATE ${c}); masked values cannot be used in expressions that can fail. ${WITHHELD}`,
  '23': (c) => `The statement violates a constraint of the table (SQLSTATE ${c}). ${WITHHELD}`,
  '25': (c) => `The statement is not allowed in the current transaction state, e.g. a write in a read-only transaction (SQLSTATE ${c}). ${WITHHELD}`,
  '28': (c) => `The database refused the broker's credentials (SQLSTATE ${c}). ${WITHHELD}`,
  '0A': (c) => `The statement uses a feature the server does not support (SQLSTATE ${c}). ${WITHHELD}`,
  '40': (c) => `The transaction was rolled back by the server, e.g. a serialization failure or deadlock; retrying may succeed (SQLSTATE ${c}). ${WITHHELD}`,
  '42': (c) => `The statement has a syntax error, names something that does not exist, mixes types, or lacks a privilege (SQLSTATE ${c}). Check names, types and permissions. ${WITHHELD}`,
  '53': (c) => `The server ran out of a resource (memory, disk, connections) while running the statement (SQLSTATE ${c}). ${WITHHELD}`,
  '54': (c) => `The statement exceeds a server limit (too complex, too many columns or arguments) (SQLSTATE ${c}). ${WITHHELD}`,
  '55': (c) => `An object the statement needs is in use or not in the required state (SQLSTATE ${c}). ${WITHHELD}`,
  '57': (c) => `The statement was cancelled, e.g. by the statement timeout (SQLSTATE ${c}). ${WITHHELD}`,
};

function fixedSentence(sqlstate: string | undefined): string {
  const code = sqlstate ?? 'unknown';
  const byClass = sqlstate ? CLASS_SENTENCES[sqlstate.slice(0, 2)] : undefined;
  return byClass ? byClass(code) : `The statement failed (SQLSTATE ${code}). ${WITHHELD}`;
}

export function sanitizeDatabaseError(err: DatabaseErrorInfo, plan: MaskPlan | undefined): DatabaseErrorInfo {
  if (plan?.exempt) return err;
  const strict = plan === undefined || plan.maskedInReach;
  if (strict) {
    const out: DatabaseErrorInfo = { message: fixedSentence(err.sqlstate) };
    if (err.sqlstate !== undefined) out.sqlstate = err.sqlstate;
    return out;
  }
  const scanner = new ContentScanner(ALL_DETECTORS);
  const out: DatabaseErrorInfo = { message: scanner.scrub(err.message) };
  if (err.sqlstate !== undefined) out.sqlstate = err.sqlstate;
  if (err.detail !== undefined) out.detail = scanner.scrub(err.detail);
  if (err.hint !== undefined) out.hint = scanner.scrub(err.hint);
  return out;
}
