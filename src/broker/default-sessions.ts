/**
 * The default session of a request that names no `sessionId`: one session per identity, per broker
 * instance and UTC day. The id is random and kept in this process only, so
 *  - it is found without a storage read (this process made it, so no record of it can exist before
 *    its first append: the store creates it without looking, then each read is one append);
 *  - no two instances ever append to the same blob (scale-out adds no lost races);
 *  - nobody can guess it, so another identity cannot claim it before its owner's first request.
 * A new one starts at the UTC day boundary (sessions are filed by the day they start) and after
 * `maxRequests` requests, so a default session stays far below an append blob's 50,000 blocks.
 */
import { newSessionId } from './ids.js';

export interface DefaultSessionOptions {
  /** requests per default session before a new one starts; default 10,000 (a write takes up to 3 blocks) */
  maxRequests?: number;
  /** identities whose default session is remembered; the least recently started is forgotten first */
  maxIdentities?: number;
}

interface Entry {
  sessionId: string;
  day: string;
  requests: number;
}

export class DefaultSessions {
  private readonly byIdentity = new Map<string, Entry>();
  private readonly maxRequests: number;
  private readonly maxIdentities: number;

  constructor(options: DefaultSessionOptions = {}) {
    this.maxRequests = options.maxRequests ?? 10_000;
    this.maxIdentities = options.maxIdentities ?? 10_000;
  }

  /** The identity's default session for a request at `now`; `started` when this call made it. */
  take(oid: string, now: Date): { sessionId: string; started: boolean } {
    const day = now.toISOString().slice(0, 10);
    const known = this.byIdentity.get(oid);
    if (known && known.day === day && known.requests < this.maxRequests) {
      known.requests++;
      return { sessionId: known.sessionId, started: false };
    }
    if (known) this.byIdentity.delete(oid);
    else if (this.byIdentity.size >= this.maxIdentities) {
      const oldest = this.byIdentity.keys().next().value;
      if (oldest !== undefined) this.byIdentity.delete(oldest);
    }
    const entry: Entry = { sessionId: newSessionId(), day, requests: 1 };
    this.byIdentity.set(oid, entry);
    return { sessionId: entry.sessionId, started: true };
  }
}
