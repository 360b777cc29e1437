/**
 * The session hash chain. Every record carries `prevHash` (the previous record's `hash`, or 64
 * zeros for the first) and `hash` = SHA-256 over the canonical JSON of the record without `hash`.
 * A record is stored as one line: its canonical JSON followed by '\n'. Editing, deleting,
 * inserting or reordering a line breaks the chain at that position.
 */
import type { AuditEventInput, AuditRecord, VerifyResult } from '../broker/ports.js';
import { canonicalJson, serializeCanonical, sha256Hex } from './canonical-json.js';

export { canonicalJson, sha256Hex, digestOf } from './canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);
export const AUDIT_RECORD_VERSION = 1 as const;

const HASH_PATTERN = /^[0-9a-f]{64}$/;

export function hashRecord(record: Omit<AuditRecord, 'hash'> | Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = record as Record<string, unknown>;
  return sha256Hex(canonicalJson(rest));
}

/** The chain position a new record is written at. */
export interface ChainTail {
  /** seq of the last record; -1 for an empty session */
  seq: number;
  /** hash of the last record; GENESIS_HASH for an empty session */
  hash: string;
}

export const EMPTY_TAIL: ChainTail = { seq: -1, hash: GENESIS_HASH };

/**
 * An event's fields as canonical JSON, encoded once: the size check, the hash and the stored line
 * all reuse these texts (and a re-chain after a lost append race costs no re-encoding).
 * A field without a JSON form (undefined) is left out of the record, as canonicalJson does.
 */
export interface EncodedEvent {
  readonly actor: string | undefined;
  readonly data: string | undefined;
  readonly requestId: string | undefined;
  readonly type: string | undefined;
}

/** Throws (TypeError, RangeError for a cycle, or what a toJSON throws) when a field cannot be written. */
export function encodeEvent(event: AuditEventInput): EncodedEvent {
  return {
    actor: serializeCanonical(event.actor),
    data: serializeCanonical(event.data),
    requestId: serializeCanonical(event.requestId),
    type: serializeCanonical(event.type),
  };
}

/** UTF-8 size of the canonical JSON of the event: what the blob log counts against its block limit. */
export function encodedEventBytes(e: EncodedEvent): number {
  return Buffer.byteLength(`{${(member('actor', e.actor) + member('data', e.data) + member('requestId', e.requestId) + member('type', e.type)).slice(1)}}`);
}

/** Build the next record after `tail` and the exact line to store for it. */
export function chainRecord(sessionId: string, tail: ChainTail, event: AuditEventInput, time: Date): { record: AuditRecord; line: string } {
  return chainEncodedRecord(sessionId, tail, encodeEvent(event), time);
}

/**
 * chainRecord for an event encoded earlier. The record's canonical JSON is written directly,
 * members in sorted key order: the text without `hash` is hashed, and the stored line is that
 * text with `"hash"` spliced in at its sorted place (after "data", before "prevHash"). Both are
 * exactly canonicalJson of the record, which verifyChain checks.
 */
export function chainEncodedRecord(sessionId: string, tail: ChainTail, event: EncodedEvent, time: Date): { record: AuditRecord; line: string } {
  // Members as `,"key":value`; the first one's leading comma is dropped when wrapping in braces.
  const beforeHash = member('actor', event.actor) + member('data', event.data);
  const afterHash =
    `,"prevHash":${JSON.stringify(tail.hash)}` +
    member('requestId', event.requestId) +
    `,"seq":${JSON.stringify(tail.seq + 1)},"sessionId":${JSON.stringify(sessionId)},"time":${JSON.stringify(time.toISOString())}` +
    member('type', event.type) +
    `,"v":${AUDIT_RECORD_VERSION}`;
  const hash = sha256Hex(`{${(beforeHash + afterHash).slice(1)}}`);
  const line = `{${`${beforeHash},"hash":"${hash}"${afterHash}`.slice(1)}}`;
  // Parsed back so the returned record equals what a reader gets: its own copy, normalized as stored.
  return { record: JSON.parse(line) as AuditRecord, line: `${line}\n` };
}

function member(key: string, json: string | undefined): string {
  return json === undefined ? '' : `,"${key}":${json}`;
}

/** The records of a stored session, one per line; a trailing newline ends the last record. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Parse one stored line; undefined when it is not a JSON object with the record's shape. */
export function parseRecordLine(line: string): AuditRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const r = value as Partial<AuditRecord>;
  if (typeof r.seq !== 'number' || !Number.isInteger(r.seq)) return undefined;
  if (typeof r.hash !== 'string' || !HASH_PATTERN.test(r.hash)) return undefined;
  if (typeof r.prevHash !== 'string' || typeof r.sessionId !== 'string' || typeof r.type !== 'string') return undefined;
  return value as AuditRecord;
}

/**
 * Recompute the chain of stored lines. `firstBadSeq` is the first position (= the seq the record
 * there must carry) whose line does not parse, is not in canonical form, or has a wrong seq,
 * prevHash, sessionId or hash. Everything before it is intact.
 */
export function verifyChain(lines: readonly string[], options: { sessionId?: string } = {}): VerifyResult {
  let prev = GENESIS_HASH;
  for (let seq = 0; seq < lines.length; seq++) {
    const line = lines[seq]!;
    const record = parseRecordLine(line);
    const intact =
      record !== undefined &&
      record.v === AUDIT_RECORD_VERSION &&
      record.seq === seq &&
      record.prevHash === prev &&
      (options.sessionId === undefined || record.sessionId === options.sessionId) &&
      canonicalJson(record) === line &&
      hashRecord(record) === record.hash;
    if (!intact) return { valid: false, events: lines.length, firstBadSeq: seq };
    prev = record.hash;
  }
  return { valid: true, events: lines.length, firstBadSeq: null };
}

/** verifyChain over records already parsed (e.g. from `AuditLog.read`). */
export function verifyRecords(records: readonly AuditRecord[], options: { sessionId?: string } = {}): VerifyResult {
  return verifyChain(records.map((r) => canonicalJson(r)), options);
}
