/**
 * Canonical JSON: object keys sorted by UTF-16 code units (as RFC 8785 does), no whitespace, the
 * same number and string forms as JSON.stringify. The audit chain hashes this form, so a record
 * parsed back from its stored line hashes to exactly the value computed when it was written.
 *
 * It is on every request's path (row digests, every audit record), so it is computed in two ways
 * that give the same text:
 *  - fast: rebuild only the objects whose keys are out of order (or that JSON.stringify would treat
 *    differently), then let the native JSON.stringify write the tree;
 *  - written out: the definition, key by key, for values the fast way cannot represent (an object
 *    with a key V8 enumerates before the others regardless of insertion order, such as "10").
 */
import { hash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  const out = serializeCanonical(value);
  if (out === undefined) throw new TypeError('canonicalJson: the value has no JSON form');
  return out;
}

export function sha256Hex(data: string | Uint8Array): string {
  // One-shot hash (Node >= 20.12): about half the cost of createHash().update().digest() here.
  return hash('sha256', data, 'hex');
}

/** SHA-256 of the canonical JSON of a value: the digest used for rows, params and records. */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** The canonical JSON text of a value; undefined when it has none (undefined, a function, a symbol). */
export function serializeCanonical(value: unknown): string | undefined {
  let prepared: unknown;
  try {
    prepared = prepare(value);
  } catch (e) {
    if (e === UNORDERABLE) return writeCanonical(value);
    throw e;
  }
  return JSON.stringify(prepared) as string | undefined;
}

/** Thrown by `prepare` for an object whose key order a JS object cannot hold. */
const UNORDERABLE: unique symbol = Symbol('unorderable');

/**
 * A value that JSON.stringify writes as the canonical text of `value`: `value` itself when it
 * already is one (no allocation: the common case for rows), else a copy with sorted keys,
 * toJSON applied once, bigints as decimal strings and function members left out.
 */
function prepare(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  // Same order as JSON.stringify: toJSON first (Date → ISO string, Buffer → {type,data}), once.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    const json: unknown = (value as { toJSON: () => unknown }).toJSON();
    if (json === null || typeof json !== 'object') return typeof json === 'bigint' ? json.toString() : json;
    return prepareContainer(json);
  }
  return prepareContainer(value);
}

/**
 * A container is only passed on as it is when JSON.stringify writes it as plain JSON: not when it
 * still has a toJSON (a toJSON's result does not get another turn here) or is a boxed primitive
 * (JSON.stringify unwraps those; the canonical form writes their own keys, e.g. {}).
 */
function isPlainFor(value: object, plainProto: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === plainProto || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

function prepareContainer(value: object): unknown {
  if (Array.isArray(value)) {
    const copyAll = !isPlainFor(value, Array.prototype);
    let copy: unknown[] | undefined = copyAll ? [] : undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const prepared = prepare(item);
      if (copy === undefined && prepared !== item) copy = value.slice(0, i);
      copy?.push(prepared);
    }
    return copy ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let changed = !isPlainFor(value, Object.prototype);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const first = key.charCodeAt(0);
    // Array-index keys ("0", "10") are enumerated first in numeric order whatever the insertion
    // order, and "__proto__" would set the prototype: only the written-out form can hold them.
    if ((first >= 48 && first <= 57) || key === '__proto__') throw UNORDERABLE;
    if (i > 0 && keys[i - 1]! > key) changed = true;
  }
  if (changed) sortKeys(keys);
  const values: unknown[] = new Array<unknown>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const item = obj[keys[i]!];
    // A function member is left out, as JSON.stringify does; dropping it also keeps a copied
    // object from carrying a `toJSON` that JSON.stringify would call.
    const prepared = typeof item === 'function' ? undefined : prepare(item);
    if (prepared !== item) changed = true;
    values[i] = prepared;
  }
  if (!changed) return value;
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    if (values[i] !== undefined) copy[keys[i]!] = values[i];
  }
  return copy;
}

/** The definition of the canonical form, written key by key. */
function writeCanonical(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      // JSON.stringify throws on bigint; a decimal string keeps the exact value and round-trips.
      return `"${value.toString()}"`;
    case 'object':
      break;
    default:
      return undefined; // undefined, function, symbol
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (writeCanonical(value[i]) ?? 'null');
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(obj));
  let out = '';
  for (const key of keys) {
    const item = writeCanonical(obj[key]);
    if (item !== undefined) out += (out === '' ? '{' : ',') + JSON.stringify(key) + ':' + item;
  }
  return out === '' ? '{}' : `${out}}`;
}

/** Sort keys by UTF-16 code units in place; insertion sort beats Array#sort on the usual few keys. */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
