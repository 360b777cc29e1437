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
  /** `hidden`: its schema exists but the profile's role may not use it, so the name cannot be resolved as the role would */
  | { name: string; exists: false; hidden?: true }
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

/** The relation kinds a DROP or ALTER names, as SQL spells them. */
const RELATION_OBJECTS: Record<string, string> = {
  OBJECT_TABLE: 'TABLE',
  OBJECT_VIEW: 'VIEW',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_INDEX: 'INDEX',
  OBJECT_SEQUENCE: 'SEQUENCE',
  OBJECT_FOREIGN_TABLE: 'FOREIGN TABLE',
};

const VERBS: Record<string, string> = { DropStmt: 'DROP', AlterTableStmt: 'ALTER', RenameStmt: 'ALTER' };

/** `DROP FUNCTION`, `ALTER TYPE`: how a statement without an object preview is named in its "no preview" sentence. */
export function statementLabel(analysis: Analysis): string {
  const node = ((analysis.root as AnyNode)[analysis.command] ?? {}) as AnyNode;
  const object = node.removeType ?? node.objtype ?? node.renameType;
  const verb = VERBS[analysis.command];
  if (verb === undefined || typeof object !== 'string') return analysis.command.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  return `${verb} ${object.replace(/^OBJECT_/, '').replace(/_/g, ' ')}`;
}

type AnyNode = Record<string, unknown>;

/** The statement's targets, or undefined when it is not a TRUNCATE, or a DROP or ALTER of a relation (or DROP SCHEMA). */
export function objectTargets(analysis: Analysis): ObjectTargets | undefined {
  const node = (analysis.root as AnyNode)[analysis.command] as AnyNode | undefined;
  if (node === undefined) return undefined;
  const cascade = node.behavior === 'DROP_CASCADE';
  const relations = [...analysis.tablesWritten];
  switch (analysis.command) {
    case 'TruncateStmt':
      return { statement: 'TRUNCATE', cascade, relations, schemas: [] };
    case 'AlterTableStmt': {
      // ALTER INDEX / VIEW / MATERIALIZED VIEW / SEQUENCE / FOREIGN TABLE parse as AlterTableStmt too.
      const kind = RELATION_OBJECTS[String(node.objtype)];
      return kind === undefined ? undefined : { statement: `ALTER ${kind}`, cascade: false, relations, schemas: [] };
    }
    case 'RenameStmt': {
      // ALTER TABLE … RENAME [COLUMN] …: the relation, or the relation of the renamed column or constraint.
      const kind = node.relation === undefined ? undefined : (RELATION_OBJECTS[String(node.renameType)] ?? RELATION_OBJECTS[String(node.relationType)]);
      return kind === undefined ? undefined : { statement: `ALTER ${kind}`, cascade: false, relations, schemas: [] };
    }
    case 'DropStmt': {
      if (node.removeType === 'OBJECT_SCHEMA') {
        const schemas = ((node.objects as AnyNode[] | undefined) ?? []).map((o) => (o.String as AnyNode | undefined)?.sval).filter((s): s is string => typeof s === 'string');
        return { statement: 'DROP SCHEMA', cascade, relations: [], schemas };
      }
      const kind = RELATION_OBJECTS[String(node.removeType)];
      return kind === undefined ? undefined : { statement: `DROP ${kind}`, cascade, relations, schemas: [] };
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

// to_regclass raises (instead of answering null) for a schema the role may not use: such names are reported, not resolved.
const RELATIONS_SQL = `select c.oid, c.relkind::text, c.reltuples::float8, pg_total_relation_size(c.oid), pg_size_pretty(pg_total_relation_size(c.oid)), format('%s.%s', n.nspname, c.relname),
  s.oid is not null and not has_schema_privilege(s.oid, 'USAGE')
from unnest($1::text[], $2::text[]) with ordinality as t(name, schema, ord)
left join pg_namespace s on s.nspname = t.schema
left join pg_class c on c.oid = case when s.oid is null or has_schema_privilege(s.oid, 'USAGE') then to_regclass(t.name) end
left join pg_namespace n on n.oid = c.relnamespace
order by t.ord`;

// Tables and materialized views carry their indexes and TOAST in pg_total_relation_size; counting those again would double it.
const SCHEMAS_SQL = `select n.oid, n.nspname::text, count(c.oid) filter (where c.relkind in ('r','p','v','m','S','f')),
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
  select 'pg_class'::regclass::oid, o from unnest($1::oid[]) o
  union all
  select 'pg_namespace'::regclass::oid, o from unnest($2::oid[]) o
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
  select unnest($1::oid[])
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
  const [oid, relkind, reltuples, bytes, size, name, hidden] = row ?? [];
  if (oid == null) return hidden === 't' ? { name: qualifiedName(written), exists: false, hidden: true } : { name: qualifiedName(written), exists: false };
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
  const [oid, name, relations, bytes, size] = row ?? [];
  if (oid == null) return { name: written, exists: false };
  return { name: String(name), exists: true, kind: 'schema', relations: Number(relations), totalBytes: Number(bytes), totalSize: String(size) };
}

/** The name as the statement wrote it, for an object that does not resolve. */
function qualifiedName(n: QualifiedName): string {
  return n.schema === undefined ? n.name : `${n.schema}.${n.name}`;
}

/** `relations` and `schemas`: the oids the names resolved to. */
async function dependentsOf(ctx: ReadContext, t: ObjectTargets, relations: string[], schemas: string[]): Promise<string[] | undefined> {
  if (!t.cascade) return undefined;
  const rows = t.statement === 'TRUNCATE' ? await rowsOf(ctx, TRUNCATE_DEPENDENTS_SQL, [relations], MAX_DEPENDENTS + 1) : await rowsOf(ctx, DROP_DEPENDENTS_SQL, [relations, schemas], MAX_DEPENDENTS + 1);
  return rows.map((r) => String(r[0]));
}

const oidsOf = (rows: Row[]): string[] => rows.map((r) => r[0]).filter((o): o is string => o != null);

/** Compute the preview; database errors propagate (the caller turns them into "no preview"). */
export async function computeObjectsImpact(ctx: ReadContext, t: ObjectTargets): Promise<ObjectsPreview> {
  const relations = t.relations.map(qualifiedText);
  const schemas = t.schemas.map((s) => qualifiedText({ name: s }));
  const relationRows = relations.length ? await rowsOf(ctx, RELATIONS_SQL, [relations, t.relations.map((r) => r.schema ?? null)], relations.length) : [];
  const schemaRows = schemas.length ? await rowsOf(ctx, SCHEMAS_SQL, [schemas], schemas.length) : [];
  const objects = [...t.relations.map((r, i) => relationImpact(r, relationRows[i])), ...t.schemas.map((s, i) => schemaImpact(s, schemaRows[i]))];
  const dependents = await dependentsOf(ctx, t, oidsOf(relationRows), oidsOf(schemaRows));
  return { kind: 'objects', computedAt: new Date().toISOString(), statement: t.statement, cascade: t.cascade, objects, ...(dependents ? { dependents } : {}) };
}

/** `~120,000 rows, 48 MB`: the short form the card and the page share. */
export function objectSummary(o: ObjectImpact): string {
  if (!o.exists) return o.hidden ? "no preview: the profile's role may not use its schema" : 'does not exist now';
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
