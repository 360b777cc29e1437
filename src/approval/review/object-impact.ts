/**
 * What an approver sees before deciding a TRUNCATE, DROP or ALTER TABLE: for each object the
 * statement names, its kind, the planner's row estimate (pg_class.reltuples: an estimate from the
 * last ANALYZE or VACUUM, never a count) and its total size; for CASCADE, the objects that would go
 * too. Names come from the parse tree and are resolved by the server as the profile's role resolves
 * them (to_regclass / to_regnamespace on the quoted name), read-only, on the profile's read pool.
 */
import type { Analysis, QualifiedName } from '../../sql/types.js';
import { qualifiedText } from '../../sql/reach.js';
import type { PoolHandle } from '../../db/pools.js';
import type { DbIdentity } from '../../db/identity.js';
import { executeStatement } from '../../db/execute.js';

/** The objects a held DDL statement or TRUNCATE acts on, as the parser read them. */
export interface ObjectTargets {
  /** e.g. `TRUNCATE`, `DROP TABLE`, `ALTER TABLE` */
  statement: string;
  cascade: boolean;
  relations: QualifiedName[];
  schemas: string[];
}

export type ObjectImpact =
  | { name: string; exists: false }
  | {
      name: string;
      exists: true;
      kind: string;
      /** the planner's estimate; `never analyzed` when the server has none; absent for kinds without rows */
      rowEstimate?: number | 'never analyzed';
      totalBytes: number;
      /** the server's pg_size_pretty */
      totalSize: string;
      /** schemas: how many relations they hold */
      relations?: number;
    };

export interface ObjectsPreview {
  kind: 'objects';
  computedAt: string;
  statement: string;
  cascade: boolean;
  objects: ObjectImpact[];
  /** CASCADE: what else would go (DROP) or be emptied (TRUNCATE), qualified */
  dependents?: string[];
}

/** More dependents than this are summarised as a count. */
export const MAX_DEPENDENTS = 100;

const DROPPED_KINDS: Record<string, string> = {
  OBJECT_TABLE: 'DROP TABLE',
  OBJECT_VIEW: 'DROP VIEW',
  OBJECT_MATVIEW: 'DROP MATERIALIZED VIEW',
  OBJECT_INDEX: 'DROP INDEX',
  OBJECT_SEQUENCE: 'DROP SEQUENCE',
  OBJECT_FOREIGN_TABLE: 'DROP FOREIGN TABLE',
};

type AnyNode = Record<string, unknown>;

/** The statement's targets, or undefined when it is not a TRUNCATE, DROP of a relation or schema, or ALTER TABLE. */
export function objectTargets(analysis: Analysis): ObjectTargets | undefined {
  const node = (analysis.root as AnyNode)[analysis.command] as AnyNode | undefined;
  if (node === undefined) return undefined;
  const cascade = node.behavior === 'DROP_CASCADE';
  const relations = [...analysis.tablesWritten];
  switch (analysis.command) {
    case 'TruncateStmt':
      return { statement: 'TRUNCATE', cascade, relations, schemas: [] };
    case 'AlterTableStmt':
      return node.objtype === 'OBJECT_TABLE' ? { statement: 'ALTER TABLE', cascade: false, relations, schemas: [] } : undefined;
    case 'DropStmt': {
      if (node.removeType === 'OBJECT_SCHEMA') {
        const schemas = ((node.objects as AnyNode[] | undefined) ?? []).map((o) => (o.String as AnyNode | undefined)?.sval).filter((s): s is string => typeof s === 'string');
        return { statement: 'DROP SCHEMA', cascade, relations: [], schemas };
      }
      const statement = DROPPED_KINDS[String(node.removeType)];
      return statement === undefined ? undefined : { statement, cascade, relations, schemas: [] };
    }
  }
  return undefined;
}

const RELKINDS: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  i: 'index',
  I: 'partitioned index',
  S: 'sequence',
  f: 'foreign table',
  t: 'TOAST table',
};
/** Kinds whose reltuples counts rows (a view or sequence has none to estimate). */
const HAS_ROWS = new Set(['r', 'p', 'm', 'i', 'I', 'f', 't']);

const RELATIONS_SQL = `select c.oid is not null, c.relkind::text, c.reltuples::float8, pg_total_relation_size(c.oid), pg_size_pretty(pg_total_relation_size(c.oid)), format('%s.%s', n.nspname, c.relname)
from unnest($1::text[]) with ordinality as t(name, ord)
left join pg_class c on c.oid = to_regclass(t.name)
left join pg_namespace n on n.oid = c.relnamespace
order by t.ord`;

// Tables and materialized views carry their indexes and TOAST in pg_total_relation_size; counting those again would double it.
const SCHEMAS_SQL = `select n.oid is not null, n.nspname::text, count(c.oid) filter (where c.relkind in ('r','p','v','m','S','f')),
  coalesce(sum(pg_total_relation_size(c.oid)) filter (where c.relkind in ('r','m','S')), 0),
  pg_size_pretty(coalesce(sum(pg_total_relation_size(c.oid)) filter (where c.relkind in ('r','m','S')), 0))
from unnest($1::text[]) with ordinality as t(name, ord)
left join pg_namespace n on n.oid = to_regnamespace(t.name)
left join pg_class c on c.relnamespace = n.oid
group by t.ord, n.oid, n.nspname
order by t.ord`;

/**
 * What DROP … CASCADE removes besides the named objects, following pg_depend as the server does:
 * normal and automatic dependents, recursively; an object that is internally part of another
 * (a view's rewrite rule, an index behind a constraint) stands for its owner. Listed are the
 * objects that are not merely parts of something already going (a dropped table's own indexes,
 * constraints, row type) and, for schemas, not inside them.
 */
const DROP_DEPENDENTS_SQL = `with recursive start(classid, objid) as (
  select 'pg_class'::regclass::oid, to_regclass(n)::oid from unnest($1::text[]) n where to_regclass(n) is not null
  union all
  select 'pg_namespace'::regclass::oid, to_regnamespace(n)::oid from unnest($2::text[]) n where to_regnamespace(n) is not null
), gone(classid, objid) as (
  select classid, objid from start
  union
  select coalesce(o.refclassid, d.classid), coalesce(o.refobjid, d.objid)
  from gone g
  join pg_depend d on d.refclassid = g.classid and d.refobjid = g.objid and d.deptype in ('n', 'a', 'i')
  left join lateral (select i.refclassid, i.refobjid from pg_depend i where i.classid = d.classid and i.objid = d.objid and i.deptype = 'i' limit 1) o on true
)
select format('%s %s', x.type, x.identity)
from gone g, pg_identify_object(g.classid, g.objid, 0) x
where not exists (select 1 from start s where s.classid = g.classid and s.objid = g.objid)
  and not exists (select 1 from pg_depend p join gone h on h.classid = p.refclassid and h.objid = p.refobjid
                  where p.classid = g.classid and p.objid = g.objid and p.deptype in ('a', 'i'))
  and (x.schema is null or x.schema <> all(select nspname from pg_namespace where oid = any(select objid from start where classid = 'pg_namespace'::regclass)))
order by 1
limit ${MAX_DEPENDENTS + 1}`;

/** What TRUNCATE … CASCADE empties besides the named tables: tables referencing them by foreign key, recursively. */
const TRUNCATE_DEPENDENTS_SQL = `with recursive start(oid) as (
  select to_regclass(n)::oid from unnest($1::text[]) n where to_regclass(n) is not null
), emptied(oid) as (
  select oid from start
  union
  select c.conrelid from pg_constraint c join emptied e on c.confrelid = e.oid where c.contype = 'f'
)
select format('table %s.%s', n.nspname, r.relname)
from emptied e join pg_class r on r.oid = e.oid join pg_namespace n on n.oid = r.relnamespace
where e.oid not in (select oid from start)
order by 1
limit ${MAX_DEPENDENTS + 1}`;

export interface ReadContext {
  handle: PoolHandle;
  identity: DbIdentity;
}

/** Cells arrive as the server's text (`t`/`f`, numbers as digits). */
type Row = (string | null)[];

async function rowsOf(ctx: ReadContext, sql: string, params: unknown[], maxRows: number): Promise<Row[]> {
  return (await executeStatement(ctx.handle, { sql, params, maxRows, mode: 'read', identity: ctx.identity })).rows;
}

function relationImpact(written: QualifiedName, row: Row | undefined): ObjectImpact {
  const [exists, relkind, reltuples, bytes, size, name] = row ?? [];
  if (exists !== 't') return { name: qualifiedName(written), exists: false };
  const kind = String(relkind);
  const estimate = Number(reltuples);
  return {
    name: String(name),
    exists: true,
    kind: RELKINDS[kind] ?? `relation (relkind ${kind})`,
    ...(HAS_ROWS.has(kind) ? { rowEstimate: estimate < 0 ? ('never analyzed' as const) : estimate } : {}),
    totalBytes: Number(bytes),
    totalSize: String(size),
  };
}

function schemaImpact(written: string, row: Row | undefined): ObjectImpact {
  const [exists, name, relations, bytes, size] = row ?? [];
  if (exists !== 't') return { name: written, exists: false };
  return { name: String(name), exists: true, kind: 'schema', relations: Number(relations), totalBytes: Number(bytes), totalSize: String(size) };
}

/** The name as the statement wrote it, for an object that does not resolve. */
function qualifiedName(n: QualifiedName): string {
  return n.schema === undefined ? n.name : `${n.schema}.${n.name}`;
}

async function dependentsOf(ctx: ReadContext, t: ObjectTargets, relations: string[], schemas: string[]): Promise<string[] | undefined> {
  if (!t.cascade) return undefined;
  const rows = t.statement === 'TRUNCATE' ? await rowsOf(ctx, TRUNCATE_DEPENDENTS_SQL, [relations], MAX_DEPENDENTS + 1) : await rowsOf(ctx, DROP_DEPENDENTS_SQL, [relations, schemas], MAX_DEPENDENTS + 1);
  return rows.map((r) => String(r[0]));
}

/** Compute the preview; database errors propagate (the caller turns them into "no preview"). */
export async function computeObjectsImpact(ctx: ReadContext, t: ObjectTargets): Promise<ObjectsPreview> {
  const relations = t.relations.map(qualifiedText);
  const schemas = t.schemas.map((s) => qualifiedText({ name: s }));
  const relationRows = relations.length ? await rowsOf(ctx, RELATIONS_SQL, [relations], relations.length) : [];
  const schemaRows = schemas.length ? await rowsOf(ctx, SCHEMAS_SQL, [schemas], schemas.length) : [];
  const objects = [...t.relations.map((r, i) => relationImpact(r, relationRows[i])), ...t.schemas.map((s, i) => schemaImpact(s, schemaRows[i]))];
  const dependents = await dependentsOf(ctx, t, relations, schemas);
  return { kind: 'objects', computedAt: new Date().toISOString(), statement: t.statement, cascade: t.cascade, objects, ...(dependents ? { dependents } : {}) };
}

/** `~120,000 rows, 48 MB`: the short form the card and the page share. */
export function objectSummary(o: ObjectImpact): string {
  if (!o.exists) return 'does not exist now';
  const parts: string[] = [];
  if (o.relations !== undefined) parts.push(`${o.relations.toLocaleString('en-US')} relation(s)`);
  if (o.rowEstimate === 'never analyzed') parts.push('row estimate unknown (never analyzed)');
  else if (o.rowEstimate !== undefined) parts.push(`~${Math.round(o.rowEstimate).toLocaleString('en-US')} rows`);
  parts.push(o.totalSize);
  return parts.join(', ');
}

/** What CASCADE adds, in a few words. */
export function dependentsSummary(p: ObjectsPreview): string | undefined {
  if (p.dependents === undefined) return undefined;
  const n = p.dependents.length > MAX_DEPENDENTS ? `more than ${MAX_DEPENDENTS}` : String(p.dependents.length);
  const verb = p.statement === 'TRUNCATE' ? 'would be emptied too' : 'would go too';
  return p.dependents.length === 0 ? 'no dependent objects' : `${n} dependent object(s) ${verb}`;
}
