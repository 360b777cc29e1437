import { describe, it, expect } from 'vitest';
import type { AuditEventInput } from '../../../src/broker/ports.js';
import { chainRecord, EMPTY_TAIL, GENESIS_HASH, hashRecord, verifyChain, verifyRecords, type ChainTail } from '../../../src/audit/chain.js';
import { canonicalJson } from '../../../src/audit/canonical-json.js';

const SESSION = 's_chain_test_1';

function event(i: number): AuditEventInput {
  return { type: 'request.received', requestId: `r_${i}`, actor: { oid: 'agent-oid', name: 'Agent' }, data: { sql: `select ${i}`, n: i } };
}

function buildLines(n: number): string[] {
  const lines: string[] = [];
  let tail: ChainTail = EMPTY_TAIL;
  for (let i = 0; i < n; i++) {
    const { record, line } = chainRecord(SESSION, tail, event(i), new Date(Date.UTC(2024, 0, 1, 0, 0, i)));
    lines.push(line.slice(0, -1));
    tail = record;
  }
  return lines;
}

describe('hash chain', () => {
  it('links every record to the previous one, starting from 64 zeros', () => {
    const lines = buildLines(3);
    const records = lines.map((l) => JSON.parse(l));
    expect(records[0].prevHash).toBe(GENESIS_HASH);
    expect(records[1].prevHash).toBe(records[0].hash);
    expect(records[2].prevHash).toBe(records[1].hash);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2]);
    const { hash, ...unsigned } = records[1];
    expect(hash).toBe(hashRecord(unsigned));
    expect(verifyChain(lines, { sessionId: SESSION })).toEqual({ valid: true, events: 3, firstBadSeq: null });
  });

  it('stores each record as its canonical JSON on one line', () => {
    const { record, line } = chainRecord(SESSION, EMPTY_TAIL, event(0), new Date());
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).toBe(canonicalJson(record));
    expect(line.slice(0, -1)).not.toContain('\n');
  });

  it('reports the seq of an edited record', () => {
    const lines = buildLines(6);
    lines[3] = lines[3]!.replace('select 3', 'select 4');
    expect(verifyChain(lines)).toEqual({ valid: false, events: 6, firstBadSeq: 3 });
  });

  it('catches an edit whose hash was recomputed: the next record no longer links to it', () => {
    const lines = buildLines(6);
    const forged = JSON.parse(lines[2]!);
    forged.data.sql = 'select 99';
    forged.hash = hashRecord(forged);
    lines[2] = canonicalJson(forged);
    expect(verifyChain(lines).firstBadSeq).toBe(3);
  });

  it('reports where a record was deleted', () => {
    const lines = buildLines(6);
    lines.splice(4, 1);
    expect(verifyChain(lines).firstBadSeq).toBe(4);
  });

  it('reports where two records were swapped', () => {
    const lines = buildLines(6);
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    expect(verifyChain(lines).firstBadSeq).toBe(1);
  });

  it('reports a line that does not parse, and one reformatted with whitespace', () => {
    const broken = buildLines(4);
    broken[2] = broken[2]!.slice(0, 20);
    expect(verifyChain(broken).firstBadSeq).toBe(2);
    const spaced = buildLines(4);
    spaced[1] = JSON.stringify(JSON.parse(spaced[1]!), null, 1).replaceAll('\n', ' ');
    expect(verifyChain(spaced).firstBadSeq).toBe(1);
  });

  it('refuses a record copied in from another session', () => {
    const lines = buildLines(2);
    expect(verifyChain(lines, { sessionId: 's_other_session' }).firstBadSeq).toBe(0);
  });

  it('verifies parsed records the same way as stored lines', () => {
    const records = buildLines(5).map((l) => JSON.parse(l));
    expect(verifyRecords(records).valid).toBe(true);
    records[4].actor.oid = 'someone-else';
    expect(verifyRecords(records).firstBadSeq).toBe(4);
  });

  it('accepts an empty session', () => {
    expect(verifyChain([])).toEqual({ valid: true, events: 0, firstBadSeq: null });
  });
});
