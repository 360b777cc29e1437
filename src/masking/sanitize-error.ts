/**
 * Database errors pass through the same rules as results: PostgreSQL quotes the offending value in
 * many messages (`invalid input syntax for type integer: "4111111111111111"`), and DETAIL often
 * repeats row values (`Key (email)=(…) already exists`). When a masked column is within reach of
 * the statement (or we cannot tell), quoted text, long digit runs and hex bytes are removed from
 * the message and DETAIL and HINT are dropped; in every case the content detectors run over what
 * is left.
 */
import type { DatabaseErrorInfo } from '../db/types.js';
import type { DetectorName } from '../policy/schema.js';
import { ContentScanner } from './detectors.js';
import type { MaskPlan } from './types.js';

const ALL_DETECTORS: readonly DetectorName[] = ['secrets', 'pan', 'ssn', 'email'];

function stripValues(text: string): string {
  return text
    .replace(/"(?:[^"]|"")*"/g, '"…"')
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\(([^()]*)\)=\(([^()]*)\)/g, '(…)=(…)')
    .replace(/\b0x[0-9a-fA-F]+/g, '0x…')
    .replace(/\d{4,}/g, '…');
}

export function sanitizeDatabaseError(err: DatabaseErrorInfo, plan: MaskPlan | undefined): DatabaseErrorInfo {
  if (plan?.exempt) return err;
  const scanner = new ContentScanner(ALL_DETECTORS);
  const strict = plan === undefined || plan.maskedInReach;
  const out: DatabaseErrorInfo = { message: scanner.scrub(strict ? stripValues(err.message) : err.message) };
  if (err.sqlstate !== undefined) out.sqlstate = err.sqlstate;
  if (!strict) {
    if (err.detail !== undefined) out.detail = scanner.scrub(err.detail);
    if (err.hint !== undefined) out.hint = scanner.scrub(err.hint);
  }
  return out;
}
