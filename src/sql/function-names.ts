/**
 * Which called functions do not exist at all (as opposed to being volatile), and the closest names
 * the database does have: an agent that typed `cout(*)` needs "no such function, did you mean
 * count", not a policy refusal. Names come from the catalog (schema, not data), so they are safe
 * to return.
 */
import { distance } from 'fastest-levenshtein';
import type { Queryable } from '../db/types.js';
import type { QualifiedName } from './types.js';

export interface UnknownFunction {
  name: string;
  /** up to three existing function names close to it, closest first */
  suggestions: string[];
}

/** The functions among `fns` that no schema defines (by name, any overload), with close names. */
export async function unknownFunctions(db: Queryable, fns: readonly QualifiedName[]): Promise<UnknownFunction[]> {
  const names = [...new Set(fns.map((f) => f.name))];
  if (names.length === 0) return [];
  const { rows } = await db.query<{ proname: string }>('select distinct proname from pg_catalog.pg_proc where proname = any($1::text[])', [names]);
  const existing = new Set(rows.map((r) => r.proname));
  const missing = names.filter((n) => !existing.has(n));
  if (missing.length === 0) return [];
  const { rows: visible } = await db.query<{ proname: string }>('select distinct proname from pg_catalog.pg_proc where pg_catalog.pg_function_is_visible(oid) and length(proname) between $1 and $2', [
    Math.max(1, Math.min(...missing.map((n) => n.length)) - 3),
    Math.max(...missing.map((n) => n.length)) + 3,
  ]);
  return missing.map((name) => ({ name, suggestions: closest(name, visible.map((r) => r.proname)) }));
}

function closest(name: string, candidates: readonly string[]): string[] {
  const limit = name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
  return candidates
    .map((c) => ({ c, d: distance(name.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, 3)
    .map((x) => x.c);
}
