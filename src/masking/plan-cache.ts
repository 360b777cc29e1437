/**
 * Masking plans of repeated statements, per column catalog. Agents repeat themselves, and a plan
 * costs a catalog walk and a lineage trace (tens of µs) where a hit costs a few.
 *
 * A cached plan is never wrong because the key holds everything a plan is computed from:
 * - the statement: its sqlHash, and the very parse tree (a WeakRef compared by identity on a hit);
 * - the masking rules, by content (column → masker), so a policy edited in place is not missed;
 * - the catalog: one cache per catalog object, valid for one catalog `generation` (it changes on
 *   `invalidate()` after DDL and when the catalog's TTL expires its answers); a plan whose trace
 *   saw the generation change is not stored.
 * Exempt principals never get here (their plan needs no catalog). Detectors and the hash key do not
 * change the plan: each request's own are put on the per-request plan.
 *
 * What is cached is immutable (frozen, never handed out): each request gets a fresh plan object
 * with its own `origins` and `typeNames`, which `prepareOrigins` fills.
 */
import type { Node } from '@pgsql/types';
import { BrokerError, type Reason } from '../errors.js';
import { LruCache } from '../sql/lru.js';
import type { Analysis } from '../sql/types.js';
import type { ColumnCatalog } from '../db/catalog/relations.js';
import type { MaskingPolicyInput, MaskPlan } from './types.js';

/** The part of a plan that depends only on the statement, the rules and the catalog. */
export type PlanCore = Omit<MaskPlan, 'detectors' | 'hashKey' | 'origins' | 'typeNames'>;

/** A computed plan, or the refusal of the statement (same key, same answer). */
export type PlanOutcome = { core: PlanCore } | { refused: { message: string; reasons: readonly Reason[] } };

interface Entry {
  root: WeakRef<Node>;
  outcome: PlanOutcome;
}

interface CatalogPlans {
  generation: number;
  plans: LruCache<string, Entry>;
}

export const PLAN_CACHE_ENTRIES = 2000;

const byCatalog = new WeakMap<ColumnCatalog, CatalogPlans>();

/** The rules as last seen (their content, copied) and the key made from them, per rules array. */
const rulesKeys = new WeakMap<MaskingPolicyInput['rules'], { seen: readonly (readonly [string, string])[]; key: string }>();

/**
 * The cache key of the rules: their content as JSON of [column, masker] pairs. Memoised per rules
 * array, but compared by content on every call (cheap: no allocation), so an array edited in place
 * gets a new key.
 */
function rulesKey(rules: MaskingPolicyInput['rules']): string {
  const memo = rulesKeys.get(rules);
  if (memo && memo.seen.length === rules.length && memo.seen.every(([column, masker], i) => rules[i]!.column === column && rules[i]!.with === masker)) {
    return memo.key;
  }
  const seen = rules.map((r) => [r.column, r.with] as const);
  const key = JSON.stringify(seen);
  rulesKeys.set(rules, { seen, key });
  return key;
}

/** The key of a statement under a policy's rules (the catalog is the cache the key is looked up in). */
export function planCacheKey(analysis: Analysis, policy: MaskingPolicyInput): string {
  return `${analysis.sqlHash}\u0000${rulesKey(policy.rules)}`;
}

/** The plans of this catalog's current generation (older ones are dropped). */
function plansOf(catalog: ColumnCatalog): CatalogPlans {
  const generation = catalog.generation;
  let state = byCatalog.get(catalog);
  if (!state) {
    state = { generation, plans: new LruCache(PLAN_CACHE_ENTRIES) };
    byCatalog.set(catalog, state);
  } else if (state.generation !== generation) {
    state.plans.clear();
    state.generation = generation;
  }
  return state;
}

/** The plan of a request from a cached outcome: a fresh object with this request's own mutable maps. */
export function planForRequest(outcome: PlanOutcome, policy: MaskingPolicyInput): MaskPlan {
  if ('refused' in outcome) {
    const { message, reasons } = outcome.refused;
    throw new BrokerError('policy_denied', message, { reasons: reasons.map((r) => ({ ...r })) });
  }
  return { ...outcome.core, detectors: policy.detectors, hashKey: policy.hashKey, origins: new Map(), typeNames: new Map() };
}

/**
 * The cached outcome for this key, or undefined. `root` is the parse tree the plan is traced from
 * (checked by identity).
 */
export function cachedOutcome(catalog: ColumnCatalog, key: string, root: Node): PlanOutcome | undefined {
  const entry = plansOf(catalog).plans.get(key);
  if (entry === undefined || entry.root.deref() !== root) return undefined;
  return entry.outcome;
}

/**
 * Keep an outcome computed from the catalog answers of `generation` (read before the trace began):
 * dropped when the catalog changed meanwhile, since the trace may have mixed old and new answers.
 */
export function storeOutcome(catalog: ColumnCatalog, key: string, root: Node, generation: number, outcome: PlanOutcome): void {
  const state = plansOf(catalog);
  if (state.generation !== generation) return;
  let kept: PlanOutcome;
  if ('core' in outcome) {
    if (outcome.core.outputs) Object.freeze(outcome.core.outputs);
    kept = { core: Object.freeze(outcome.core) };
  } else {
    // A copy: the first caller's error (and its reasons) is its own to change.
    kept = { refused: { message: outcome.refused.message, reasons: outcome.refused.reasons.map((r) => ({ ...r })) } };
  }
  state.plans.set(key, { root: new WeakRef(root), outcome: kept });
}

/** For tests: how many plans this catalog's cache holds (current generation). */
export function cachedPlanCount(catalog: ColumnCatalog): number {
  return plansOf(catalog).plans.size;
}
