/**
 * Reading libpg-query's parse tree: node helpers, and the names the server gives columns (system
 * columns, set-returning functions in FROM, unnamed expressions). What is safe for a masked value
 * is not decided here: see ../rules/.
 */
import type { ColumnRef, FuncCall, Node, TypeCast } from '@pgsql/types';
import { nameFromList } from '../../sql/names.js';

export type Body = Record<string, unknown>;

export const SYSTEM_COLUMNS = new Set(['ctid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid']);

/** Column names of common set-returning functions used in FROM without a column list. */
export const KNOWN_FUNCTION_COLUMNS: Readonly<Record<string, readonly string[] | 'self'>> = {
  generate_series: 'self', generate_subscripts: 'self', regexp_split_to_table: 'self', string_to_table: 'self',
  json_array_elements: ['value'], jsonb_array_elements: ['value'], json_array_elements_text: ['value'],
  jsonb_array_elements_text: ['value'], json_object_keys: 'self', jsonb_object_keys: 'self', regexp_matches: 'self',
  json_each: ['key', 'value'], jsonb_each: ['key', 'value'], json_each_text: ['key', 'value'], jsonb_each_text: ['key', 'value'],
};

/** PostgreSQL truncates identifiers to 63 bytes. */
export function truncateName(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= 63) return s;
  let end = 63;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

export function unwrap(n: unknown): [string, Body] | undefined {
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const keys = Object.keys(n);
  if (keys.length !== 1) return undefined;
  const k = keys[0]!;
  if (!/^[A-Z]/.test(k)) return undefined;
  const v = (n as Body)[k];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return [k, v as Body];
}

export function stringsOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((x) => (x as { String?: { sval?: string } }).String?.sval).filter((s): s is string => typeof s === 'string');
}

export function intConst(n: Node | undefined): number | undefined {
  const u = unwrap(n);
  if (!u || u[0] !== 'A_Const') return undefined;
  const ival = u[1].ival as { ival?: number } | undefined;
  if (ival === undefined) return undefined;
  return ival.ival ?? 0;
}

/** The name PostgreSQL gives an unnamed select-list expression (FigureColname), when it is simple to know. */
export function figureName(n: Node | undefined): { name: string; certain: boolean } {
  const u = unwrap(n);
  if (!u) return { name: '?column?', certain: false };
  const [type, body] = u;
  switch (type) {
    case 'ColumnRef': {
      const names = stringsOf((body as ColumnRef).fields);
      const last = names.at(-1);
      return last !== undefined && names.length === ((body as ColumnRef).fields ?? []).length ? { name: last, certain: true } : { name: '?column?', certain: false };
    }
    case 'FuncCall': {
      const name = nameFromList((body as FuncCall).funcname);
      return { name: name?.name ?? '?column?', certain: false };
    }
    case 'TypeCast': {
      const inner = figureName((body as TypeCast).arg);
      if (inner.name !== '?column?') return { name: inner.name, certain: false };
      return { name: stringsOf((body as TypeCast).typeName?.names).at(-1) ?? '?column?', certain: false };
    }
    default:
      return { name: '?column?', certain: false };
  }
}

export { visitObjects } from '../../sql/walk.js';
