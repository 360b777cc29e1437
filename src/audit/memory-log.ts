/**
 * An in-process AuditLog with the same chain, owner rule and validation as the blob store, for
 * "audit off" benchmarks (the cost of everything but storage) and for tests of the pipeline.
 * Records live as stored lines, so verify checks exactly what the blob store would check.
 */
import { BrokerError } from '../errors.js';
import { systemClock, type AuditEventInput, type AuditLog, type AuditRecord, type Clock, type SessionSummary, type VerifyResult } from '../broker/ports.js';
import { chainRecord, EMPTY_TAIL, parseRecordLine, verifyChain } from './chain.js';
import { assertMayAppend, assertValidSessionId, dayOf, dayPrefix, sessionBlobPath } from './session-rules.js';

interface MemorySession {
  ownerOid: string;
  day: string;
  path: string;
  lines: string[];
  last: { seq: number; hash: string };
}

export interface MemoryAuditLog extends AuditLog {
  /** the stored lines of a session (a copy), as the blob would hold them */
  lines(sessionId: string): string[];
}

export function createMemoryAuditLog(options: { clock?: Clock } = {}): MemoryAuditLog {
  const clock = options.clock ?? systemClock;
  const sessions = new Map<string, MemorySession>();

  function existing(sessionId: string): MemorySession {
    assertValidSessionId(sessionId);
    const s = sessions.get(sessionId);
    if (!s) throw new BrokerError('not_found', `No recorded session ${sessionId}.`);
    return s;
  }

  return {
    async append(sessionId: string, event: AuditEventInput, appendOptions: { allowForeignActor?: boolean } = {}): Promise<AuditRecord> {
      assertValidSessionId(sessionId);
      const now = clock.now();
      const session = sessions.get(sessionId) ?? { ownerOid: event.actor.oid, day: dayOf(now), path: sessionBlobPath(sessionId, now), lines: [], last: EMPTY_TAIL };
      assertMayAppend(session.ownerOid, event.actor, appendOptions.allowForeignActor);
      const { record, line } = chainRecord(sessionId, session.last, event, now);
      session.lines.push(line.slice(0, -1));
      session.last = { seq: record.seq, hash: record.hash };
      sessions.set(sessionId, session);
      return record;
    },

    async read(sessionId: string): Promise<AuditRecord[]> {
      return existing(sessionId).lines.map(parseRecordLine).filter((r): r is AuditRecord => r !== undefined);
    },

    async verify(sessionId: string): Promise<VerifyResult> {
      return verifyChain(existing(sessionId).lines, { sessionId });
    },

    async list(filter: { day?: string; oid?: string }): Promise<SessionSummary[]> {
      const prefix = filter.day === undefined ? 'sessions/' : dayPrefix(filter.day);
      const out: SessionSummary[] = [];
      for (const [sessionId, s] of sessions) {
        if (!s.path.startsWith(prefix)) continue;
        if (filter.oid !== undefined && s.ownerOid !== filter.oid) continue;
        out.push({ sessionId, ownerOid: s.ownerOid, day: s.day, path: s.path });
      }
      return out.sort((a, b) => a.path.localeCompare(b.path));
    },

    async ping(): Promise<boolean> {
      return true;
    },

    lines(sessionId: string): string[] {
      return [...existing(sessionId).lines];
    },
  };
}
