/** Small algebra over `Lineage`: the walker combines the lineage of sub-expressions with these. */
import type { ColumnKey, Lineage } from '../types.js';

export const NO_SOURCES: Lineage = Object.freeze({ sources: new Set<ColumnKey>(), identity: false });

/** The value of one catalog column, unchanged. */
export function columnValue(keys: readonly ColumnKey[]): Lineage {
  return { sources: new Set(keys), identity: true };
}

/** A value computed from these (function, operator, aggregate, whole row…): shape-keeping maskers no longer apply. */
export function derived(...parts: readonly Lineage[]): Lineage {
  let only: Lineage | undefined;
  let count = 0;
  for (const p of parts) {
    if (p.sources.size > 0) {
      only = p;
      count++;
    }
  }
  if (count === 0) return NO_SOURCES;
  if (count === 1 && only && !only.identity) return only;
  const sources = new Set<ColumnKey>();
  let weight = 0;
  for (const p of parts) {
    if (p.sources.size === 0) continue;
    weight += weightOf(p);
    for (const s of p.sources) sources.add(s);
  }
  return weight > 1 ? { sources, identity: false, weight } : { sources, identity: false };
}

/** Copies of source bytes a value may hold (see Lineage.weight). */
export function weightOf(l: Lineage): number {
  return l.weight ?? 1;
}

/** The same value, grown by `factor` (an escaping function may double every character). */
export function grown(l: Lineage, factor: number): Lineage {
  if (l.sources.size === 0) return l;
  return { sources: l.sources, identity: false, weight: weightOf(l) * factor };
}

/**
 * Either of these values, unchanged (UNION ALL arms, a join's merged USING column): identity is
 * kept when every arm that carries data is an identity.
 */
export function eitherOf(...parts: readonly Lineage[]): Lineage {
  const sources = new Set<ColumnKey>();
  let identity = true;
  for (const p of parts) {
    if (p.sources.size === 0) continue;
    if (!p.identity) identity = false;
    for (const s of p.sources) sources.add(s);
  }
  if (sources.size === 0) return NO_SOURCES;
  const weight = Math.max(...parts.map(weightOf));
  return weight > 1 ? { sources, identity, weight } : { sources, identity };
}

/** The same value, also known under these column names (a view's own columns). */
export function alsoKnownAs(l: Lineage, keys: readonly ColumnKey[]): Lineage {
  const sources = new Set(l.sources);
  for (const k of keys) sources.add(k);
  return l.weight === undefined ? { sources, identity: l.identity || l.sources.size === 0 } : { sources, identity: l.identity || l.sources.size === 0, weight: l.weight };
}

/** Keep the sources, drop identity (casts that change the text, truncating types…). */
export function changed(l: Lineage): Lineage {
  return l.identity ? { sources: l.sources, identity: false, ...(l.weight === undefined ? {} : { weight: l.weight }) } : l;
}

export function maskedSources(l: Lineage, rules: ReadonlyMap<ColumnKey, unknown>): ColumnKey[] {
  const out: ColumnKey[] = [];
  for (const s of l.sources) if (rules.has(s)) out.push(s);
  return out;
}
