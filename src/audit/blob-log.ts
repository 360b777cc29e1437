/**
 * The AuditLog on Azure Blob Storage: one append blob per session at
 * `sessions/yyyy/mm/dd/<sessionId>.jsonl`, one hash-chained JSON line per event.
 *
 * Why it cannot fork: every append is conditional on the append position (and ETag) this process
 * last saw. A writer that lost a race gets 412, reads only what was appended since, re-chains its
 * records after the new tail and tries again (bounded, with jitter). Within one process appends to
 * a session are queued and written together in one block (group commit), so concurrent requests of
 * one instance never race each other and share round trips.
 *
 * Why the common append is one round trip: the session's index entry (owner, path) and the tail
 * (seq, hash, length, ETag) are cached per process; only a cold session or a lost race reads.
 */
import { setMaxListeners } from 'node:events';
import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';
import { BrokerError, isBrokerError } from '../errors.js';
import {
  systemClock,
  type AuditLog,
  type AuditLogStats,
  type AuditRecord,
  type Clock,
  type SessionSummary,
  type VerifyResult,
} from '../broker/ports.js';
import type { Logger } from '../log.js';
import { chainEncodedRecord, encodedEventBytes, encodeEvent, parseRecordLine, splitLines, verifyChain, type ChainTail, type EncodedEvent } from './chain.js';
import { assertMayAppend, assertValidSessionId, dayPrefix, parseSessionBlobPath } from './session-rules.js';
import {
  createSessionBlob,
  createSessionIndex,
  damaged,
  readAppendedSince,
  readBody,
  readSessionIndex,
  readTail,
  restCode,
  restStatus,
  type BlobTail,
  type SessionIndex,
  type StorageCall,
} from './blob-storage.js';
import { createAuditStatsCounter } from './stats.js';

export { auditContainerFromSettings, createAuditContainerClient, DEFAULT_AUDIT_CONTAINER } from './blob-container.js';

export const AUDIT_UNAVAILABLE_MESSAGE = 'The audit store cannot be reached; nothing was executed. Retry later.';

export interface BlobAuditLogOptions {
  /** one client per process (see auditContainerFromSettings), so the HTTP pipeline is reused */
  containerClient: ContainerClient;
  clock?: Clock;
  /** budget of one append, index lookup, conflicts and retries included; default 5000 ms */
  appendTimeoutMs?: number;
  /** budget of read, verify and list; default 30000 ms */
  readTimeoutMs?: number;
  /** lost races tolerated per batch before giving up with dependency_unavailable; default 25 */
  maxConflictRetries?: number;
  /** sessions whose owner and tail are cached; default 10000 */
  maxCachedSessions?: number;
  /**
   * create the container on first need (Azurite, local); in Azure the container is provisioned by
   * infra with immutability, and a 403 here is ignored. Default true.
   */
  createContainer?: boolean;
  logger?: Logger;
}

/** events, blocks, conflicts and storage requests by kind (see AuditLogStats) */
export type BlobAuditStats = AuditLogStats;

export interface BlobAuditLog extends AuditLog {
  stats(): BlobAuditStats;
  /** drop cached owners and tails, as a freshly started instance would have none */
  forgetCachedSessions(): void;
}

/** Azure accepts appended blocks of up to 4 MiB (older API versions); keep room for record headers. */
const MAX_BATCH_BYTES = 3 * 1024 * 1024;
const MAX_BATCH_EVENTS = 200;
/** Blocks whose deadlines fall in the same step share one abort signal (see deadlineSignal). */
const DEADLINE_STEP_MS = 100;

interface Pending {
  /** encoded once at append: sized here, and chained (again after a lost race) without re-encoding */
  event: EncodedEvent;
  bytes: number;
  deadline: number;
  resolve(record: AuditRecord): void;
  reject(error: BrokerError): void;
}

interface Session {
  index: SessionIndex;
  blob: AppendBlobClient;
  tail: BlobTail | undefined;
  queue: Pending[];
  flushing: boolean;
}

export function createBlobAuditLog(options: BlobAuditLogOptions): BlobAuditLog {
  const container = options.containerClient;
  const clock = options.clock ?? systemClock;
  const appendTimeoutMs = options.appendTimeoutMs ?? 5_000;
  const readTimeoutMs = options.readTimeoutMs ?? 30_000;
  const maxConflictRetries = options.maxConflictRetries ?? 25;
  const maxCachedSessions = options.maxCachedSessions ?? 10_000;
  const stats = createAuditStatsCounter();

  const sessions = new Map<string, Session>();
  const loading = new Map<string, Promise<Session | undefined>>();
  let containerReady: Promise<void> | undefined;
  let sharedDeadline: { at: number; signal: AbortSignal } | undefined;

  /**
   * The abort signal of a block's storage requests: it fires at the batch's deadline rounded up to
   * the next 100 ms. A timer signal costs more CPU than the rest of the log's own work on a block,
   * so the blocks of a busy log share one per step (ten a second) instead of one each.
   */
  function deadlineSignal(deadline: number): AbortSignal {
    const at = Math.ceil(deadline / DEADLINE_STEP_MS) * DEADLINE_STEP_MS;
    if (sharedDeadline?.at === at && !sharedDeadline.signal.aborted) return sharedDeadline.signal;
    const signal = AbortSignal.timeout(Math.max(1, at - Date.now()));
    // Every request in flight listens on it, as it would on a signal of its own: not a leak.
    setMaxListeners(0, signal);
    sharedDeadline = { at, signal };
    return signal;
  }

  function storageCall(signal: AbortSignal): StorageCall {
    return { signal, count: (kind) => stats.request(kind) };
  }

  function remember(session: Session): Session {
    const id = session.index.sessionId;
    const known = sessions.get(id);
    if (known) return known; // one queue per session per process
    sessions.set(id, session);
    for (const [oldId, old] of sessions) {
      if (sessions.size <= maxCachedSessions) break;
      if (!old.flushing && old.queue.length === 0) sessions.delete(oldId);
    }
    return session;
  }

  function ensureContainer(call: StorageCall): Promise<void> {
    containerReady ??= (async () => {
      call.count('container');
      try {
        await container.createIfNotExists({ abortSignal: call.signal });
      } catch (e) {
        if (restStatus(e) !== 403) throw e; // no right to create: infra made it
      }
    })().catch((e: unknown) => {
      containerReady = undefined;
      throw e;
    });
    return containerReady;
  }

  async function loadSession(sessionId: string, createAs: string | undefined, call: StorageCall, isNew = false): Promise<Session | undefined> {
    // A session the caller just generated cannot have an index yet: create it without reading first
    // (createSessionIndex is conditional, and reads what is stored if it exists after all).
    let index = isNew && createAs !== undefined ? undefined : await readSessionIndex(container, sessionId, call);
    let tail: BlobTail | undefined;
    if (!index && createAs !== undefined) {
      let created;
      try {
        created = await createSessionIndex(container, sessionId, createAs, clock.now(), call);
      } catch (e) {
        if (restStatus(e) !== 404 || options.createContainer === false) throw e;
        await ensureContainer(call);
        created = await createSessionIndex(container, sessionId, createAs, clock.now(), call);
      }
      index = created.index;
      // The creator makes the blob right away; its empty tail saves the first append a read.
      if (created.createdHere) tail = await createSessionBlob(container.getAppendBlobClient(index.path), index, call);
    }
    if (!index) return undefined;
    return remember({ index, blob: container.getAppendBlobClient(index.path), tail, queue: [], flushing: false });
  }

  /** The session if this process knows it, marked as the most recently used. */
  function cachedSession(sessionId: string): Session | undefined {
    const cached = sessions.get(sessionId);
    if (cached) {
      // Map order doubles as recency: the least recently used session is evicted first.
      sessions.delete(sessionId);
      sessions.set(sessionId, cached);
    }
    return cached;
  }

  /** The cached session, or its index read (and, for appends, created) once per process. */
  async function sessionFor(sessionId: string, createAs: string | undefined, call: StorageCall, isNew = false): Promise<Session | undefined> {
    const cached = cachedSession(sessionId);
    if (cached) return cached;
    let pending = loading.get(sessionId);
    if (!pending) {
      pending = loadSession(sessionId, createAs, call, isNew).finally(() => loading.delete(sessionId));
      loading.set(sessionId, pending);
    }
    const session = await pending;
    // A concurrent lookup that was not allowed to create found nothing: now create.
    if (!session && createAs !== undefined) return loadSession(sessionId, createAs, call);
    return session;
  }

  /** Write one batch of events as one block after the current tail; re-chain and retry on lost races. */
  async function writeBatch(session: Session, events: EncodedEvent[], call: StorageCall): Promise<AuditRecord[]> {
    const sessionId = session.index.sessionId;
    for (let attempt = 0; attempt <= maxConflictRetries; attempt++) {
      const tail = session.tail ?? (session.tail = await readTail(session.blob, session.index, call));
      const now = clock.now();
      const records: AuditRecord[] = [];
      const lines: string[] = [];
      let last: ChainTail = tail;
      for (const event of events) {
        const { record, line } = chainEncodedRecord(sessionId, last, event, now);
        records.push(record);
        lines.push(line);
        last = record;
      }
      const body = Buffer.from(lines.join(''), 'utf8');
      try {
        call.count('append');
        const res = await session.blob.appendBlock(body, body.length, {
          conditions: { appendPosition: tail.length, ifMatch: tail.etag === '' ? undefined : tail.etag },
          abortSignal: call.signal,
        });
        const offset = res.blobAppendOffset === undefined ? tail.length : Number(res.blobAppendOffset);
        session.tail = { seq: last.seq, hash: last.hash, length: offset + body.length, etag: res.etag ?? '' };
        return records;
      } catch (e) {
        session.tail = undefined;
        const status = restStatus(e);
        if (status === 404 && restCode(e) === 'BlobNotFound') {
          // Gone after records were written: deleted, not merely never created. Do not start over.
          if (tail.seq >= 0) throw damaged(sessionId, 'its blob was deleted');
          continue; // its creator stopped before making it: readTail creates it
        }
        if (status === 409 && restCode(e) === 'BlockCountExceedsLimit') {
          throw new BrokerError('conflict', 'This session has reached the storage limit of 50,000 recorded appends; nothing was executed. Start a new session.');
        }
        if (status !== 412) throw e;
        stats.conflict();
        const since = await readAppendedSince(session.blob, tail, sessionId, call);
        if (since) {
          session.tail = since.tail;
          // Our own earlier try landed (its reply was lost and the SDK retried): it is stored.
          const written = lines.map((l) => l.slice(0, -1));
          if (written.every((l, i) => since.lines[i] === l)) return records;
        }
        await jitter(attempt, call.signal);
      }
    }
    throw new BrokerError('dependency_unavailable', 'The audit log of this session is too busy to extend; nothing was executed. Retry later.');
  }

  /** Drain a session's queue, a batch per block, until it is empty. */
  async function flush(session: Session): Promise<void> {
    session.flushing = true;
    try {
      while (session.queue.length > 0) {
        const batch = takeBatch(session.queue);
        let deadline = batch[0]!.deadline;
        for (const p of batch) if (p.deadline < deadline) deadline = p.deadline;
        const call = storageCall(deadlineSignal(deadline));
        try {
          const records = await writeBatch(session, batch.map((p) => p.event), call);
          stats.stored(records.length);
          batch.forEach((p, i) => p.resolve(records[i]!));
        } catch (e) {
          const error = toAuditError(e, session.index.sessionId);
          batch.forEach((p) => p.reject(error));
          // The store is down: those still queued would only wait to fail the same way.
          if (error.code === 'dependency_unavailable') session.queue.splice(0).forEach((p) => p.reject(error));
        }
      }
    } finally {
      session.flushing = false;
    }
  }

  function toAuditError(e: unknown, sessionId: string | undefined): BrokerError {
    if (isBrokerError(e)) return e;
    options.logger?.warn('audit store request failed', {
      sessionId,
      status: restStatus(e),
      code: restCode(e) ?? (e instanceof Error ? e.name : undefined),
    });
    return new BrokerError('dependency_unavailable', AUDIT_UNAVAILABLE_MESSAGE, { cause: e });
  }

  async function existingSession(sessionId: string, call: StorageCall): Promise<Session> {
    assertValidSessionId(sessionId);
    const session = await sessionFor(sessionId, undefined, call);
    if (!session) throw new BrokerError('not_found', `No recorded session ${sessionId}.`);
    return session;
  }

  async function readLines(sessionId: string): Promise<string[]> {
    const call = storageCall(AbortSignal.timeout(readTimeoutMs));
    try {
      const session = await existingSession(sessionId, call);
      call.count('read');
      const res = await session.blob.download(0, undefined, { abortSignal: call.signal });
      return splitLines((await readBody(res.readableStreamBody)).toString('utf8'));
    } catch (e) {
      if (restStatus(e) === 404) return []; // indexed, but its creator stopped before the first event
      throw toAuditError(e, sessionId);
    }
  }

  return {
    async append(sessionId, event, appendOptions = {}) {
      assertValidSessionId(sessionId);
      let encoded: EncodedEvent;
      try {
        encoded = encodeEvent(event);
      } catch (e) {
        throw new BrokerError('internal_error', 'The audit event cannot be written as JSON.', { cause: e });
      }
      const bytes = encodedEventBytes(encoded);
      if (bytes > MAX_BATCH_BYTES) throw new BrokerError('request_too_large', 'The audit event is too large to record; nothing was executed. Send a shorter statement.');
      const deadline = Date.now() + appendTimeoutMs;
      let session: Session | undefined;
      try {
        // A warm session needs no storage call, so no deadline timer either.
        session = cachedSession(sessionId) ?? (await sessionFor(sessionId, event.actor.oid, storageCall(AbortSignal.timeout(appendTimeoutMs)), appendOptions.newSession === true));
      } catch (e) {
        throw toAuditError(e, sessionId);
      }
      if (!session) throw new BrokerError('internal_error', 'The audit session could not be created.');
      assertMayAppend(session.index.ownerOid, event.actor, appendOptions.allowForeignActor);
      const target = session;
      return new Promise<AuditRecord>((resolve, reject) => {
        target.queue.push({ event: encoded, bytes, deadline, resolve, reject });
        if (!target.flushing) {
          // Start the block on the next turn, so events issued together (a request's decision and
          // outcome) — whose session look-ups resolve a few microtasks apart — share one block.
          target.flushing = true;
          setImmediate(() => void flush(target));
        }
      });
    },

    /** The records in stored order; a line that does not parse is left out (verify reports it). */
    async read(sessionId) {
      return (await readLines(sessionId)).map(parseRecordLine).filter((r): r is AuditRecord => r !== undefined);
    },

    async verify(sessionId): Promise<VerifyResult> {
      return verifyChain(await readLines(sessionId), { sessionId });
    },

    async list(filter) {
      const prefix = filter.day === undefined ? 'sessions/' : dayPrefix(filter.day);
      const signal = AbortSignal.timeout(readTimeoutMs);
      const out: SessionSummary[] = [];
      try {
        // Page by page, so that each listing request is counted as it is sent.
        const pages = container.listBlobsFlat({ prefix, includeMetadata: true, abortSignal: signal }).byPage()[Symbol.asyncIterator]();
        // The SDK asks for the next page only while the last one carried a continuation token.
        for (let more = true; more; ) {
          stats.request('list');
          const page = await pages.next();
          if (page.done === true) break;
          more = (page.value.continuationToken ?? '') !== '';
          for (const item of page.value.segment.blobItems) {
            const parsed = parseSessionBlobPath(item.name);
            if (!parsed) continue;
            const ownerOid = item.metadata?.owneroid ?? '';
            if (filter.oid !== undefined && ownerOid !== filter.oid) continue;
            out.push({ sessionId: parsed.sessionId, ownerOid, day: parsed.day, path: item.name });
          }
        }
      } catch (e) {
        if (restStatus(e) === 404) return []; // no container yet: nothing recorded
        throw toAuditError(e, undefined);
      }
      return out;
    },

    async ping() {
      const call = storageCall(AbortSignal.timeout(Math.min(appendTimeoutMs, 3_000)));
      try {
        if (options.createContainer !== false) await ensureContainer(call);
        call.count('properties');
        await container.getProperties({ abortSignal: call.signal });
        return true;
      } catch {
        return false;
      }
    },

    stats: () => stats.snapshot(),

    forgetCachedSessions() {
      for (const [id, s] of sessions) if (!s.flushing && s.queue.length === 0) sessions.delete(id);
    },
  };
}

function takeBatch(queue: Pending[]): Pending[] {
  let bytes = 0;
  let n = 0;
  while (n < queue.length && n < MAX_BATCH_EVENTS && (n === 0 || bytes + queue[n]!.bytes <= MAX_BATCH_BYTES)) {
    bytes += queue[n]!.bytes;
    n++;
  }
  return queue.splice(0, n);
}

/** Random back-off after a lost race, growing with the attempt, so racing instances spread out. */
function jitter(attempt: number, signal: AbortSignal): Promise<void> {
  const ms = Math.random() * Math.min(200, 5 * 2 ** attempt);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
