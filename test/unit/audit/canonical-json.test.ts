import { describe, it, expect } from 'vitest';
import { canonicalJson, digestOf, sha256Hex } from '../../../src/audit/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('gives the same text for objects that differ only in key order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2], z: { q: null, p: true } })).toBe(canonicalJson({ z: { p: true, q: null }, y: [1, 2], x: 1 }));
  });

  it('follows JSON.stringify for undefined, dates, non-finite numbers and escapes', () => {
    const value = { u: undefined, d: new Date('2024-01-02T03:04:05.000Z'), n: Number.NaN, i: Infinity, s: 'é"\n\u2028', arr: [undefined, () => 1] };
    const text = canonicalJson(value);
    expect(text).toBe('{"arr":[null,null],"d":"2024-01-02T03:04:05.000Z","i":null,"n":null,"s":"é\\"\\n\u2028"}');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('writes bigint as its exact decimal string instead of throwing', () => {
    expect(canonicalJson({ big: 12345678901234567890n })).toBe('{"big":"12345678901234567890"}');
  });

  it('is stable through a parse round trip, so a stored line hashes the same when read back', () => {
    const value = { k: [1.5, -0, 1e21, 'ü', { b: 2, a: 1 }] };
    const text = canonicalJson(value);
    expect(canonicalJson(JSON.parse(text))).toBe(text);
  });

  it('digests the canonical form with SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(digestOf({ b: 1, a: 2 })).toBe(sha256Hex('{"a":2,"b":1}'));
  });
});
