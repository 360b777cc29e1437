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

export interface FunctionCatalog {
  /** The functions among `fns` that are volatile or unknown, in the order given. */
  volatileAmong(fns: QualifiedName[]): Promise<QualifiedName[]>;
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

interface PathRow extends Record<string, unknown> {
  schema: string;
}

export function createFunctionCatalog(db: Queryable, options: FunctionCatalogOptions = {}): FunctionCatalog {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const byName = new LruCache<string, Entry>(options.maxEntries ?? 5000);
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

  async function entries(names: string[]): Promise<Map<string, Entry>> {
    const out = new Map<string, Entry>();
    const missing: string[] = [];
    for (const n of names) {
      const e = byName.get(n);
      if (e !== undefined && now() - e.at < ttlMs) out.set(n, e);
      else missing.push(n);
    }
    if (missing.length > 0) {
      const { rows } = await query<ProcRow>(
        `select n.nspname::text as schema, p.proname::text as name, bool_or(p.provolatile = 'v')::text as volatile
         from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where p.proname = any($1::text[])
         group by n.nspname, p.proname`,
        [missing],
      );
      const at = now();
      for (const n of missing) out.set(n, { bySchema: new Map(), at });
      for (const r of rows) {
        const e = out.get(String(r.name));
        e?.bySchema.set(String(r.schema), String(r.volatile) === 'true' || String(r.volatile) === 't');
      }
      for (const n of missing) byName.set(n, out.get(n)!);
    }
    return out;
  }

  return {
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
