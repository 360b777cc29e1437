/**
 * The fast canonical JSON and the encode-once chain must write byte for byte what the first
 * implementation wrote: stored chains are verified by recomputing hashes, so any drift would make
 * old sessions look tampered with (or new ones fail verification). The first implementation is
 * frozen below as the reference.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import type { AuditEventInput, AuditRecord } from '../../../src/broker/ports.js';
import { chainRecord, encodedEventBytes, encodeEvent, EMPTY_TAIL, verifyChain, type ChainTail } from '../../../src/audit/chain.js';
import { canonicalJson, sha256Hex } from '../../../src/audit/canonical-json.js';

// ---- reference: the original implementation, unchanged ----------------------------------------

function referenceSerialize(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return `[${value.map((item) => referenceSerialize(item) ?? 'null').join(',')}]`;
  }
  const entries: string[] = [];
  for (const key of Object.keys(value as object).sort()) {
    const item = referenceSerialize((value as Record<string, unknown>)[key]);
    if (item !== undefined) entries.push(`${JSON.stringify(key)}:${item}`);
  }
  return `{${entries.join(',')}}`;
}

function referenceCanonicalJson(value: unknown): string {
  const out = referenceSerialize(value);
  if (out === undefined) throw new TypeError('no JSON form');
  return out;
}

function referenceChainRecord(sessionId: string, tail: ChainTail, event: AuditEventInput, time: Date): { record: AuditRecord; line: string } {
  const unsigned = { v: 1, sessionId, seq: tail.seq + 1, time: time.toISOString(), type: event.type, requestId: event.requestId, actor: event.actor, data: event.data, prevHash: tail.hash };
  const hash = createHash('sha256').update(referenceCanonicalJson(unsigned)).digest('hex');
  const line = referenceCanonicalJson({ ...unsigned, hash });
  return { record: JSON.parse(line) as AuditRecord, line: `${line}\n` };
}

// ---- varied inputs from a seeded generator ----------------------------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'plain', 'é', 'ü€', '日本語', '😀', '\ud83d', '\ude00x', 'quote " and \\ backslash', 'line\nbreak\ttab\r', '\u0000\u001f', '\u2028\u2029', '</script>', 'a'.repeat(300)];
const NAME_KEYS = ['a', 'B', 'b', 'Z', '_', 'hash', 'data', 'é', 'ä', '😀', '\uffff', 'a b', '', 'key"q', 'toString', 'constructor', 'x10'];
// Keys V8 enumerates in its own order (array indices) take the written-out path, the rest the fast one.
const ALL_KEYS = [...NAME_KEYS, '10', '9', '0', '01', '-1', '1.5', '4294967295', '4294967294'];
const NUMBERS = [0, -0, 1, -1, 42, 1.5, -2.25, 0.1, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity];

class Point {
  constructor(
    public y: number,
    public x: number,
  ) {}
}

function generate(rand: () => number, depth: number, keys: readonly string[] = ALL_KEYS): unknown {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const roll = rand();
  if (depth <= 0 || roll < 0.45) {
    const kind = Math.floor(rand() * 12);
    switch (kind) {
      case 0:
      case 1:
      case 2:
        return pick(STRINGS);
      case 3:
      case 4:
        return pick(NUMBERS);
      case 5:
        return rand() < 0.5;
      case 6:
        return null;
      case 7:
        return undefined;
      case 8:
        return new Date(Date.UTC(2024, 1, 29, 12, 0, Math.floor(rand() * 60), 123));
      case 9:
        return BigInt(Math.floor(rand() * 1e6)) * 10000000000000n;
      case 10:
        return rand() < 0.5 ? () => 1 : Symbol('s');
      default:
        return Math.floor(rand() * 1000);
    }
  }
  if (roll < 0.65) {
    return Array.from({ length: Math.floor(rand() * 5) }, () => generate(rand, depth - 1, keys));
  }
  if (roll < 0.7) {
    const special = Math.floor(rand() * 5);
    if (special === 0) return new Point(rand(), rand());
    if (special === 1) {
      const inner = generate(rand, depth - 1, keys);
      return { toJSON: () => ({ z: 1, a: [inner] }) };
    }
    if (special === 2) return Buffer.from('hi');
    if (special === 3) return { toJSON: () => new Date(0) }; // a toJSON result is not given another turn
    return JSON.parse('{"__proto__":{"b":1,"a":2},"c":3}') as unknown;
  }
  const obj: Record<string, unknown> = {};
  const n = Math.floor(rand() * 7);
  for (let i = 0; i < n; i++) obj[pick(keys)] = generate(rand, depth - 1, keys);
  return obj;
}

// Holes in a sparse array are the one known difference: the reference wrote "[1,,3]", which is
// not JSON at all; JSON has no holes, so no stored record could contain one.

describe('canonicalJson matches the original implementation', () => {
  it.each([
    ['named keys only', NAME_KEYS],
    ['array-index keys too', ALL_KEYS],
  ])('on thousands of generated values with %s: unicode, nested objects, arrays, numbers, nulls', (_, keys) => {
    const rand = prng(20240229);
    for (let i = 0; i < 2000; i++) {
      const value = { root: generate(rand, 5, keys) };
      expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
    }
  });

  it('on the edge cases one by one', () => {
    const cases: unknown[] = [
      { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } },
      { '10': 'x', '9': 'y', b: 'z', a: { '2': 1, '1': 2 } },
      { sorted: { a: 1, b: 2 }, rows: [[1, 'a', null], [2, 'é', true]] },
      { big: 12345678901234567890n, neg: -5n },
      { date: new Date('2024-01-02T03:04:05.000Z'), buf: Buffer.from([1, 2, 3]) },
      { boxed: [new Number(5), new Boolean(false), Object(7n)] },
      { boxedString: new String('ab') },
      { pair: new (class Pair { a = 1; b = 2; })(), map: new Map([['a', 1]]) },
      { resultWithHiddenToJson: { toJSON: () => Object.defineProperty({ a: 1 }, 'toJSON', { value: () => 'again', enumerable: false }) } },
      { resultArrayWithToJson: { toJSON: () => Object.assign([1, { b: 1, a: 2 }], { toJSON: () => 'again' }) } },
      { arr: [undefined, () => 1, Symbol('s')], fn: () => 1, sym: Symbol('t'), u: undefined },
      { toJSON: () => ({ b: 2, a: 1 }) },
      { nested: { toJSON: () => [{ y: 1, x: 2 }, new Date(1)] } },
      { nullProto: Object.assign(Object.create(null) as object, { b: 1, a: 2 }) },
      { ownToJsonNotFunction: { toJSON: 'x', b: 1 } },
      [{ b: 1, a: 2 }, 'x', 1],
      'just a string',
      0,
      null,
    ];
    for (const value of cases) expect(canonicalJson(value)).toBe(referenceCanonicalJson(value));
  });

  it('still refuses values with no JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson(() => 1)).toThrow(TypeError);
  });
});

describe('sha256Hex', () => {
  it('hashes strings as UTF-8, lone surrogates included, exactly as createHash does', () => {
    for (const text of [...STRINGS, '{"a":"\ud800"}']) {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
    }
    const bytes = new Uint8Array([0, 255, 128]);
    expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});

describe('chainRecord encodes once and writes what it always wrote', () => {
  it('gives the same lines, hashes and records over a chain of varied events', () => {
    const rand = prng(7);
    const time = new Date(Date.UTC(2024, 5, 1, 8, 30));
    let tail: ChainTail = EMPTY_TAIL;
    let referenceTail: ChainTail = EMPTY_TAIL;
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      const event = {
        type: 'executed',
        requestId: `r_${i}_ü`,
        actor: { oid: `oid-${i}`, name: i % 2 === 0 ? 'Agent 😀' : undefined, tid: 't', appId: 'app' },
        data: generate(rand, 4) as Record<string, unknown>,
      } as AuditEventInput;
      const got = chainRecord('s_equivalence', tail, event, time);
      const want = referenceChainRecord('s_equivalence', referenceTail, event, time);
      expect(got.line).toBe(want.line);
      expect(got.record).toEqual(want.record);
      expect(encodedEventBytes(encodeEvent(event))).toBe(Buffer.byteLength(referenceCanonicalJson(event)));
      lines.push(got.line.slice(0, -1));
      tail = got.record;
      referenceTail = want.record;
    }
    expect(verifyChain(lines, { sessionId: 's_equivalence' })).toEqual({ valid: true, events: 300, firstBadSeq: null });
  });

  it('leaves out fields without a JSON form exactly as before', () => {
    const event = { type: 'failed', requestId: undefined, actor: { oid: 'o' }, data: undefined } as unknown as AuditEventInput;
    const got = chainRecord('s_sparse', EMPTY_TAIL, event, new Date(0));
    expect(got.line).toBe(referenceChainRecord('s_sparse', EMPTY_TAIL, event, new Date(0)).line);
    expect(got.line).not.toContain('"data"');
  });

  it('returns a record detached from the caller’s objects, as a reader would parse it', () => {
    const data = { when: new Date(0), list: [1, 2] };
    const { record, line } = chainRecord('s_detached', EMPTY_TAIL, { type: 'failed', requestId: 'r', actor: { oid: 'o' }, data }, new Date(0));
    data.list.push(3);
    expect(record).toEqual(JSON.parse(line));
    expect(record.data).toEqual({ when: '1970-01-01T00:00:00.000Z', list: [1, 2] });
  });
});
