import { describe, expect, it } from 'vitest';
import { DefaultSessions } from '../../../src/broker/default-sessions.js';
import { SESSION_ID_PATTERN } from '../../../src/broker/ids.js';

const at = (iso: string) => new Date(iso);

describe('DefaultSessions', () => {
  it('keeps one session per identity for the UTC day, and starts a new one the next day', () => {
    const d = new DefaultSessions();
    const a1 = d.take('oid-a', at('2026-12-04T00:00:01Z'));
    const a2 = d.take('oid-a', at('2026-12-04T23:59:59Z'));
    const b = d.take('oid-b', at('2026-12-04T12:00:00Z'));
    const next = d.take('oid-a', at('2026-12-05T00:00:00Z'));
    expect(a1).toEqual({ sessionId: expect.stringMatching(SESSION_ID_PATTERN), started: true });
    expect(a2).toEqual({ sessionId: a1.sessionId, started: false });
    expect(b.started).toBe(true);
    expect(b.sessionId).not.toBe(a1.sessionId);
    expect(next.started).toBe(true);
    expect(next.sessionId).not.toBe(a1.sessionId);
  });

  it('starts a new session after maxRequests, far below the 50,000 blocks of an append blob', () => {
    const d = new DefaultSessions({ maxRequests: 3 });
    const now = at('2026-12-04T10:00:00Z');
    const ids = Array.from({ length: 7 }, () => d.take('oid-a', now));
    expect(ids.map((x) => x.started)).toEqual([true, false, false, true, false, false, true]);
    expect(new Set(ids.map((x) => x.sessionId)).size).toBe(3);
  });

  it('forgets the least recently started identity past maxIdentities (its next request starts afresh)', () => {
    const d = new DefaultSessions({ maxIdentities: 2 });
    const now = at('2026-12-04T10:00:00Z');
    const a = d.take('oid-a', now);
    d.take('oid-b', now);
    d.take('oid-c', now);
    const again = d.take('oid-a', now);
    expect(again.started).toBe(true);
    expect(again.sessionId).not.toBe(a.sessionId);
  });
});
