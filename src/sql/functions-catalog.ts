/**
 * Which functions are volatile, from the server's own catalog (pg_proc.provolatile = 'v').
 * One catalog per database connection configuration; look-ups are cached (bounded, with a TTL so
 * an ALTER FUNCTION … VOLATILE is noticed). A function the catalog does not know counts as
 * volatile: fail closed.
 */
import { BrokerError } from '../errors.js';
import type { Queryable } from '../db/types.js';
import type { QualifiedName } from './types.js';
import { LruCache } from './lru.js';
import { addName } from './names.js';

export interface FunctionCatalog {
  /** The functions among `fns` that are volatile or unknown, in the order given. */
  volatileAmong(fns: QualifiedName[]): Promise<QualifiedName[]>;
  /**
   * The volatile functions that operators named in `ops` may call: for each name, every operator of
   * that name the statement may resolve to (any on the search_path for an unqualified name) whose
   * function is volatile. The server's own operators never are; a user-defined one may be.
   */
  volatileBehindOperators(ops: QualifiedName[]): Promise<QualifiedName[]>;
}

export interface FunctionCatalogOptions {
  /** how long a look-up stays valid; default 5 minutes */
  ttlMs?: number;
  /** most names kept; default 5000 */
  maxEntries?: number;
  /** clock, for tests */
  now?: () => number;
}

interface Entry {
  /** schema → whether any overload of the name in that schema is volatile */
  bySchema: Map<string, boolean>;
  at: number;
}

interface ProcRow extends Record<string, unknown> {
  schema: string;
  name: string;
  volatile: string;
}

interface OperatorRow extends Record<string, unknown> {
  /** schema of the operator */
  schema: string;
  name: string;
  /** the volatile function it calls */
  fschema: string;
  fname: string;
}

/** Operators of one name that call a volatile function, by the operator's schema. */
interface OperatorEntry {
  volatileBySchema: Map<string, QualifiedName[]>;
  at: number;
}

interface PathRow extends Record<string, unknown> {
  schema: string;
}

export function createFunctionCatalog(db: Queryable, options: FunctionCatalogOptions = {}): FunctionCatalog {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const byName = new LruCache<string, Entry>(options.maxEntries ?? 5000);
  const operatorsByName = new LruCache<string, OperatorEntry>(options.maxEntries ?? 5000);
  let searchPath: { schemas: string[]; at: number } | undefined;

  /** The schemas an unqualified call may resolve to, in order (pg_catalog first unless moved). */
  async function resolutionPath(): Promise<string[]> {
    if (searchPath !== undefined && now() - searchPath.at < ttlMs) return searchPath.schemas;
    const { rows } = await query<PathRow>(
      // pg_temp is never searched for functions, so it is left out.
      `select s.schema::text as schema from unnest(pg_catalog.current_schemas(true)) with ordinality as s(schema, ord)
       where s.schema::text not like 'pg\\_temp\\_%' order by s.ord`,
    );
    const schemas = rows.map((r) => String(r.schema));
    if (!schemas.includes('pg_catalog')) schemas.unshift('pg_catalog');
    searchPath = { schemas, at: now() };
    return schemas;
  }

  async function query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
    try {
      return await db.query<R>(text, values);
    } catch (e) {
      throw new BrokerError('dependency_unavailable', 'The database catalog could not be read to check the functions this statement calls; nothing was executed. Try again shortly.', { cause: e });
    }
  }

  /** Fresh cached entries by name, and one query for the rest; `fill` makes the entries of the missing names. */
  async function cachedEntries<E extends { at: number }>(names: string[], cache: LruCache<string, E>, fill: (missing: string[], at: number) => Promise<Map<string, E>>): Promise<Map<string, E>> {
    const out = new Map<string, E>();
    const missing: string[] = [];
    for (const n of names) {
      const e = cache.get(n);
      if (e !== undefined && now() - e.at < ttlMs) out.set(n, e);
      else missing.push(n);
    }
    if (missing.length > 0) {
      const filled = await fill(missing, now());
      for (const n of missing) {
        const e = filled.get(n)!;
        out.set(n, e);
        cache.set(n, e);
      }
    }
    return out;
  }

  function entries(names: string[]): Promise<Map<string, Entry>> {
    return cachedEntries(names, byName, async (missing, at) => {
      const { rows } = await query<ProcRow>(
        // An aggregate's own pg_proc row is always marked immutable: what runs are its support
        // functions (transition, final, combine, moving-aggregate…), so those decide.
        `select n.nspname::text as schema, p.proname::text as name,
                bool_or(p.provolatile = 'v' or exists (
                  select 1 from pg_catalog.pg_aggregate a join pg_catalog.pg_proc f
                    on f.oid in (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn,
                                 a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn)
                   where a.aggfnoid = p.oid and f.provolatile = 'v'))::text as volatile
         from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where p.proname = any($1::text[])
         group by n.nspname, p.proname`,
        [missing],
      );
      const out = new Map<string, Entry>(missing.map((n) => [n, { bySchema: new Map(), at }]));
      for (const r of rows) out.get(String(r.name))?.bySchema.set(String(r.schema), String(r.volatile) === 'true' || String(r.volatile) === 't');
      return out;
    });
  }

  function operatorEntries(names: string[]): Promise<Map<string, OperatorEntry>> {
    return cachedEntries(names, operatorsByName, async (missing, at) => {
      const { rows } = await query<OperatorRow>(
        `select n.nspname::text as schema, o.oprname::text as name, fn.nspname::text as fschema, p.proname::text as fname
         from pg_catalog.pg_operator o
         join pg_catalog.pg_namespace n on n.oid = o.oprnamespace
         join pg_catalog.pg_proc p on p.oid = o.oprcode
         join pg_catalog.pg_namespace fn on fn.oid = p.pronamespace
         where o.oprname = any($1::text[]) and p.provolatile = 'v'`,
        [missing],
      );
      const out = new Map<string, OperatorEntry>(missing.map((n) => [n, { volatileBySchema: new Map(), at }]));
      for (const r of rows) {
        const bySchema = out.get(String(r.name))?.volatileBySchema;
        if (bySchema === undefined) continue;
        bySchema.set(String(r.schema), [...(bySchema.get(String(r.schema)) ?? []), { schema: String(r.fschema), name: String(r.fname) }]);
      }
      return out;
    });
  }

  return {
    async volatileBehindOperators(ops) {
      if (ops.length === 0) return [];
      const found = await operatorEntries([...new Set(ops.map((o) => o.name))]);
      if ([...found.values()].every((e) => e.volatileBySchema.size === 0)) return [];
      const path = ops.some((o) => o.schema === undefined) ? await resolutionPath() : [];
      const out: QualifiedName[] = [];
      const seen = new Set<string>();
      for (const op of ops) {
        const bySchema = found.get(op.name)?.volatileBySchema;
        if (bySchema === undefined) continue;
        const schemas = op.schema !== undefined ? [op.schema] : path;
        for (const s of schemas) for (const fn of bySchema.get(s) ?? []) addName(out, seen, fn);
      }
      return out;
    },

    async volatileAmong(fns) {
      if (fns.length === 0) return [];
      const found = await entries([...new Set(fns.map((f) => f.name))]);
      const needPath = fns.some((f) => f.schema === undefined);
      const path = needPath ? await resolutionPath() : [];
      return fns.filter((fn) => {
        const bySchema = found.get(fn.name)?.bySchema;
        if (bySchema === undefined) return true;
        if (fn.schema !== undefined) return bySchema.get(fn.schema) ?? true;
        // Unqualified: overload resolution may pick the name in any schema on the path, so any
        // volatile candidate makes the call volatile; no candidate at all means unknown.
        const candidates = path.filter((s) => bySchema.has(s));
        return candidates.length === 0 || candidates.some((s) => bySchema.get(s) === true);
      });
    },
  };
}
