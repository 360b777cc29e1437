/**
 * Cached catalog look-ups for one connection: what a table name resolves to, a relation's columns
 * (with the names of the same column in inheritance parents and children, so a rule on a parent
 * also covers its partitions), view definitions (to trace view columns to base columns), function
 * facts (built-in or not, set-returning) and type names.
 *
 * Entries expire after `ttlMs` so DDL made elsewhere is picked up; the pipeline calls `invalidate()`
 * after DDL it ran itself. Expiry is by epoch: `ttlMs` after the first answer was stored, every
 * answer is forgotten at once and `generation` moves on. So whatever was derived from the answers of
 * one generation (a cached masking plan) is exactly as fresh as the answers themselves, and is stale
 * as soon as the generation changes.
 */
import type { Queryable } from '../db/types.js';
import { quoteIdent } from '../sql/names.js';
import type { ColumnKey } from './column-key.js';

export interface RelationColumn {
  attnum: number;
  name: string;
  /** an array (or a domain over one): how long it is varies with the value */
  array?: boolean;
  /** `schema.table.column` of this column, then of the same column in inheritance parents and children */
  keys: readonly ColumnKey[];
}

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned, v view, m materialized view, f foreign, … */
  kind: string;
  /** user columns in attnum order (dropped columns left out) */
  columns: readonly RelationColumn[];
  /** SELECT text of a view or materialized view (pg_get_viewdef) */
  definition?: string;
}

export interface FunctionFacts {
  /** every function of that name the call can resolve to is a pg_catalog function */
  builtin: boolean;
  /** some function of that name returns a set (its row count may depend on its arguments) */
  setReturning: boolean;
}

export interface OperatorFacts {
  /** every operator of that name the expression can resolve to is a pg_catalog operator */
  builtin: boolean;
}

export interface ColumnCatalog {
  /** Resolve table names as the server would (search_path); the map is keyed by `relationNameKey`. Unknown names map to null. */
  relationsByName(names: readonly { schema?: string; name: string }[]): Promise<Map<string, RelationInfo | null>>;
  relationsByOid(oids: readonly number[]): Promise<Map<number, RelationInfo | null>>;
  /** a relation already fetched (synchronous, for the masking of a result) */
  peekRelation(oid: number): RelationInfo | null | undefined;
  /** facts about functions by name: key `name` (unqualified call) or `schema.name` */
  functions(names: readonly { schema?: string; name: string }[]): Promise<Map<string, FunctionFacts>>;
  /**
   * facts about operators by name (key as for functions): `builtin` when every operator of that name
   * is one of the server's own (pg_catalog), so it runs no user code
   */
  operators(names: readonly { schema?: string; name: string }[]): Promise<Map<string, OperatorFacts>>;
  typeNames(oids: readonly number[]): Promise<Map<number, string>>;
  /**
   * Whether the database has implicit casts of its own from a string type (an extension's or a DBA's,
   * e.g. text → geometry, or text → int8 for old applications): the server may then convert a masked
   * string before an operator runs, and that conversion can fail on the value.
   */
  userImplicitCasts(): Promise<boolean>;
  /** forget everything (after DDL) */
  invalidate(): void;
  /**
   * Changes whenever answers may change: on `invalidate()` and when the TTL expires the cached
   * answers (reading it checks the TTL). Answers given under one generation stay the answers
   * while it is unchanged.
   */
  readonly generation: number;
}

type QName = { schema?: string; name: string };

export function relationNameKey(n: { schema?: string; name: string }): string {
  return n.schema === undefined ? n.name : `${n.schema}\u0000${n.name}`;
}

export function functionNameKey(n: { schema?: string; name: string }): string {
  return n.schema === undefined ? n.name : `${n.schema}.${n.name}`;
}

const RELATIONS_SQL = `
select c.oid::text as oid, ns.nspname as schema, c.relname as name, c.relkind::text as kind,
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition
  from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
 where c.oid = any($1::oid[])`;

const COLUMNS_SQL = `
select a.attrelid::text as oid, a.attnum::int as attnum, a.attname as name,
       (t.typcategory = 'A' or coalesce(bt.typcategory = 'A', false)) as is_array
  from pg_attribute a
  join pg_type t on t.oid = a.atttypid
  left join pg_type bt on bt.oid = t.typbasetype
 where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
 order by a.attrelid, a.attnum`;

/** Inheritance parents and children (partitions included), transitively. */
const RELATIVES_SQL = `
with recursive up(relid, rel) as (
  select inhrelid, inhparent from pg_inherits where inhrelid = any($1::oid[])
  union
  select up.relid, i.inhparent from up join pg_inherits i on i.inhrelid = up.rel
), down(relid, rel) as (
  select inhparent, inhrelid from pg_inherits where inhparent = any($1::oid[])
  union
  select down.relid, i.inhrelid from down join pg_inherits i on i.inhparent = down.rel
)
select r.relid::text as oid, ns.nspname as schema, c.relname as name
  from (select relid, rel from up union select relid, rel from down) r
  join pg_class c on c.oid = r.rel
  join pg_namespace ns on ns.oid = c.relnamespace`;

export function createColumnCatalog(db: Queryable, options: { ttlMs?: number; now?: () => number } = {}): ColumnCatalog {
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const byName = new Map<string, number | null>();
  const byOid = new Map<number, RelationInfo | null>();
  const funcs = new Map<string, FunctionFacts>();
  const ops = new Map<string, OperatorFacts>();
  let implicitCasts: boolean | undefined;
  const types = new Map<number, string>();
  let generation = 0;
  /** when the oldest answer still held was stored; undefined while nothing is held */
  let epochStart: number | undefined;

  function forgetAll(): void {
    byName.clear();
    byOid.clear();
    funcs.clear();
    ops.clear();
    implicitCasts = undefined;
    types.clear();
    epochStart = undefined;
    generation++;
  }

  /**
   * Facts by name (functions, operators): cached answers, and one query for the names not cached;
   * `fetch` gets the distinct bare names and returns how to judge each qualified name.
   */
  async function factsByName<F>(
    names: readonly QName[],
    cache: Map<string, F>,
    fetch: (bareNames: string[]) => Promise<(n: QName) => F>,
  ): Promise<Map<string, F>> {
    expire();
    const wanted = [...new Map(names.map((n) => [functionNameKey(n), n])).values()];
    const out = new Map<string, F>();
    const missing: QName[] = [];
    for (const n of wanted) {
      const facts = cache.get(functionNameKey(n));
      if (facts === undefined) missing.push(n);
      else out.set(functionNameKey(n), facts);
    }
    if (missing.length > 0) {
      const startedAt = generation;
      const judge = await fetch([...new Set(missing.map((n) => n.name))]);
      const keep = mayStore(startedAt);
      for (const n of missing) {
        const facts = judge(n);
        out.set(functionNameKey(n), facts);
        if (keep) cache.set(functionNameKey(n), facts);
      }
    }
    return out;
  }

  /** Drop every answer once the oldest is older than the TTL (checked before each use). */
  function expire(): void {
    if (epochStart !== undefined && now() - epochStart > ttl) forgetAll();
  }

  /**
   * Whether answers fetched since `startedAt` may be kept: not when the catalog was invalidated
   * meanwhile (they may describe the database before the DDL that caused it). The caller still gets them.
   */
  function mayStore(startedAt: number): boolean {
    if (startedAt !== generation) return false;
    epochStart ??= now();
    return true;
  }

  async function fetchRelations(oids: number[]): Promise<Map<number, RelationInfo | null>> {
    const out = new Map<number, RelationInfo | null>();
    if (oids.length === 0) return out;
    const startedAt = generation;
    const [rels, cols, relatives] = [
      await db.query<{ oid: string; schema: string; name: string; kind: string; definition: string | null }>(RELATIONS_SQL, [oids]),
      await db.query<{ oid: string; attnum: number | string; name: string; is_array: boolean | string }>(COLUMNS_SQL, [oids]),
      await db.query<{ oid: string; schema: string; name: string }>(RELATIVES_SQL, [oids]),
    ];
    const relativesOf = new Map<number, { schema: string; name: string }[]>();
    for (const r of relatives.rows) {
      const list = relativesOf.get(Number(r.oid)) ?? [];
      list.push({ schema: r.schema, name: r.name });
      relativesOf.set(Number(r.oid), list);
    }
    const colsOf = new Map<number, { attnum: number; name: string; array: boolean }[]>();
    for (const c of cols.rows) {
      const list = colsOf.get(Number(c.oid)) ?? [];
      list.push({ attnum: Number(c.attnum), name: c.name, array: c.is_array === true || c.is_array === 't' || c.is_array === 'true' });
      colsOf.set(Number(c.oid), list);
    }
    for (const oid of oids) out.set(oid, null);
    for (const r of rels.rows) {
      const oid = Number(r.oid);
      const family = relativesOf.get(oid) ?? [];
      const columns: RelationColumn[] = (colsOf.get(oid) ?? []).map((c) => ({
        attnum: c.attnum,
        name: c.name,
        keys: [`${r.schema}.${r.name}.${c.name}`, ...family.map((f) => `${f.schema}.${f.name}.${c.name}`)],
        ...(c.array ? { array: true } : {}),
      }));
      const info: RelationInfo = { oid, schema: r.schema, name: r.name, kind: r.kind, columns };
      if (r.definition !== null && r.definition !== undefined) info.definition = r.definition;
      out.set(oid, info);
    }
    if (mayStore(startedAt)) for (const [oid, info] of out) byOid.set(oid, info);
    return out;
  }

  return {
    async relationsByName(names) {
      expire();
      const keys = [...new Set(names.map(relationNameKey))];
      const oidOf = new Map<string, number | null | undefined>(keys.map((k) => [k, byName.get(k)]));
      const missing = keys.filter((k) => oidOf.get(k) === undefined);
      if (missing.length > 0) {
        const startedAt = generation;
        const texts = missing.map((k) => k.split('\u0000').map(quoteIdent).join('.'));
        const { rows } = await db.query<{ i: string | number; oid: string | null }>(
          `select n.i::int as i, to_regclass(n.req)::oid::text as oid from unnest($1::text[]) with ordinality as n(req, i)`,
          [texts],
        );
        const keep = mayStore(startedAt);
        for (const r of rows) {
          const key = missing[Number(r.i) - 1];
          if (key === undefined) continue;
          const oid = r.oid === null ? null : Number(r.oid);
          oidOf.set(key, oid);
          if (keep) byName.set(key, oid);
        }
      }
      const oids = [...oidOf.values()].filter((o): o is number => typeof o === 'number');
      const infos = await this.relationsByOid(oids);
      const out = new Map<string, RelationInfo | null>();
      for (const k of keys) {
        const oid = oidOf.get(k);
        out.set(k, typeof oid === 'number' ? (infos.get(oid) ?? null) : null);
      }
      return out;
    },

    async relationsByOid(oids) {
      expire();
      const unique = [...new Set(oids)];
      const out = new Map<number, RelationInfo | null>();
      const missing: number[] = [];
      for (const o of unique) {
        const info = byOid.get(o);
        if (info === undefined) missing.push(o);
        else out.set(o, info);
      }
      for (const [o, info] of await fetchRelations(missing)) out.set(o, info);
      return out;
    },

    peekRelation(oid) {
      expire();
      return byOid.get(oid);
    },

    async functions(names) {
      return factsByName(names, funcs, async (missing) => {
        const { rows } = await db.query<{ schema: string; name: string; srf: boolean | string }>(
          `select n.nspname as schema, p.proname as name, p.proretset as srf
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where p.proname = any($1::text[])`,
          [missing],
        );
        return (n) => {
          const matches = rows.filter((r) => r.name === n.name && (n.schema === undefined || r.schema === n.schema));
          const srf = matches.some((r) => r.srf === true || r.srf === 't' || r.srf === 'true');
          // Unknown names and user functions are not built-in: their lineage is unknown (fail closed).
          const builtin = matches.length > 0 && matches.every((r) => r.schema === 'pg_catalog');
          return { builtin, setReturning: srf || matches.length === 0 };
        };
      });
    },

    async operators(names) {
      return factsByName(names, ops, async (missing) => {
        const { rows } = await db.query<{ schema: string; name: string }>(
          `select distinct n.nspname as schema, o.oprname as name
             from pg_operator o join pg_namespace n on n.oid = o.oprnamespace
            where o.oprname = any($1::text[])`,
          [missing],
        );
        // Unknown operators and any user-defined one of that name: it may run user code (fail closed).
        return (n) => {
          const matches = rows.filter((r) => r.name === n.name && (n.schema === undefined || r.schema === n.schema));
          return { builtin: matches.length > 0 && matches.every((r) => r.schema === 'pg_catalog') };
        };
      });
    },

    async userImplicitCasts() {
      expire();
      if (implicitCasts === undefined) {
        const startedAt = generation;
        // Objects created after initdb have OIDs from 16384 (FirstNormalObjectId) on.
        const { rows } = await db.query<{ n: number | string }>(
          `select count(*)::int as n from pg_cast c join pg_type t on t.oid = c.castsource
            where c.oid >= 16384 and c.castcontext = 'i' and t.typcategory = 'S'`,
        );
        const found = Number(rows[0]?.n ?? 0) > 0;
        if (!mayStore(startedAt)) return found;
        implicitCasts = found;
      }
      return implicitCasts;
    },

    async typeNames(oids) {
      expire();
      const unique = [...new Set(oids)];
      const out = new Map<number, string>();
      const missing: number[] = [];
      for (const o of unique) {
        const n = types.get(o);
        if (n === undefined) missing.push(o);
        else out.set(o, n);
      }
      if (missing.length > 0) {
        const startedAt = generation;
        const { rows } = await db.query<{ oid: string; name: string }>(`select oid::text as oid, typname as name from pg_type where oid = any($1::oid[])`, [missing]);
        const keep = mayStore(startedAt);
        for (const r of rows) {
          out.set(Number(r.oid), r.name);
          if (keep) types.set(Number(r.oid), r.name);
        }
      }
      return out;
    },

    invalidate() {
      forgetAll();
    },

    get generation() {
      expire();
      return generation;
    },
  };
}
