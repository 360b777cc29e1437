import pg from 'pg';
import type { Cell } from './types.js';

const NAMES = new Map<number, string>(Object.entries(pg.types.builtins).map(([name, oid]) => [oid as number, name.toLowerCase()]));

/** The type name of a builtin type OID; `unknown` for types without a builtin name (enums, domains…). */
export function typeName(oid: number): string {
  return NAMES.get(oid) ?? 'unknown';
}

const { INT2, INT4, OID, FLOAT4, FLOAT8, BOOL, JSON: JSON_OID, JSONB } = pg.types.builtins;

/**
 * Turn the server's text into a JSON value for the response. Integers beyond 2^53 (int8, numeric)
 * stay strings so no digit is lost; masked cells stay the masker's string.
 */
export function jsonValueConverter(oid: number): ((cell: string) => unknown) | undefined {
  switch (oid) {
    case INT2:
    case INT4:
    case OID:
      return (c) => Number(c);
    case FLOAT4:
    case FLOAT8:
      return (c) => {
        const n = Number(c);
        return Number.isFinite(n) ? n : c;
      };
    case BOOL:
      return (c) => c === 't';
    case JSON_OID:
    case JSONB:
      return (c) => JSON.parse(c) as unknown;
    default:
      return undefined;
  }
}

export function toJsonRows(rows: Cell[][], types: number[], masked: boolean[]): unknown[][] {
  const converters = types.map((t, i) => (masked[i] ? undefined : jsonValueConverter(t)));
  if (converters.every((c) => c === undefined)) return rows;
  return rows.map((row) => row.map((cell, i) => (cell === null ? null : (converters[i]?.(cell) ?? cell))));
}
