/**
 * The schema listing of one connection as one database role sees it: the relations the role may
 * read (in schemas it may use), their readable columns, keys, comments and row estimates, and the
 * table-level privileges of the role. Engine-neutral words (`table`, `view`…), no masking: the
 * schema route flags masked columns with the masking module and formats the result.
 */
import type { Queryable } from '../types.js';

export type RelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view' | 'foreign table';
export type TablePrivilege = 'select' | 'insert' | 'update' | 'delete';

export interface SchemaColumn {
  name: string;
  /** the type as the server spells it (format_type) */
  type: string;
  nullable: boolean;
}

export interface ForeignKey {
  columns: string[];
  references: { schema: string; table: string; columns: string[] };
}

export interface SchemaRelation {
  oid: number;
  schema: string;
  name: string;
  kind: RelationKind;
  /** table-level privileges of the role (column-level grants show in `columns` only) */
  privileges: TablePrivilege[];
  /** the planner's row estimate; null when the table was never analyzed */
  estimatedRows: number | null;
  primaryKey: string[];
  foreignKeys: ForeignKey[];
  comment?: string;
  /** the columns the role may read, in attnum order */
  columns: SchemaColumn[];
}

const KINDS: Record<string, RelationKind> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table' };

/**
 * Relations the role may read (table-level SELECT, or SELECT on some column) in schemas it may
 * use. `$1` is the role the profile runs as; null means the login role itself.
 */
const TABLES_SQL = `
with r as (select coalesce($1::name, current_user) as role)
select c.oid::text as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind,
       case when c.reltuples < 0 then null else c.reltuples::float8 end as estimated_rows,
       obj_description(c.oid, 'pg_class') as comment,
       has_table_privilege(r.role, c.oid, 'SELECT') as can_select,
       has_table_privilege(r.role, c.oid, 'INSERT') as can_insert,
       has_table_privilege(r.role, c.oid, 'UPDATE') as can_update,
       has_table_privilege(r.role, c.oid, 'DELETE') as can_delete,
       coalesce((select array_agg(a.attname::text order by k.ord)
                   from pg_index i
                   cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
                   join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                  where i.indrelid = c.oid and i.indisprimary), '{}') as primary_key,
       coalesce((select json_agg(json_build_object(
                          'columns', (select array_agg(a.attname::text order by k.ord) from unnest(f.conkey) with ordinality k(attnum, ord)
                                        join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum),
                          'references', json_build_object(
                            'schema', rn.nspname, 'table', rc.relname,
                            'columns', (select array_agg(a.attname::text order by k.ord) from unnest(f.confkey) with ordinality k(attnum, ord)
                                          join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum)))
                          order by f.conname)
                   from pg_constraint f
                   join pg_class rc on rc.oid = f.confrelid
                   join pg_namespace rn on rn.oid = rc.relnamespace
                  where f.conrelid = c.oid and f.contype = 'f'), '[]'::json) as foreign_keys
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join r
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'
   and has_schema_privilege(r.role, n.oid, 'USAGE')
   and has_any_column_privilege(r.role, c.oid, 'SELECT')
 order by n.nspname, c.relname`;

const COLUMNS_SQL = `
with r as (select coalesce($1::name, current_user) as role)
select a.attrelid::text as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable
  from pg_attribute a cross join r
 where a.attrelid = any($2::oid[]) and a.attnum > 0 and not a.attisdropped
   and has_column_privilege(r.role, a.attrelid, a.attnum, 'SELECT')
 order by a.attrelid, a.attnum`;

/**
 * Read the listing on `db` (the connection's login role: it may see the catalog of every role it
 * can become), with privileges checked for `role` (null: the login role itself).
 */
export async function readSchema(db: Queryable, role: string | null): Promise<SchemaRelation[]> {
  const tables = await db.query<{
    oid: string;
    schema: string;
    name: string;
    kind: string;
    estimated_rows: number | null;
    comment: string | null;
    can_select: boolean;
    can_insert: boolean;
    can_update: boolean;
    can_delete: boolean;
    primary_key: string[];
    foreign_keys: ForeignKey[];
  }>(TABLES_SQL, [role]);
  const oids = tables.rows.map((t) => t.oid);
  const columns = await db.query<{ oid: string; name: string; type: string; nullable: boolean }>(COLUMNS_SQL, [role, oids]);
  const columnsOf = new Map<string, SchemaColumn[]>();
  for (const c of columns.rows) {
    const list = columnsOf.get(c.oid) ?? [];
    list.push({ name: c.name, type: c.type, nullable: c.nullable });
    columnsOf.set(c.oid, list);
  }
  return tables.rows.map((t) => {
    const privileges: TablePrivilege[] = [];
    if (t.can_select) privileges.push('select');
    if (t.can_insert) privileges.push('insert');
    if (t.can_update) privileges.push('update');
    if (t.can_delete) privileges.push('delete');
    const relation: SchemaRelation = {
      oid: Number(t.oid),
      schema: t.schema,
      name: t.name,
      kind: KINDS[t.kind] ?? 'table',
      privileges,
      estimatedRows: t.estimated_rows === null ? null : Number(t.estimated_rows),
      primaryKey: t.primary_key,
      foreignKeys: t.foreign_keys,
      columns: columnsOf.get(t.oid) ?? [],
    };
    if (t.comment) relation.comment = t.comment;
    return relation;
  });
}
