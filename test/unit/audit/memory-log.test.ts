import { describe, it, expect } from 'vitest';
import type { AuditEventInput, Clock } from '../../../src/broker/ports.js';
import { createMemoryAuditLog } from '../../../src/audit/memory-log.js';

const agent = { oid: 'oid-agent-a', name: 'Agent A' };
const other = { oid: 'oid-agent-b' };
const approver = { oid: 'oid-approver' };

function ev(actor: { oid: string }, i = 0, type: AuditEventInput['type'] = 'request.received'): AuditEventInput {
  return { type, requestId: `r_${i}`, actor, data: { i } };
}

function fixedClock(iso: string): Clock {
  return { now: () => new Date(iso) };
}

describe('in-memory audit log', () => {
  it('chains the events of a session and verifies them', async () => {
    const log = createMemoryAuditLog();
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('s_memory_01', ev(agent, i))));
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await log.verify('s_memory_01')).toEqual({ valid: true, events: 20, firstBadSeq: null });
    const read = await log.read('s_memory_01');
    expect(read.map((r) => r.requestId)).toEqual(records.map((r) => r.requestId));
  });

  it('lets only the first actor append, unless the event is written for an approver', async () => {
    const log = createMemoryAuditLog();
    await log.append('s_memory_02', ev(agent));
    await expect(log.append('s_memory_02', ev(other, 1))).rejects.toMatchObject({ code: 'forbidden' });
    await log.append('s_memory_02', ev(approver, 2, 'approval.decided'), { allowForeignActor: true });
    const read = await log.read('s_memory_02');
    expect(read.map((r) => r.actor.oid)).toEqual([agent.oid, approver.oid]);
  });

  it('refuses malformed session ids before storing anything', async () => {
    const log = createMemoryAuditLog();
    for (const bad of ['short', '../../etc/passwd', 'a'.repeat(65), 'has space 12', 'sessions/2024/x']) {
      await expect(log.append(bad, ev(agent))).rejects.toMatchObject({ code: 'invalid_request' });
    }
    expect(await log.list({})).toEqual([]);
  });

  it('lists sessions by the UTC day they started and by owner', async () => {
    const clock = { now: () => new Date('2024-03-09T23:59:59Z') };
    const log = createMemoryAuditLog({ clock });
    await log.append('s_memory_day1', ev(agent));
    clock.now = fixedClock('2024-03-10T00:00:01Z').now;
    await log.append('s_memory_day2', ev(other));
    await log.append('s_memory_day1', ev(agent, 1)); // later events do not move the session
    expect(await log.list({ day: '2024-03-09' })).toEqual([
      { sessionId: 's_memory_day1', ownerOid: agent.oid, day: '2024-03-09', path: 'sessions/2024/03/09/s_memory_day1.jsonl' },
    ]);
    expect((await log.list({ oid: other.oid })).map((s) => s.sessionId)).toEqual(['s_memory_day2']);
    await expect(log.list({ day: '2024-3-9' })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('answers not_found for a session never recorded', async () => {
    const log = createMemoryAuditLog();
    await expect(log.verify('s_never_seen')).rejects.toMatchObject({ code: 'not_found' });
  });
});
