/**
 * The maskers a rule can name. Each one works on the server's text of a value and must be safe on
 * any text (a masker may meet a value that is not what its name suggests: a UNION arm, a view).
 */
import { createHmac } from 'node:crypto';
import type { Cell } from '../db/types.js';
import type { MaskerName } from '../policy/schema.js';

export type CellMasker = (cell: string) => Cell;

export const REDACTED = '[redacted]';

const redact: CellMasker = () => REDACTED;

/** Keep the last four characters of values long enough that four characters are not most of it. */
const last4: CellMasker = (v) => (v.length >= 8 ? `****${v.slice(-4)}` : '****');

/** Keep the domain of an e-mail address; anything that is not one is redacted. */
const email: CellMasker = (v) => {
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) return REDACTED;
  const domain = v.slice(at + 1);
  // A "domain" with spaces or separators is not one: do not let free text through.
  return /^[A-Za-z0-9.-]+$/.test(domain) ? `***@${domain}` : REDACTED;
};

const toNull: CellMasker = () => null;

/** Keyed HMAC-SHA256 (hex): deterministic, so equal values still join and group, but not reversible without the key. */
export function hmacMasker(key: Uint8Array): CellMasker {
  // Results repeat a lot (the same customer on many rows): cache a bounded number of them.
  const cache = new Map<string, string>();
  return (v) => {
    const hit = cache.get(v);
    if (hit !== undefined) return hit;
    const out = createHmac('sha256', key).update(v, 'utf8').digest('hex');
    if (cache.size < 10_000) cache.set(v, out);
    return out;
  };
}

/** The cell function of a masker; `hash` without a key degrades to `redact` (reported as such). */
export function maskerFor(name: MaskerName, hashKey: Uint8Array | undefined): { name: MaskerName; fn: CellMasker } {
  switch (name) {
    case 'redact':
      return { name, fn: redact };
    case 'last4':
      return { name, fn: last4 };
    case 'email':
      return { name, fn: email };
    case 'null':
      return { name, fn: toNull };
    case 'hash':
      return hashKey && hashKey.length > 0 ? { name, fn: hmacMasker(hashKey) } : { name: 'redact', fn: redact };
  }
}
