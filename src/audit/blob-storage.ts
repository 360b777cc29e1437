/**
 * The storage operations the blob audit log is built from: the session index blob, the session's
 * append blob and reading the chain's tail from it. Each function is one or two round trips and
 * throws the SDK's errors unchanged; blob-log.ts decides what they mean for the caller.
 */
import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';
import type { AuditStorageRequestKind } from '../broker/ports.js';
import { BrokerError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { EMPTY_TAIL, parseRecordLine, type ChainTail } from './chain.js';
import { sessionBlobPath } from './session-rules.js';

/** The chain tail plus where the blob ends, for the next conditional append. */
export interface BlobTail extends ChainTail {
  /** blob length in bytes = the append position of the next record */
  length: number;
  etag: string;
}

/** `index/sessions/<sessionId>.json`: finds a session without knowing its day; names its owner. */
export interface SessionIndex {
  v: 1;
  sessionId: string;
  ownerOid: string;
  path: string;
  created: string;
}

export interface StorageCall {
  signal: AbortSignal;
  /** counts a storage request of this kind, right before it is sent (stats; the one-request promise) */
  count(kind: AuditStorageRequestKind): void;
}

export function indexPath(sessionId: string): string {
  return `index/sessions/${sessionId}.json`;
}

export function restStatus(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { statusCode?: unknown }).statusCode === 'number'
    ? (e as { statusCode: number }).statusCode
    : undefined;
}

export function restCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;
}

export async function readSessionIndex(container: ContainerClient, sessionId: string, call: StorageCall): Promise<SessionIndex | undefined> {
  let text: string;
  try {
    call.count('read');
    const res = await container.getBlobClient(indexPath(sessionId)).download(0, undefined, { abortSignal: call.signal });
    text = (await readBody(res.readableStreamBody)).toString('utf8');
  } catch (e) {
    if (restStatus(e) === 404) return undefined;
    throw e;
  }
  const index = parseIndex(text);
  if (!index || index.sessionId !== sessionId) throw damaged(sessionId, 'its index entry cannot be read');
  return index;
}

/**
 * Create the index entry unless one exists (If-None-Match: *), so of two concurrent creators exactly
 * one becomes the owner. Returns the entry that is stored, whoever wrote it.
 */
export async function createSessionIndex(
  container: ContainerClient,
  sessionId: string,
  ownerOid: string,
  created: Date,
  call: StorageCall,
): Promise<{ index: SessionIndex; createdHere: boolean }> {
  const index: SessionIndex = { v: 1, sessionId, ownerOid, path: sessionBlobPath(sessionId, created), created: created.toISOString() };
  const body = canonicalJson(index);
  try {
    call.count('create');
    await container.getBlockBlobClient(indexPath(sessionId)).upload(body, Buffer.byteLength(body), {
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: 'application/json' },
      abortSignal: call.signal,
    });
    return { index, createdHere: true };
  } catch (e) {
    const status = restStatus(e);
    if (status !== 409 && status !== 412) throw e;
  }
  const stored = await readSessionIndex(container, sessionId, call);
  if (!stored) throw damaged(sessionId, 'its index entry vanished while it was being created');
  return { index: stored, createdHere: false };
}

/** Create the session's append blob if missing; returns the empty tail when this call created it. */
export async function createSessionBlob(blob: AppendBlobClient, index: SessionIndex, call: StorageCall): Promise<BlobTail | undefined> {
  try {
    call.count('create');
    const res = await blob.create({
      conditions: { ifNoneMatch: '*' },
      metadata: { sessionid: index.sessionId, owneroid: index.ownerOid, created: index.created },
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      abortSignal: call.signal,
    });
    return { ...EMPTY_TAIL, length: 0, etag: res.etag ?? '' };
  } catch (e) {
    if (restStatus(e) === 409 || restStatus(e) === 412) return undefined;
    throw e;
  }
}

const TAIL_WINDOW = 64 * 1024;

/**
 * Read the chain's tail without downloading the whole session: the first window, and when the blob
 * is longer, its last window (grown until it holds the last complete line), pinned by ETag.
 * Creates the blob when the index exists but the blob does not (its creator stopped in between).
 */
export async function readTail(blob: AppendBlobClient, index: SessionIndex, call: StorageCall): Promise<BlobTail> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let head;
    try {
      call.count('read');
      head = await blob.download(0, TAIL_WINDOW, { abortSignal: call.signal });
    } catch (e) {
      if (restStatus(e) === 404) {
        const created = await createSessionBlob(blob, index, call);
        if (created) return created;
        continue;
      }
      if (restStatus(e) !== 416) throw e;
      // 416: an empty blob has no byte range to read.
      call.count('properties');
      const props = await blob.getProperties({ abortSignal: call.signal });
      if ((props.contentLength ?? 0) === 0) return { ...EMPTY_TAIL, length: 0, etag: props.etag ?? '' };
      continue;
    }
    const etag = head.etag ?? '';
    const total = totalLength(head.contentRange, head.contentLength);
    let bytes = await readBody(head.readableStreamBody);
    let start = 0;
    // Longer than one window: read windows from the end until one holds the whole last line.
    for (let window = TAIL_WINDOW; start + bytes.length < total || lastLine(bytes, start === 0, index.sessionId) === undefined; window *= 4) {
      start = Math.max(0, total - window);
      try {
        call.count('read');
        const res = await blob.download(start, total - start, { conditions: { ifMatch: etag }, abortSignal: call.signal });
        bytes = await readBody(res.readableStreamBody);
      } catch (e) {
        if (restStatus(e) === 412) break; // appended meanwhile
        throw e;
      }
    }
    const line = start + bytes.length === total ? lastLine(bytes, start === 0, index.sessionId) : undefined;
    if (line === undefined) continue; // the blob moved under us: start over
    if (line === null) return { ...EMPTY_TAIL, length: 0, etag };
    const record = parseRecordLine(line);
    if (!record) throw damaged(index.sessionId, 'its last record cannot be read');
    return { seq: record.seq, hash: record.hash, length: total, etag };
  }
  throw new BrokerError('dependency_unavailable', 'The audit log of this session is too busy to extend; nothing was executed. Retry later.');
}

/**
 * After a lost race (412): read only what others appended since `tail`, one round trip.
 * Returns the new tail and the lines appended meanwhile, or undefined when the blob did not grow
 * from where we knew it (recreated, or only its properties changed): then read the tail afresh.
 */
export async function readAppendedSince(
  blob: AppendBlobClient,
  tail: BlobTail,
  sessionId: string,
  call: StorageCall,
): Promise<{ tail: BlobTail; lines: string[] } | undefined> {
  let res;
  try {
    call.count('read');
    res = await blob.download(tail.length, undefined, { abortSignal: call.signal });
  } catch (e) {
    if (restStatus(e) === 416 || restStatus(e) === 404) return undefined;
    throw e;
  }
  const bytes = await readBody(res.readableStreamBody);
  if (bytes.length === 0 || !res.contentRange?.startsWith(`bytes ${tail.length}-`)) return undefined;
  if (bytes[bytes.length - 1] !== 0x0a) throw damaged(sessionId, 'its last record is incomplete');
  const lines = bytes.toString('utf8').slice(0, -1).split('\n');
  const record = parseRecordLine(lines[lines.length - 1]!);
  if (!record) throw damaged(sessionId, 'its last record cannot be read');
  return { tail: { seq: record.seq, hash: record.hash, length: tail.length + bytes.length, etag: res.etag ?? '' }, lines };
}

/**
 * The last complete line of a chunk that ends where the blob ends; null for an empty blob;
 * undefined when the chunk starts mid-blob and does not reach back to the line's start.
 */
function lastLine(bytes: Buffer, startsAtZero: boolean, sessionId: string): string | null | undefined {
  if (bytes.length === 0) return startsAtZero ? null : undefined;
  if (bytes[bytes.length - 1] !== 0x0a) throw damaged(sessionId, 'its last record is incomplete');
  const previousNewline = bytes.lastIndexOf(0x0a, bytes.length - 2);
  if (previousNewline === -1 && !startsAtZero) return undefined;
  return bytes.subarray(previousNewline + 1, bytes.length - 1).toString('utf8');
}

function totalLength(contentRange: string | undefined, contentLength: number | undefined): number {
  const m = contentRange ? /\/(\d+)$/.exec(contentRange) : null;
  return m ? Number(m[1]) : (contentLength ?? 0);
}

export async function readBody(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function parseIndex(text: string): SessionIndex | undefined {
  try {
    const v = JSON.parse(text) as Partial<SessionIndex>;
    if (typeof v.sessionId === 'string' && typeof v.ownerOid === 'string' && typeof v.path === 'string' && typeof v.created === 'string') {
      return { v: 1, sessionId: v.sessionId, ownerOid: v.ownerOid, path: v.path, created: v.created };
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** A session whose stored record cannot be extended safely: refuse, do not guess a chain position. */
export function damaged(sessionId: string, what: string): BrokerError {
  return new BrokerError('internal_error', `The recorded session ${sessionId} is damaged (${what}); nothing was executed. Start a new session and report it to an auditor.`);
}
