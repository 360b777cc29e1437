/**
 * Rules every AuditLog implementation applies the same way: which session ids are acceptable,
 * who may append to a session, and where a session lives (its day is the UTC day it started).
 */
import { BrokerError } from '../errors.js';
import type { AuditActor } from '../broker/ports.js';
import { SESSION_ID_PATTERN } from '../broker/ids.js';

export function assertValidSessionId(sessionId: string): void {
  if (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId)) {
    throw new BrokerError('invalid_request', 'sessionId must be 8 to 64 characters of letters, digits, "_" or "-".');
  }
}

/**
 * The first event's actor owns the session. An agent that names someone else's session id must
 * not be able to add to (or pollute) that record; approval events are written on an approver's
 * behalf into the requester's session and pass `allowForeignActor`.
 */
export function assertMayAppend(ownerOid: string, actor: AuditActor, allowForeignActor: boolean | undefined): void {
  if (actor.oid === ownerOid || allowForeignActor === true) return;
  throw new BrokerError('forbidden', 'This session belongs to another identity; start a new session (omit sessionId) or use your own.');
}

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 'YYYY-MM-DD' (UTC) of an instant. */
export function dayOf(time: Date): string {
  return time.toISOString().slice(0, 10);
}

/** Blob path prefix of one day's sessions; throws invalid_request for anything but YYYY-MM-DD. */
export function dayPrefix(day: string): string {
  const m = DAY_PATTERN.exec(day);
  if (!m || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) {
    throw new BrokerError('invalid_request', 'day must be a date written YYYY-MM-DD (UTC).');
  }
  return `sessions/${m[1]}/${m[2]}/${m[3]}/`;
}

/** `sessions/yyyy/mm/dd/<sessionId>.jsonl`, dated by the session's start (UTC). */
export function sessionBlobPath(sessionId: string, created: Date): string {
  return `${dayPrefix(dayOf(created))}${sessionId}.jsonl`;
}

/** The session id and day of a session blob path, or undefined for any other name. */
export function parseSessionBlobPath(path: string): { sessionId: string; day: string } | undefined {
  const m = /^sessions\/(\d{4})\/(\d{2})\/(\d{2})\/([A-Za-z0-9_-]+)\.jsonl$/.exec(path);
  if (!m) return undefined;
  return { sessionId: m[4]!, day: `${m[1]}-${m[2]}-${m[3]}` };
}
