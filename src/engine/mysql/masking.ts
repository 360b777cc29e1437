/**
 * Masking for MySQL statements: the engine-neutral MaskPlan (src/masking/types.ts) that
 * `applyMasking` consumes, built from node-sql-parser's AST and the MySQL catalog, with the same
 * rules as PostgreSQL (src/masking/rules/; MySQL's names in masking-functions.ts).
 *
 *   planMysqlMasking     before execution: lineage of each output column by position, the reach
 *                        (every column of every relation named, views expanded), refusals with the
 *                        shared codes and sentences;
 *   prepareMysqlOrigins  after execution: each result field's origin as the server named it
 *                        (db, orgTable, orgName) → lineage, so an alias cannot hide a column and a
 *                        misaligned AST lineage is still corrected by the server's word. The plan
 *                        carries it as `resolveOrigins`, so the engine-neutral `prepareOrigins`
 *                        does the same.
 *
 * Rule names: a rule `db.table.column` matches a catalog column whatever the case of each part.
 * MySQL on Linux compares table and database names case-sensitively, so `Shop.Customers` and
 * `shop.customers` could be two tables; a rule then masks both (the safe side).
 */
import NodeSqlParser from 'node-sql-parser';
import { BrokerError, type Reason } from '../../errors.js';
import type { ResultField } from '../../db/types.js';
import type { MaskerName } from '../../policy/schema.js';
import type { QualifiedName } from '../../sql/types.js';
import { planForRequest, type PlanCore } from '../../masking/plan-cache.js';
import { columnValue, eitherOf, maskedSources } from '../../masking/lineage/algebra.js';
import { TOO_DEEP_MESSAGE } from '../../masking/rules/index.js';
import type { ColumnKey, Lineage, MaskingPolicyInput, MaskPlan } from '../../masking/types.js';
import { columnKey, MysqlLineageWalker, type AstNode, type MysqlLineageEnv } from './masking-walker.js';
import { mysqlExposesOtherValues } from './masking-functions.js';
import type { MysqlCatalog, MysqlRelation } from './types.js';

const { Parser } = NodeSqlParser;
const parser = new Parser();

/** How many rounds of view definitions are expanded for names (views of views…). */
const MAX_VIEW_ROUNDS = 16;

const relKey = (n: QualifiedName): string => `${(n.schema ?? '').toLowerCase()}\u0000${n.name.toLowerCase()}`;

function isNode(v: unknown): v is AstNode {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Relation and function names anywhere under `root` (iterative: trees can be deep). */
function collectNames(root: unknown, relations: Map<string, QualifiedName>, functions: Map<string, QualifiedName>): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    if (!isNode(v)) continue;
    if (typeof v.table === 'string' && v.type !== 'column_ref') {
      const n: QualifiedName = typeof v.db === 'string' && v.db.length > 0 ? { schema: v.db, name: v.table } : { name: v.table };
      relations.set(relKey(n), n);
    }
    if (v.type === 'function' && isNode(v.name)) {
      const parts = Array.isArray(v.name.name) ? v.name.name.map((p) => (isNode(p) && typeof p.value === 'string' ? p.value : '')) : [];
      const schema = isNode(v.name.schema) && typeof v.name.schema.value === 'string' ? v.name.schema.value : undefined;
      const n: QualifiedName = schema !== undefined ? { schema, name: parts.join('.') } : { name: parts.join('.') };
      functions.set(relKey(n), n);
    }
    for (const x of Object.values(v)) if (x !== null && typeof x === 'object') stack.push(x);
  }
}

/**
 * Names of derived tables and CTEs in the statement (lower case). MySQL and MariaDB report a column
 * of one with the alias as its origin table, in the current database: such an origin is not the
 * catalog table of that name, whatever the catalog holds.
 */
function derivedNames(root: unknown): Set<string> {
  const out = new Set<string>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    if (!isNode(v)) continue;
    if (isNode(v.expr) && v.expr.ast !== undefined && typeof v.as === 'string') out.add(v.as.toLowerCase());
    if (isNode(v.name) && typeof v.name.value === 'string' && isNode(v.stmt)) out.add(v.name.value.toLowerCase());
    for (const x of Object.values(v)) if (x !== null && typeof x === 'object') stack.push(x);
  }
  return out;
}

/** A view's definition parsed (MySQL dialect); undefined when node-sql-parser cannot read it. */
function parseView(rel: MysqlRelation): AstNode | undefined {
  if (rel.viewDefinition === undefined) return undefined;
  try {
    const ast = parser.astify(rel.viewDefinition, { database: 'MySQL' }) as unknown;
    const one = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast;
    return isNode(one) && one.type === 'select' ? one : undefined;
  } catch {
    return undefined;
  }
}

/** Everything the walker may look up, fetched from the catalog before the (synchronous) walk. */
interface ResolvedNames {
  relations: Map<string, MysqlRelation | null>;
  views: Map<MysqlRelation, AstNode | undefined>;
  routines: Set<string>;
}

async function resolveNames(root: unknown, catalog: MysqlCatalog, resolved?: ResolvedNames): Promise<ResolvedNames> {
  const out: ResolvedNames = resolved ?? { relations: new Map(), views: new Map(), routines: new Set() };
  const relationNames = new Map<string, QualifiedName>();
  const functionNames = new Map<string, QualifiedName>();
  collectNames(root, relationNames, functionNames);
  let pending = [...relationNames.entries()].filter(([k]) => !out.relations.has(k));
  for (let round = 0; round < MAX_VIEW_ROUNDS && pending.length > 0; round++) {
    const found = await Promise.all(pending.map(async ([k, n]) => [k, (await catalog.relation(n)) ?? null] as const));
    const next = new Map<string, QualifiedName>();
    for (const [k, info] of found) {
      out.relations.set(k, info);
      if (info) out.relations.set(relKey({ schema: info.schema, name: info.name }), info);
      if (info?.kind === 'view' && !out.views.has(info)) {
        const q = parseView(info);
        out.views.set(info, q);
        if (q) collectNames(q, next, functionNames);
      }
    }
    pending = [...next.entries()].filter(([k]) => !out.relations.has(k));
  }
  const names = [...functionNames.values()];
  if (names.length > 0) {
    for (const r of await catalog.routines(names)) {
      out.routines.add(relKey({ schema: r.schema, name: r.name }));
      out.routines.add(relKey({ name: r.name }));
    }
  }
  return out;
}

/** The policy's rules matched to catalog spellings (case-insensitively), plus the rules as written. */
function matchRules(policy: MaskingPolicyInput, columns: Iterable<ColumnKey>): Map<ColumnKey, MaskerName> {
  const rules = new Map<ColumnKey, MaskerName>(policy.rules.map((r) => [r.column, r.with]));
  const byLower = new Map<string, MaskerName>();
  for (const r of policy.rules) byLower.set(r.column.toLowerCase(), r.with);
  for (const k of columns) {
    const m = byLower.get(k.toLowerCase());
    if (m !== undefined && !rules.has(k)) rules.set(k, m);
  }
  return rules;
}

function envOf(names: ResolvedNames, catalog: MysqlCatalog, rules: ReadonlyMap<ColumnKey, MaskerName>): MysqlLineageEnv {
  const relationColumns = new Set<ColumnKey>();
  for (const info of names.relations.values()) for (const c of info?.columns ?? []) relationColumns.add(columnKey(info!, c));
  return {
    rules,
    defaultSchema: catalog.defaultSchema,
    relationColumns,
    relation: (n) => names.relations.get(relKey(n)) ?? names.relations.get(relKey({ schema: n.schema ?? catalog.defaultSchema, name: n.name })),
    viewQuery: (rel) => names.views.get(rel),
    isRoutine: (n) => names.routines.has(relKey(n)),
  };
}

function allRelationColumns(names: ResolvedNames): ColumnKey[] {
  const out: ColumnKey[] = [];
  for (const info of names.relations.values()) for (const c of info?.columns ?? []) out.push(columnKey(info!, c));
  return out;
}

/** What `prepareMysqlOrigins` needs after execution: the catalog and the names already resolved. */
interface OriginContext {
  catalog: MysqlCatalog;
  names: ResolvedNames;
  /** derived tables and CTEs of the statement, lower case */
  derived: ReadonlySet<string>;
}

/**
 * The masking plan of one MySQL statement (node-sql-parser's AST of exactly one statement) for one
 * principal. Throws BrokerError `policy_denied` with the refusal reasons (the shared codes).
 */
export async function planMysqlMasking(ast: unknown, input: MaskingPolicyInput, catalog: MysqlCatalog): Promise<MaskPlan> {
  if (input.exempt) {
    const core: PlanCore = { exempt: true, rules: new Map(input.rules.map((r) => [r.column, r.with])), outputs: undefined, reach: { sources: new Set(), identity: false }, maskedInReach: false };
    return planForRequest({ core }, input);
  }
  const root = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast;
  const names = isNode(root) ? await resolveNames(root, catalog) : { relations: new Map(), views: new Map(), routines: new Set<string>() };
  const rules = matchRules(input, allRelationColumns(names));
  const env = envOf(names, catalog, rules);
  let outputs: MaskPlan['outputs'];
  let reasons: Reason[];
  let unknownUsed: boolean;
  if (!isNode(root)) {
    // Not one statement the walker can read: nothing is known (fail closed).
    outputs = undefined;
    reasons = [];
    unknownUsed = true;
  } else {
    try {
      ({ outputs, reasons, unknownUsed } = new MysqlLineageWalker(env).trace(root));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      outputs = undefined;
      unknownUsed = true;
      reasons = [{ code: 'masked_lineage_unknown', message: TOO_DEEP_MESSAGE }];
    }
  }
  const reachSources = new Set(env.relationColumns);
  if (unknownUsed) for (const k of rules.keys()) reachSources.add(k);
  const reach: Lineage = { sources: reachSources, identity: false };
  const maskedInReach = maskedSources(reach, rules).length > 0;
  const kept = maskedInReach ? reasons : reasons.filter((r) => r.code !== 'masked_lineage_unknown');
  const context: OriginContext = { catalog, names, derived: isNode(root) ? derivedNames(root) : new Set() };
  const core: PlanCore = {
    exempt: false,
    rules,
    outputs,
    reach,
    maskedInReach,
    resolveOrigins: (plan, fields) => resolveOrigins(context, plan, fields),
  };
  return planForRequest(kept.length > 0 ? { refused: { message: `Masking refused the statement: ${kept.map((r) => r.message).join(' ')}`, reasons: kept } } : { core }, input);
}

const originKey = (f: ResultField): string => `${f.tableID}:${f.columnID}`;

/**
 * Fill `plan.origins` from each result field's origin by name (mysql2's db, orgTable, orgName: the
 * base column whatever the alias). Call between execution and `applyMasking` (the engine-neutral
 * `prepareOrigins` calls it for a MySQL plan). A field whose origin cannot be resolved, or a
 * plan that is not a MySQL plan, gets the fail-closed lineage.
 */
export async function prepareMysqlOrigins(plan: MaskPlan, fields: readonly ResultField[]): Promise<void> {
  if (plan.exempt) return;
  if (plan.resolveOrigins) return plan.resolveOrigins(plan, fields);
  for (const f of fields) if (f.tableID !== 0 && !plan.origins.has(originKey(f))) plan.origins.set(originKey(f), failClosedOrigin(plan));
}

/** A source spelled differently from its rule (case) also carries the rule's spelling, so the rule applies. */
function withRuleSpellings(l: Lineage, rules: ReadonlyMap<ColumnKey, MaskerName>): Lineage {
  const byLower = new Map<string, ColumnKey>();
  for (const k of rules.keys()) byLower.set(k.toLowerCase(), k);
  const extra = [...l.sources].map((s) => byLower.get(s.toLowerCase())).filter((k): k is ColumnKey => k !== undefined && !l.sources.has(k));
  return extra.length === 0 ? l : { ...l, sources: new Set([...l.sources, ...extra]) };
}

function failClosedOrigin(plan: MaskPlan): Lineage {
  return { sources: new Set([...plan.reach.sources, ...plan.rules.keys()]), identity: false };
}

async function resolveOrigins(ctx: OriginContext, plan: MaskPlan, fields: readonly ResultField[]): Promise<void> {
  if (plan.exempt || plan.rules.size === 0) return;
  if (plan.outputs !== undefined && plan.outputs.length > 0 && plan.outputs.length !== fields.length) {
    // The server returned another number of columns than the statement the broker analysed has:
    // it ran something the analysis did not see (a parser differential), or a table changed since
    // the catalog was read. Either way the planned lineage says nothing about these columns.
    // (A statement planned with no columns at all is a write whose RETURNING the parser does not
    // read: it has run already, so it is masked by origin and reach, never refused after the fact.)
    ctx.catalog.invalidate();
    throw resultShapeMismatch(plan.outputs.length, fields.length);
  }
  const wanted = fields.filter((f) => f.tableID !== 0 && !plan.origins.has(originKey(f)));
  if (wanted.length === 0) return;
  // Origins the statement did not name (a view's base table…): resolve them too, with their views.
  const missing = wanted.map((f) => f.origin).filter((o): o is NonNullable<ResultField['origin']> => o !== undefined && o.table.length > 0);
  const probe = missing.map((o) => ({ type: 'origin_ref', db: o.schema.length > 0 ? o.schema : null, table: o.table }));
  await resolveNames(probe, ctx.catalog, ctx.names);
  const env = envOf(ctx.names, ctx.catalog, plan.rules);
  const walker = new MysqlLineageWalker(env);
  const outputs = plan.outputs;
  const aligned = outputs !== undefined && outputs.length === fields.length && outputs.every((o, i) => o.name === undefined || o.name === fields[i]!.name);
  for (const f of wanted) {
    const o = f.origin;
    let lineage: Lineage | undefined;
    if (o && ctx.derived.has(o.table.toLowerCase())) {
      // A derived table's or CTE's column: the server names only the alias. The planned lineage at
      // this position is all there is to know; without alignment, fail closed.
      lineage = aligned ? outputs[fields.indexOf(f)]!.lineage : undefined;
    } else if (o && o.table.length > 0) {
      const info = env.relation(o.schema.length > 0 ? { schema: o.schema, name: o.table } : { name: o.table });
      const col = info?.columns.find((c) => c.toLowerCase() === o.column.toLowerCase());
      if (info && col !== undefined && !mysqlExposesOtherValues(info)) {
        if (info.kind === 'view') {
          const traced = walker.relationOutputs(info).find((c) => c.name === col);
          lineage = traced ? eitherOf(traced.lineage, columnValue([columnKey(info, col)])) : undefined;
        } else lineage = columnValue([columnKey(info, col)]);
      }
    }
    // No origin, or one the catalog does not know (a derived table's alias, a table dropped
    // meanwhile): every column in reach and every masked column.
    plan.origins.set(originKey(f), lineage ? withRuleSpellings(lineage, plan.rules) : failClosedOrigin(plan));
  }
}

/** The refusal when a result's columns are not the ones the analysis planned: nothing is returned. */
function resultShapeMismatch(planned: number, returned: number): BrokerError {
  const message = `The database returned ${returned} column${returned === 1 ? '' : 's'} where the statement the broker analysed has ${planned}, so the result cannot be masked with certainty; nothing was returned.`;
  return new BrokerError('query_failed', `${message} If a table has just changed, send the statement again (the broker reads the schema again now).`, {
    reasons: [{ code: 'result_shape_mismatch', message }],
  });
}
