/**
 * Canonical JSON: object keys sorted by UTF-16 code units (as RFC 8785 does), no whitespace, the
 * same number and string forms as JSON.stringify. The audit chain hashes this form, so a record
 * parsed back from its stored line hashes to exactly the value computed when it was written.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  const out = serialize(value);
  if (out === undefined) throw new TypeError('canonicalJson: the value has no JSON form');
  return out;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the canonical JSON of a value: the digest used for rows, params and records. */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

function serialize(value: unknown): string | undefined {
  // Same order as JSON.stringify: toJSON first (Date → ISO string, Buffer → {type,data}).
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
      // JSON.stringify throws on bigint; a decimal string keeps the exact value and round-trips.
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
    return `[${value.map((item) => serialize(item) ?? 'null').join(',')}]`;
  }
  const entries: string[] = [];
  for (const key of Object.keys(value as object).sort()) {
    const item = serialize((value as Record<string, unknown>)[key]);
    if (item !== undefined) entries.push(`${JSON.stringify(key)}:${item}`);
  }
  return `{${entries.join(',')}}`;
}
