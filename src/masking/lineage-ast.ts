/**
 * What the lineage walker knows about PostgreSQL beyond the parse tree: node helpers, the names the
 * server gives columns, and the functions and relations that need special care.
 */
import type { ColumnRef, FuncCall, Node, TypeCast } from '@pgsql/types';
import { nameFromList } from '../sql/names.js';

export type Body = Record<string, unknown>;

export const SYSTEM_COLUMNS = new Set(['ctid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid']);

/** Types a masked value may be cast to without the cast being able to fail on its content. */
/**
 * The server's own text types, into which a cast cannot fail (pg_catalog, which an unqualified type
 * name resolves to first). Not citext: an extension type, and any schema could hold a domain of
 * that name whose CHECK fails on the value.
 */
export const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'char', 'name']);

/** Function-style casts and parsers that fail on malformed input: an error would reveal the value. */
export const PARSING_FUNCTIONS = new Set([
  'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'bool', 'date', 'time', 'timetz', 'timestamp', 'timestamptz',
  'interval', 'json', 'jsonb', 'uuid', 'inet', 'cidr', 'macaddr', 'macaddr8', 'money', 'xml', 'bytea', 'regclass',
  'regproc', 'regtype', 'regnamespace', 'regrole', 'to_number', 'to_date', 'to_timestamp', 'json_in', 'jsonb_in',
  'xmlparse', 'decode', 'convert_from', 'chr', 'jsonb_path_query', 'jsonb_path_exists', 'jsonb_path_match',
]);

/** Functions that read SQL or table names given as text: nothing they return can be traced. */
export const UNTRACEABLE_FUNCTIONS = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
  'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'schema_to_xml', 'schema_to_xml_and_xmlschema',
  'database_to_xml', 'database_to_xml_and_xmlschema', 'ts_stat', 'dblink', 'crosstab', 'pg_read_file',
  'pg_stat_get_activity', 'current_query',
]);

/** Catalog relations whose content includes values of other tables (statistics, query texts). */
export const VALUE_EXPOSING_RELATIONS = new Set([
  'pg_catalog.pg_stats', 'pg_catalog.pg_stats_ext', 'pg_catalog.pg_stats_ext_exprs', 'pg_catalog.pg_statistic',
  'pg_catalog.pg_statistic_ext_data', 'pg_catalog.pg_stat_activity', 'pg_catalog.pg_prepared_statements',
  'pg_catalog.pg_cursors',
]);
export const VALUE_EXPOSING_NAMES = new Set(['pg_stat_statements']);

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

/**
 * Visit every object under `root` (arrays are walked through, iteratively: parse trees can be very
 * deep). Stops and returns true as soon as `visit` returns true.
 */
export function visitObjects(root: unknown, visit: (o: Record<string, unknown>) => boolean | void): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (visit(o) === true) return true;
    for (const x of Object.values(o)) if (x !== null && typeof x === 'object') stack.push(x);
  }
  return false;
}
