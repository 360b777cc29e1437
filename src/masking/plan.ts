/**
 * Planning, before execution: resolve what the statement names (tables, views and what they read,
 * functions), trace the lineage of every output column, and refuse inference (a masked column
 * deciding which rows, which order, or whether an error comes back).
 */
import type { Node } from '@pgsql/types';
import type { MaskerName } from '../policy/schema.js';
import { nameFromList, operatorsOfExpr, quoteQualified } from '../sql/names.js';
import { parseStatements } from '../sql/parser.js';
import { explainOptionOn } from '../sql/classify.js';
import { visitObjects } from './lineage/parse-tree.js';
import type { Analysis, CodeReach } from '../sql/types.js';
import { functionNameKey, relationNameKey, type ColumnCatalog, type FunctionFacts, type OperatorFacts, type RelationInfo } from '../db/catalog/relations.js';
import { LineageWalker, type StatementLineage } from './lineage/walker.js';
import { maskedSources } from './lineage/algebra.js';
import { EXPLAIN_ANALYZE_MESSAGE, TOO_DEEP_MESSAGE } from './rules/index.js';
import { cachedOutcome, planCacheKey, planForRequest, storeOutcome, type PlanCore, type PlanOutcome } from './plan-cache.js';
import type { ColumnKey, Lineage, MaskingPolicyInput, MaskPlan } from './types.js';

type QName = { schema?: string; name: string };

/** Table and function names anywhere under `root` (iterative: parse trees can be very deep). */
function collectNames(root: unknown, relations: Map<string, QName>, functions: Map<string, QName>, operators: Map<string, QName>): void {
  visitObjects(root, (o) => {
    if (typeof o.relname === 'string' && o.catalogname === undefined) {
      const n: QName = typeof o.schemaname === 'string' ? { schema: o.schemaname, name: o.relname } : { name: o.relname };
      relations.set(relationNameKey(n), n);
    }
    if (Array.isArray(o.funcname)) {
      const n = nameFromList(o.funcname);
      if (n) functions.set(functionNameKey(n), n);
    }
    if (typeof o.kind === 'string' && o.kind.startsWith('AEXPR_')) {
      for (const n of operatorsOfExpr(o.kind, o.name)) operators.set(functionNameKey(n), n);
    }
    if (typeof o.subLinkType === 'string' && Array.isArray(o.operName)) {
      const n = nameFromList(o.operName);
      if (n) operators.set(functionNameKey(n), n);
    }
  });
}

/** Parsed view definitions, kept as long as the catalog keeps the relation entry. */
const parsedViews = new WeakMap<RelationInfo, { query: Node | undefined }>();

function parseView(info: RelationInfo): Node | undefined {
  const cached = parsedViews.get(info);
  if (cached) return cached.query;
  let query: Node | undefined;
  try {
    const stmts = parseStatements(info.definition ?? '');
    query = stmts.length === 1 ? stmts[0]?.stmt : undefined;
  } catch {
    query = undefined; // unparseable: its columns get the fail-closed lineage
  }
  parsedViews.set(info, { query });
  return query;
}

const MAX_VIEW_ROUNDS = 16;

/** Everything the walker may look up, fetched from the catalog (views expanded transitively). */
export async function resolveStatementEnv(root: Node, catalog: ColumnCatalog, rules: ReadonlyMap<ColumnKey, MaskerName>, reach?: CodeReach) {
  const relationNames = new Map<string, QName>();
  const functionNames = new Map<string, QName>();
  const operatorNames = new Map<string, QName>();
  if (reach === undefined) collectNames(root, relationNames, functionNames, operatorNames);
  else {
    // The analysis already collected the statement's names (the same walk as collectNames).
    for (const n of reach.relations) relationNames.set(relationNameKey(n), n);
    for (const n of reach.functions) functionNames.set(functionNameKey(n), n);
    for (const n of reach.operators) operatorNames.set(functionNameKey(n), n);
  }
  const relations = new Map<string, RelationInfo | null>();
  const views = new Map<number, Node | undefined>();
  let pending = [...relationNames.values()];
  for (let round = 0; round < MAX_VIEW_ROUNDS && pending.length > 0; round++) {
    const found = await catalog.relationsByName(pending);
    const next = new Map<string, QName>();
    for (const [k, info] of found) {
      relations.set(k, info);
      if (info?.definition !== undefined && !views.has(info.oid)) {
        const q = parseView(info);
        views.set(info.oid, q);
        if (q) collectNames(q, next, functionNames, operatorNames);
      }
    }
    pending = [...next.entries()].filter(([k]) => !relations.has(k)).map(([, n]) => n);
  }
  const [functions, operators, userImplicitCasts] = await Promise.all([
    functionNames.size > 0 ? catalog.functions([...functionNames.values()]) : new Map<string, FunctionFacts>(),
    operatorNames.size > 0 ? catalog.operators([...operatorNames.values()]) : new Map<string, OperatorFacts>(),
    operatorNames.size > 0 ? catalog.userImplicitCasts() : false,
  ]);
  const relationColumns = new Set<ColumnKey>();
  const arrayColumns = new Set<ColumnKey>();
  for (const info of relations.values()) {
    for (const c of info?.columns ?? []) {
      for (const k of c.keys) {
        relationColumns.add(k);
        if (c.array) arrayColumns.add(k);
      }
    }
  }
  return {
    rules,
    relationColumns,
    arrayColumns,
    userImplicitCasts,
    relation: (n: QName) => relations.get(relationNameKey(n)),
    viewQuery: (info: RelationInfo) => views.get(info.oid),
    function: (n: QName) => functions.get(functionNameKey(n)),
    operator: (n: QName) => operators.get(functionNameKey(n)),
  };
}

export function rulesMap(policy: MaskingPolicyInput): Map<ColumnKey, MaskerName> {
  return new Map(policy.rules.map((r) => [r.column, r.with]));
}

/** Trace a statement; a tree too deep for the walker is refused when masked columns are in reach. */
export async function traceStatement(root: Node, catalog: ColumnCatalog, rules: ReadonlyMap<ColumnKey, MaskerName>, reach?: CodeReach): Promise<StatementLineage & { relationColumns: ReadonlySet<ColumnKey> }> {
  const env = await resolveStatementEnv(root, catalog, rules, reach);
  try {
    return { ...new LineageWalker(env).trace(root), relationColumns: env.relationColumns };
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return {
      outputs: undefined,
      relationColumns: env.relationColumns,
      unknownUsed: true,
      reasons: [{ code: 'masked_lineage_unknown', message: TOO_DEEP_MESSAGE }],
    };
  }
}

/** The output columns of `select * from` a table or view, traced (views through their definitions). */
export async function traceRelation(rel: { schema: string; name: string }, catalog: ColumnCatalog, rules: ReadonlyMap<ColumnKey, MaskerName>): Promise<StatementLineage['outputs']> {
  const stmt = parseStatements(`select * from ${quoteQualified(rel)}`)[0]?.stmt;
  if (!stmt) return undefined;
  return (await traceStatement(stmt, catalog, rules)).outputs;
}

function rootOf(analysis: Analysis): Node {
  return analysis.stmt?.stmt ?? analysis.root;
}

/**
 * The masking plan of a statement for one principal. Repeated statements are served from a cache
 * (plan-cache.ts) keyed so that a hit is exactly what a fresh trace would return now; the returned
 * plan is always a fresh object, its `origins` and `typeNames` this request's own.
 */
export async function planMasking(analysis: Analysis, policy: MaskingPolicyInput, catalog: ColumnCatalog): Promise<MaskPlan> {
  if (policy.exempt) {
    // Pass-through, no catalog look-up: nothing worth caching.
    const core: PlanCore = { exempt: true, rules: rulesMap(policy), outputs: undefined, reach: { sources: new Set(), identity: false }, maskedInReach: false, catalog };
    return planForRequest({ core }, policy);
  }
  const root = rootOf(analysis);
  const key = planCacheKey(analysis, policy);
  const cached = cachedOutcome(catalog, key, root);
  if (cached) return planForRequest(cached, policy);
  // Read before the trace: a plan traced while the catalog changed is not kept.
  const generation = catalog.generation;
  const outcome = await tracePlan(root, analysis.reach, policy, catalog);
  storeOutcome(catalog, key, root, generation, outcome);
  return planForRequest(outcome, policy);
}

/** EXPLAIN with ANALYZE on (anything not clearly off counts as on). */
function explainsWithAnalyze(root: Node): boolean {
  const explain = (root as { ExplainStmt?: { options?: unknown[] } }).ExplainStmt;
  return explain !== undefined && (explain.options ?? []).some((o) => explainOptionOn(o, 'analyze'));
}

/** Trace the statement and decide: the plan's request-independent part, or the refusal. */
async function tracePlan(root: Node, names: CodeReach, policy: MaskingPolicyInput, catalog: ColumnCatalog): Promise<PlanOutcome> {
  const rules = rulesMap(policy);
  const traced = await traceStatement(root, catalog, rules, names);
  const reachSources = new Set(traced.relationColumns);
  if (traced.unknownUsed) for (const k of rules.keys()) reachSources.add(k);
  const reach: Lineage = { sources: reachSources, identity: false };
  const maskedInReach = maskedSources(reach, rules).length > 0;
  const reasons = maskedInReach ? traced.reasons : traced.reasons.filter((r) => r.code !== 'masked_lineage_unknown');
  if (maskedInReach && explainsWithAnalyze(root)) {
    reasons.push({
      code: 'masked_column_in_fallible_expression',
      message: EXPLAIN_ANALYZE_MESSAGE,
    });
  }
  if (reasons.length > 0) {
    return { refused: { message: `Masking refused the statement: ${reasons.map((r) => r.message).join(' ')}`, reasons } };
  }
  return { core: { exempt: false, rules, outputs: traced.outputs, reach, maskedInReach, catalog } };
}
