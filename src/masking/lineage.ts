/**
 * Lineage by the AST: for every output column of a statement, the catalog columns whose values can
 * reach it, and the places where a masked column would leak by inference instead of by value
 * (WHERE, JOIN, ORDER BY, GROUP BY, HAVING, DISTINCT, set operations that compare rows, window
 * partitions, aggregate FILTER/ORDER BY, LIMIT, CASE conditions, NULLIF, AND/OR, divisions, casts
 * that can fail, set-returning functions).
 *
 * The walker is synchronous: relations, view definitions and function facts are looked up before
 * (see plan.ts). Whatever it cannot trace gets the statement's fail-closed lineage (`unknown`):
 * every column of every relation the statement names, plus every masked column of the policy.
 */
import type {
  A_Expr,
  BoolExpr,
  CaseExpr,
  ColumnRef,
  CommonTableExpr,
  DeleteStmt,
  FuncCall,
  InsertStmt,
  JoinExpr,
  MergeStmt,
  MergeWhenClause,
  Node,
  RangeFunction,
  RangeSubselect,
  RangeVar,
  ResTarget,
  SelectStmt,
  SortBy,
  SubLink,
  TypeCast,
  UpdateStmt,
  WindowDef,
  WithClause,
} from '@pgsql/types';
import type { Reason } from '../errors.js';
import type { MaskerName } from '../policy/schema.js';
import { nameFromList, operatorsOfExpr } from '../sql/names.js';
import type { FunctionFacts, OperatorFacts, RelationInfo } from './catalog.js';
import { alsoKnownAs, changed, columnValue, derived, eitherOf, grown, maskedSources, NO_SOURCES, weightOf } from './lineage-ops.js';
import type { ColumnKey, Lineage, PlannedColumn } from './types.js';
import { boundedClear, describeNode, isTotalCall, isTotalNode, isTotalOperator, TOTAL_WITHIN_GROUP, type CallArg } from './total.js';
import {
  figureName,
  intConst,
  KNOWN_FUNCTION_COLUMNS,
  PARSING_FUNCTIONS,
  stringsOf,
  SYSTEM_COLUMNS,
  TEXT_TYPES,
  truncateName,
  UNTRACEABLE_FUNCTIONS,
  unwrap,
  VALUE_EXPOSING_NAMES,
  VALUE_EXPOSING_RELATIONS,
  type Body,
} from './lineage-ast.js';

/** What the walker may look up (all resolved before it runs). */
export interface LineageEnv {
  rules: ReadonlyMap<ColumnKey, MaskerName>;
  /** a table name as the server resolves it; null when it does not exist */
  relation(name: { schema?: string; name: string }): RelationInfo | null | undefined;
  /** the parsed SELECT of a view or materialized view; undefined when it cannot be parsed */
  viewQuery(info: RelationInfo): Node | undefined;
  function(name: { schema?: string; name: string }): FunctionFacts | undefined;
  /** whether the operators of a name are all the server's own (undefined: not looked up, fail closed) */
  operator(name: { schema?: string; name: string }): OperatorFacts | undefined;
  /** every column of every relation the statement (and its views) names */
  relationColumns: ReadonlySet<ColumnKey>;
  /** those of array type: their length varies with the value */
  arrayColumns?: ReadonlySet<ColumnKey>;
  /** the database has implicit casts of its own: an operator's operand may be converted, and that can fail */
  userImplicitCasts?: boolean;
}

export interface StatementLineage {
  /** output columns by position; undefined when the walker cannot know the positions */
  outputs: PlannedColumn[] | undefined;
  reasons: Reason[];
  /** some value could not be traced, and got the fail-closed lineage */
  unknownUsed: boolean;
}

interface Column {
  name: string;
  lineage: Lineage;
  /** the server gives this column exactly this name (for the alignment check) */
  certainName: boolean;
}

/** Something a query can refer to by name: a table, view, sub-query, CTE, function result or join alias. */
interface Rel {
  refname: string | undefined;
  schema?: string;
  /** undefined when the names or number of its columns cannot be known (function results) */
  columns: Column[] | undefined;
  /** lineage of the whole row, and of any column we cannot name */
  whole: Lineage;
  hasSystemColumns: boolean;
  /** reachable only as a qualifier (`old.x`, `new.x` in RETURNING), never by a bare column name */
  qualifiedOnly?: boolean;
}

/** One FROM item: the names it brings into scope and what `*` expands to (undefined: unknown width). */
interface FromItem {
  rels: Rel[];
  star: Column[] | undefined;
}

/** The result shape of a SELECT (or VALUES, or a set operation). */
interface Shape {
  columns: Column[] | undefined;
  whole: Lineage;
}

interface CteDef {
  shape: Shape;
}

class Scope {
  readonly rels: Rel[] = [];
  readonly items: FromItem[] = [];
  readonly ctes = new Map<string, CteDef>();
  constructor(
    /** where outer column references resolve (correlated sub-queries, LATERAL) */
    readonly parent: Scope | undefined,
    /** where CTE names resolve */
    readonly cteParent: Scope | undefined,
  ) {}
  cte(name: string): CteDef | undefined {
    for (let s: Scope | undefined = this; s; s = s.cteParent) {
      const c = s.ctes.get(name);
      if (c) return c;
    }
    return undefined;
  }
}

function renamed(columns: Column[] | undefined, colnames: unknown): Column[] | undefined {
  const names = stringsOf(colnames);
  if (!columns || names.length === 0) return columns;
  return columns.map((c, i) => (i < names.length ? { ...c, name: names[i]!, certainName: true } : c));
}

function wholeOf(columns: readonly Column[]): Lineage {
  return derived(...columns.map((c) => c.lineage));
}

const MAX_VIEW_DEPTH = 32;

/** Most copies of masked bytes one value may hold (see Lineage.weight). */
const MAX_WEIGHT = 64;

/** Total functions whose output can be about twice their input or more (escaping, encoding, rewriting). */
const GROWING_FUNCTIONS = new Set([
  'quote_literal', 'quote_nullable', 'quote_ident', 'format', 'to_json', 'to_jsonb', 'array_to_json', 'row_to_json',
  'json_build_array', 'jsonb_build_array', 'json_build_object', 'jsonb_build_object', 'encode', 'regexp_replace',
  'replace', 'lpad', 'rpad', 'to_char', 'concat_ws', 'array_to_string', 'string_agg', 'json_agg', 'jsonb_agg',
]);

export class LineageWalker {
  private readonly reasons: Reason[] = [];
  private readonly reasonKeys = new Set<string>();
  private unknownUsed = false;
  /** inside a view definition: its author is trusted, its predicates are not the agent's */
  private trusted = 0;
  private readonly unknown: Lineage;
  private readonly viewShapes = new Map<number, Shape>();

  constructor(private readonly env: LineageEnv) {
    const all = new Set(env.relationColumns);
    for (const k of env.rules.keys()) all.add(k);
    this.unknown = { sources: all, identity: false };
  }

  /** Trace one parsed statement (`RawStmt.stmt`). */
  trace(root: Node): StatementLineage {
    const shape = this.statement(root, undefined);
    const outputs = shape?.columns?.map((c) => ({ name: c.certainName ? truncateName(c.name) : undefined, lineage: c.lineage }));
    return { outputs, reasons: this.reasons, unknownUsed: this.unknownUsed };
  }

  // ---- findings ------------------------------------------------------------------------------

  private failClosed(): Lineage {
    this.unknownUsed = true;
    return this.unknown;
  }

  private masked(l: Lineage): ColumnKey[] {
    return maskedSources(l, this.env.rules);
  }

  /**
   * A masked array column is in `l`: array constructors, `||` and array_agg fail when sub-arrays
   * differ in length, so on such a value they are an oracle on its length.
   */
  private maskedArray(l: Lineage): boolean {
    const arrays = this.env.arrayColumns;
    return arrays !== undefined && arrays.size > 0 && this.masked(l).some((k) => arrays.has(k));
  }

  /** Refuse when a masked value decides which rows, which order, or whether an error comes back. */
  private guard(l: Lineage, where: string): void {
    if (this.trusted > 0) return;
    const cols = this.masked(l);
    if (cols.length === 0) return;
    const list = cols.sort().join(', ');
    const key = `p|${where}|${list}`;
    if (this.reasonKeys.has(key)) return;
    this.reasonKeys.add(key);
    this.reasons.push({
      code: 'masked_column_in_predicate',
      message: `${list} ${cols.length > 1 ? 'are' : 'is'} masked for this identity and cannot be used in ${where}: the result would reveal the value by inference. Select the column instead (it is returned masked), or ask for a profile exempt from masking.`,
    });
  }

  /**
   * Refuse when a masked value flows into an expression that can fail depending on it (anything not
   * on the allow-list in total.ts): whether an error comes back would reveal the value bit by bit.
   */
  private fallible(l: Lineage, what: string): void {
    if (this.trusted > 0) return;
    const cols = this.masked(l);
    if (cols.length === 0) return;
    const list = cols.sort().join(', ');
    const key = `f|${what}|${list}`;
    if (this.reasonKeys.has(key)) return;
    this.reasonKeys.add(key);
    // Fail-closed lineage (an unknown name, a user-defined function) counts as masked: say so.
    const untraced = this.unknownUsed && [...this.unknown.sources].every((k) => l.sources.has(k));
    const subject = untraced
      ? 'a value whose origin cannot be traced (it is treated as masked)'
      : `a value derived from ${list} (masked for this identity)`;
    this.reasons.push({
      code: 'masked_column_in_fallible_expression',
      message: `The statement applies ${what} to ${subject}; it can fail depending on the value, and whether an error comes back would reveal it. Select the column, or pass it only through functions that cannot fail (upper, length, substr, md5, to_json, comparisons…), and compute the rest on the client.`,
    });
  }

  private guardWrite(value: Lineage, target: { label: string; lineage: Lineage }): void {
    if (this.trusted > 0) return;
    const cols = this.masked(value);
    if (cols.length === 0) return;
    const targetMaskers = this.masked(target.lineage).map((k) => this.env.rules.get(k)!);
    // Safe when the target hides any value completely, or is the same kind of column masked the same way.
    const hidesAll = targetMaskers.some((m) => m === 'redact' || m === 'null' || m === 'hash');
    const same = value.identity && targetMaskers.length > 0 && cols.every((k) => targetMaskers.includes(this.env.rules.get(k)!));
    if (hidesAll || same) return;
    const list = cols.sort().join(', ');
    const key = `w|${target.label}|${list}`;
    if (this.reasonKeys.has(key)) return;
    this.reasonKeys.add(key);
    this.reasons.push({
      code: 'masked_column_in_write',
      message: `The statement writes a value derived from ${list} (masked for this identity) into ${target.label}, which would make it readable unmasked. Write it only into a column masked the same way, or ask for a profile exempt from masking.`,
    });
  }

  private predicate(n: Node | undefined, scope: Scope, where: string): void {
    if (n === undefined) return;
    this.guard(this.expr(n, scope), where);
  }

  // ---- statements ----------------------------------------------------------------------------

  private statement(root: Node, scope: Scope | undefined): Shape | undefined {
    const u = unwrap(root);
    if (!u) return undefined;
    const [type, body] = u;
    switch (type) {
      case 'SelectStmt': {
        const s = body as SelectStmt;
        const shape = this.select(s, scope, scope);
        if (s.intoClause) this.guardShapeWrite(shape, 'a new table (SELECT INTO)');
        return shape;
      }
      case 'InsertStmt':
        return this.insert(body as InsertStmt, scope);
      case 'UpdateStmt':
        return this.update(body as UpdateStmt, scope);
      case 'DeleteStmt':
        return this.delete(body as DeleteStmt, scope);
      case 'MergeStmt':
        return this.merge(body as MergeStmt, scope);
      case 'ExplainStmt': {
        const query = body.query as Node | undefined;
        if (query) this.statement(query, scope);
        return { columns: [{ name: 'QUERY PLAN', lineage: NO_SOURCES, certainName: true }], whole: NO_SOURCES };
      }
      case 'CreateTableAsStmt': {
        const query = body.query as Node | undefined;
        const shape = query ? this.statement(query, scope) : undefined;
        if (shape) this.guardShapeWrite(shape, 'a new table or materialized view (CREATE … AS)');
        return { columns: [], whole: NO_SOURCES };
      }
      case 'ViewStmt':
      case 'DeclareCursorStmt':
      case 'PrepareStmt': {
        // The agent writes this query: it is checked like any other (a view created here is not trusted).
        const query = body.query as Node | undefined;
        if (query) this.statement(query, scope);
        return { columns: [], whole: NO_SOURCES };
      }
      case 'CopyStmt': {
        const query = body.query as Node | undefined;
        if (query) this.statement(query, scope);
        return undefined;
      }
      case 'VariableShowStmt':
      case 'VariableSetStmt':
      case 'TransactionStmt':
        return undefined;
      default:
        // EXECUTE, FETCH, CALL… run something the parser cannot see from here.
        this.failClosed();
        return undefined;
    }
  }

  private guardShapeWrite(shape: Shape, label: string): void {
    for (const c of shape.columns ?? [{ name: '', lineage: shape.whole, certainName: false }]) this.guardWrite(c.lineage, { label, lineage: NO_SOURCES });
  }

  private withClause(w: WithClause | undefined, scope: Scope): void {
    for (const item of w?.ctes ?? []) {
      const u = unwrap(item);
      if (!u || u[0] !== 'CommonTableExpr') continue;
      const cte = u[1] as CommonTableExpr;
      const name = cte.ctename ?? '';
      const query = cte.ctequery;
      let shape: Shape;
      const q = unwrap(query);
      if (w?.recursive && q && q[0] === 'SelectStmt' && (q[1] as SelectStmt).op === 'SETOP_UNION') {
        // Recursive CTE: start from the non-recursive arm, then widen until the lineage stops growing.
        const sel = q[1] as SelectStmt;
        const cteScope = new Scope(scope, scope);
        const first = this.select(sel.larg!, cteScope, cteScope);
        shape = { columns: renamed(first.columns, cte.aliascolnames), whole: first.whole };
        for (let i = 0; i < 8; i++) {
          scope.ctes.set(name, { shape });
          const whole = this.select(sel as SelectStmt, scope, scope);
          const next: Shape = { columns: renamed(whole.columns, cte.aliascolnames), whole: whole.whole };
          const grew = next.whole.sources.size !== shape.whole.sources.size;
          shape = next;
          if (!grew) break;
        }
      } else {
        const s = query ? this.statement(query, scope) : undefined;
        shape = s ? { columns: renamed(s.columns, cte.aliascolnames), whole: s.whole } : { columns: undefined, whole: this.failClosed() };
      }
      // CYCLE compares each new row with those on its path (the row count then tells whether a guess
      // equals a masked value); SEARCH orders the rows by the listed columns.
      if (cte.cycle_clause !== undefined) this.guard(shape.whole, "a recursive query's CYCLE clause (it compares the values)");
      if (cte.search_clause !== undefined) this.guard(shape.whole, "a recursive query's SEARCH clause (it orders by the values)");
      scope.ctes.set(name, { shape });
    }
  }

  private select(stmt: SelectStmt, parent: Scope | undefined, cteParent: Scope | undefined): Shape {
    const scope = new Scope(parent, cteParent);
    this.withClause(stmt.withClause, scope);
    if (stmt.op !== undefined && stmt.op !== 'SETOP_NONE') return this.setOperation(stmt, scope);
    if (stmt.valuesLists) return this.values(stmt.valuesLists, scope);

    for (const item of stmt.fromClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(stmt.whereClause, scope, 'WHERE');
    const shape = this.targetList(stmt.targetList ?? [], scope);
    const outputs = shape.columns;

    for (const g of stmt.groupClause ?? []) this.guard(this.sortKey(g, scope, outputs, 'group'), 'GROUP BY');
    this.predicate(stmt.havingClause, scope, 'HAVING');
    for (const w of stmt.windowClause ?? []) {
      const u = unwrap(w);
      if (u && u[0] === 'WindowDef') this.windowDef(u[1] as WindowDef, scope);
    }
    if (stmt.distinctClause) {
      const exprs = stmt.distinctClause.filter((d) => unwrap(d) !== undefined);
      if (exprs.length === 0) this.guard(outputs ? wholeOf(outputs) : shape.whole, 'SELECT DISTINCT');
      for (const d of exprs) this.guard(this.sortKey(d, scope, outputs, 'order'), 'DISTINCT ON');
    }
    for (const s of stmt.sortClause ?? []) {
      const u = unwrap(s);
      const node = u && u[0] === 'SortBy' ? (u[1] as SortBy).node : s;
      this.guard(this.sortKey(node, scope, outputs, 'order'), 'ORDER BY');
    }
    this.predicate(stmt.limitCount, scope, 'LIMIT');
    this.predicate(stmt.limitOffset, scope, 'OFFSET');
    return shape;
  }

  /** An ORDER BY / GROUP BY / DISTINCT ON key: an output position, an output name, or an expression. */
  private sortKey(n: Node | undefined, scope: Scope, outputs: Column[] | undefined, _kind: 'order' | 'group'): Lineage {
    if (n === undefined) return NO_SOURCES;
    const pos = intConst(n);
    if (pos !== undefined) {
      if (!outputs) return this.failClosed();
      return outputs[pos - 1]?.lineage ?? NO_SOURCES;
    }
    const u = unwrap(n);
    if (u && u[0] === 'GroupingSet') return derived(...((u[1].content as Node[] | undefined) ?? []).map((c) => this.sortKey(c, scope, outputs, _kind)));
    // A bare name may mean an output column or an input column: take both (fail closed).
    const parts: Lineage[] = [];
    if (u && u[0] === 'ColumnRef') {
      const names = stringsOf((u[1] as ColumnRef).fields);
      if (names.length === 1 && ((u[1] as ColumnRef).fields ?? []).length === 1) {
        const byName = outputs?.filter((c) => c.name === names[0]) ?? [];
        parts.push(...byName.map((c) => c.lineage));
        if (byName.length > 0 && !this.resolvesAsColumn(names[0]!, scope)) return derived(...parts);
      }
    }
    parts.push(this.expr(n, scope));
    return derived(...parts);
  }

  private resolvesAsColumn(name: string, scope: Scope): boolean {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) if (!r.qualifiedOnly && (!r.columns || r.columns.some((c) => c.name === name))) return true;
    }
    return false;
  }

  private setOperation(stmt: SelectStmt, scope: Scope): Shape {
    const left = this.select(stmt.larg!, scope, scope);
    const right = this.select(stmt.rarg!, scope, scope);
    let shape: Shape;
    if (left.columns && right.columns && left.columns.length === right.columns.length) {
      const columns = left.columns.map((c, i) => ({ name: c.name, certainName: c.certainName, lineage: eitherOf(c.lineage, right.columns![i]!.lineage) }));
      shape = { columns, whole: wholeOf(columns) };
    } else {
      shape = { columns: undefined, whole: derived(left.whole, right.whole) };
    }
    // UNION (without ALL), INTERSECT and EXCEPT compare rows: the row count reveals equalities.
    if (stmt.op !== 'SETOP_UNION' || !stmt.all) {
      const op = stmt.op === 'SETOP_UNION' ? 'UNION (without ALL)' : stmt.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT';
      this.guard(shape.whole, `${op}, which compares rows`);
    }
    if (stmt.sortClause || stmt.limitCount || stmt.limitOffset) {
      const resultScope = new Scope(scope.parent, scope);
      const rel: Rel = { refname: undefined, columns: shape.columns, whole: shape.whole, hasSystemColumns: false };
      resultScope.rels.push(rel);
      resultScope.items.push({ rels: [rel], star: shape.columns });
      for (const s of stmt.sortClause ?? []) {
        const u = unwrap(s);
        const node = u && u[0] === 'SortBy' ? (u[1] as SortBy).node : s;
        this.guard(this.sortKey(node, resultScope, shape.columns, 'order'), 'ORDER BY');
      }
      this.predicate(stmt.limitCount, resultScope, 'LIMIT');
      this.predicate(stmt.limitOffset, resultScope, 'OFFSET');
    }
    return shape;
  }

  private values(lists: Node[], scope: Scope): Shape {
    const perColumn: Lineage[][] = [];
    for (const l of lists) {
      const u = unwrap(l);
      const items = u && u[0] === 'List' ? ((u[1].items as Node[] | undefined) ?? []) : [];
      items.forEach((item, i) => {
        (perColumn[i] ??= []).push(this.expr(item, scope));
      });
    }
    const columns = perColumn.map((ls, i) => ({ name: `column${i + 1}`, certainName: true, lineage: eitherOf(...ls) }));
    return { columns, whole: wholeOf(columns) };
  }

  private targetList(list: Node[], scope: Scope): Shape {
    const columns: Column[] = [];
    const wholes: Lineage[] = [];
    let known = true;
    for (const item of list) {
      const u = unwrap(item);
      if (!u || u[0] !== 'ResTarget') continue;
      const rt = u[1] as ResTarget;
      const val = unwrap(rt.val);
      if (val && val[0] === 'ColumnRef') {
        const fields = (val[1] as ColumnRef).fields ?? [];
        if (fields.length > 0 && unwrap(fields.at(-1))?.[0] === 'A_Star') {
          const expanded = this.expandStar(stringsOf(fields), scope);
          if (expanded.columns) columns.push(...expanded.columns);
          else known = false;
          wholes.push(expanded.whole);
          continue;
        }
      }
      const lineage = this.expr(rt.val, scope);
      const figured = figureName(rt.val);
      columns.push({ name: rt.name ?? figured.name, certainName: rt.name !== undefined || figured.certain, lineage });
    }
    const whole = derived(wholeOf(columns), ...wholes);
    return { columns: known ? columns : undefined, whole };
  }

  private expandStar(qualifier: string[], scope: Scope): Shape {
    if (qualifier.length === 0) {
      const columns: Column[] = [];
      const wholes: Lineage[] = [];
      let known = true;
      for (const item of scope.items) {
        if (item.star) columns.push(...item.star);
        else known = false;
        wholes.push(...item.rels.map((r) => r.whole));
      }
      return { columns: known ? columns : undefined, whole: derived(wholeOf(columns), ...wholes) };
    }
    const rel = this.findRel(qualifier.at(-1)!, qualifier.length >= 2 ? qualifier.at(-2) : undefined, scope);
    if (!rel) return { columns: undefined, whole: this.failClosed() };
    return { columns: rel.columns, whole: rel.whole };
  }

  // ---- FROM ----------------------------------------------------------------------------------

  private fromItem(node: Node, scope: Scope): FromItem {
    const u = unwrap(node);
    if (!u) return this.unknownItem();
    const [type, body] = u;
    switch (type) {
      case 'RangeVar':
        return this.rangeVar(body as RangeVar, scope);
      case 'RangeSubselect': {
        const rs = body as RangeSubselect;
        const sub = unwrap(rs.subquery);
        // A sub-query in FROM sees the outer query's names, and the preceding FROM items only if LATERAL.
        const shape = sub && sub[0] === 'SelectStmt' ? (rs.lateral ? this.select(sub[1] as SelectStmt, scope, scope) : this.select(sub[1] as SelectStmt, scope.parent, scope)) : { columns: undefined, whole: this.failClosed() };
        const columns = renamed(shape.columns, rs.alias?.colnames);
        const rel: Rel = { refname: rs.alias?.aliasname, columns, whole: shape.whole, hasSystemColumns: false };
        return { rels: [rel], star: columns };
      }
      case 'RangeFunction':
        return this.rangeFunction(body as RangeFunction, scope);
      case 'JoinExpr':
        return this.join(body as JoinExpr, scope);
      case 'RangeTableSample': {
        const inner = this.fromItem(body.relation as Node, scope);
        for (const a of (body.args as Node[] | undefined) ?? []) this.predicate(a, scope, 'TABLESAMPLE');
        this.predicate(body.repeatable as Node | undefined, scope, 'TABLESAMPLE');
        return inner;
      }
      default: {
        // XMLTABLE, JSON_TABLE and anything newer: rows and columns computed from its inputs.
        const inputs = this.generic(body, scope);
        this.guard(inputs, 'a table function in FROM (the rows it returns depend on the value)');
        const alias = body.alias as { aliasname?: string } | undefined;
        const rel: Rel = { refname: alias?.aliasname, columns: undefined, whole: inputs, hasSystemColumns: false };
        return { rels: [rel], star: undefined };
      }
    }
  }

  private unknownItem(): FromItem {
    const rel: Rel = { refname: undefined, columns: undefined, whole: this.failClosed(), hasSystemColumns: false };
    return { rels: [rel], star: undefined };
  }

  private rangeVar(rv: RangeVar, scope: Scope): FromItem {
    const name = rv.relname ?? '';
    const alias = rv.alias?.aliasname;
    if (rv.schemaname === undefined && rv.catalogname === undefined) {
      const cte = scope.cte(name);
      if (cte) {
        const columns = renamed(cte.shape.columns, rv.alias?.colnames);
        const rel: Rel = { refname: alias ?? name, columns, whole: cte.shape.whole, hasSystemColumns: false };
        return { rels: [rel], star: columns };
      }
    }
    const info = rv.catalogname === undefined ? this.env.relation(rv.schemaname === undefined ? { name } : { schema: rv.schemaname, name }) : undefined;
    if (!info) {
      const rel: Rel = { refname: alias ?? name, columns: undefined, whole: this.failClosed(), hasSystemColumns: false };
      if (rv.schemaname !== undefined) rel.schema = rv.schemaname;
      return { rels: [rel], star: undefined };
    }
    const columns = renamed(this.relationColumns(info), rv.alias?.colnames);
    const rel: Rel = { refname: alias ?? info.name, columns, whole: columns ? wholeOf(columns) : this.failClosed(), hasSystemColumns: info.kind !== 'v' };
    if (alias === undefined) rel.schema = info.schema;
    return { rels: [rel], star: columns };
  }

  /** Columns of a table (their own values) or of a view (traced through its definition). */
  private relationColumns(info: RelationInfo): Column[] {
    const qualified = `${info.schema}.${info.name}`;
    if (VALUE_EXPOSING_RELATIONS.has(qualified) || VALUE_EXPOSING_NAMES.has(info.name)) {
      const l = this.failClosed();
      return info.columns.map((c) => ({ name: c.name, lineage: l, certainName: true }));
    }
    if (info.kind !== 'v' && info.kind !== 'm') {
      return info.columns.map((c) => ({ name: c.name, lineage: columnValue(c.keys), certainName: true }));
    }
    const shape = this.viewShape(info);
    return info.columns.map((c, i) => {
      const base = shape.columns && shape.columns.length === info.columns.length ? shape.columns[i]!.lineage : changed(shape.whole);
      return { name: c.name, lineage: alsoKnownAs(base, c.keys), certainName: true };
    });
  }

  private viewShape(info: RelationInfo): Shape {
    const cached = this.viewShapes.get(info.oid);
    if (cached) return cached;
    const query = this.env.viewQuery(info);
    let shape: Shape | undefined;
    if (query && this.trusted < MAX_VIEW_DEPTH) {
      this.trusted++;
      try {
        shape = this.statement(query, undefined);
      } finally {
        this.trusted--;
      }
    }
    shape ??= { columns: undefined, whole: this.failClosed() };
    this.viewShapes.set(info.oid, shape);
    return shape;
  }

  private rangeFunction(rf: RangeFunction, scope: Scope): FromItem {
    // Functions in FROM may always refer to the preceding FROM items (implicitly LATERAL).
    const parts: Lineage[] = [];
    const columns: Column[] = [];
    let known = true;
    const functions = rf.functions ?? [];
    for (const f of functions) {
      const list = unwrap(f);
      const items = list && list[0] === 'List' ? ((list[1].items as Node[] | undefined) ?? []) : [f];
      const call = items[0];
      const coldefs = items[1] ? unwrap(items[1]) : undefined;
      const l = this.expr(call, scope);
      parts.push(l);
      const fc = unwrap(call);
      const fname = fc && fc[0] === 'FuncCall' ? nameFromList((fc[1] as FuncCall).funcname) : undefined;
      const facts = fname ? this.env.function(fname) : undefined;
      if (facts?.setReturning !== false) this.guard(l, `${fname?.name ?? 'a function'}() in FROM (the number of rows it returns depends on the value)`);
      const defs = rf.coldeflist ?? (coldefs && coldefs[0] === 'List' ? (coldefs[1].items as Node[] | undefined) : undefined);
      if (defs && defs.length > 0) {
        for (const d of defs) {
          const cd = unwrap(d);
          columns.push({ name: (cd?.[1].colname as string | undefined) ?? '?column?', lineage: l, certainName: true });
        }
        continue;
      }
      const known0 = fname ? KNOWN_FUNCTION_COLUMNS[fname.name] : undefined;
      const args = fc && fc[0] === 'FuncCall' ? ((fc[1] as FuncCall).args ?? []) : [];
      if (known0 === 'self' || (fname?.name === 'unnest' && args.length === 1)) {
        const own = functions.length === 1 && !rf.is_rowsfrom ? (rf.alias?.aliasname ?? fname?.name ?? '?column?') : (fname?.name ?? '?column?');
        columns.push({ name: own, lineage: l, certainName: true });
      } else if (Array.isArray(known0)) {
        for (const n of known0) columns.push({ name: n, lineage: l, certainName: true });
      } else {
        known = false;
      }
    }
    if (rf.ordinality) columns.push({ name: 'ordinality', lineage: NO_SOURCES, certainName: true });
    const whole = derived(...parts);
    const cols = known ? renamed(columns, rf.alias?.colnames) : undefined;
    const rel: Rel = { refname: rf.alias?.aliasname ?? (functions.length === 1 ? this.functionNameOf(functions[0]) : undefined), columns: cols, whole, hasSystemColumns: false };
    return { rels: [rel], star: cols };
  }

  private functionNameOf(f: Node | undefined): string | undefined {
    const list = unwrap(f);
    const call = list && list[0] === 'List' ? ((list[1].items as Node[] | undefined) ?? [])[0] : f;
    const fc = unwrap(call);
    return fc && fc[0] === 'FuncCall' ? nameFromList((fc[1] as FuncCall).funcname)?.name : undefined;
  }

  private join(j: JoinExpr, scope: Scope): FromItem {
    const left = this.fromItem(j.larg!, scope);
    // The right side may be LATERAL and refer to the left side.
    const mark = scope.rels.length;
    scope.rels.push(...left.rels);
    const right = this.fromItem(j.rarg!, scope);
    scope.rels.push(...right.rels);
    this.predicate(j.quals, scope, 'JOIN … ON');
    scope.rels.splice(mark);

    let usingNames = stringsOf(j.usingClause);
    if (j.isNatural && left.star && right.star) {
      const rightNames = new Set(right.star.map((c) => c.name));
      usingNames = left.star.map((c) => c.name).filter((n) => rightNames.has(n));
    }
    const merged: Column[] = [];
    for (const name of usingNames) {
      const l = left.star?.find((c) => c.name === name)?.lineage ?? this.lookupIn(left.rels, name);
      const r = right.star?.find((c) => c.name === name)?.lineage ?? this.lookupIn(right.rels, name);
      this.guard(derived(l, r), j.isNatural ? 'NATURAL JOIN' : 'JOIN … USING');
      merged.push({ name, lineage: eitherOf(l, r), certainName: true });
    }
    let star: Column[] | undefined;
    if (left.star && right.star) {
      const skip = new Set(usingNames);
      star = [...merged, ...left.star.filter((c) => !skip.has(c.name)), ...right.star.filter((c) => !skip.has(c.name))];
    }
    if (j.alias) {
      const columns = renamed(star, j.alias.colnames);
      const rel: Rel = { refname: j.alias.aliasname, columns, whole: columns ? wholeOf(columns) : derived(...left.rels.map((r) => r.whole), ...right.rels.map((r) => r.whole)), hasSystemColumns: false };
      return { rels: [rel], star: columns };
    }
    const rels = [...left.rels, ...right.rels];
    if (j.join_using_alias?.aliasname) rels.push({ refname: j.join_using_alias.aliasname, columns: merged, whole: wholeOf(merged), hasSystemColumns: false });
    return { rels, star };
  }

  private lookupIn(rels: Rel[], name: string): Lineage {
    const found: Lineage[] = [];
    for (const r of rels) {
      if (!r.columns) found.push(r.whole);
      else for (const c of r.columns) if (c.name === name) found.push(c.lineage);
    }
    return found.length > 0 ? eitherOf(...found) : this.failClosed();
  }

  // ---- writes --------------------------------------------------------------------------------

  /** The table a write changes (never a CTE of the same name). */
  private targetRel(rv: RangeVar | undefined): { rel: Rel; info: RelationInfo | null } {
    const info = rv && rv.catalogname === undefined ? (this.env.relation(rv.schemaname === undefined ? { name: rv.relname ?? '' } : { schema: rv.schemaname, name: rv.relname ?? '' }) ?? null) : null;
    if (!info) {
      return { rel: { refname: rv?.alias?.aliasname ?? rv?.relname, columns: undefined, whole: this.failClosed(), hasSystemColumns: false }, info };
    }
    const columns = this.relationColumns(info);
    const rel: Rel = { refname: rv?.alias?.aliasname ?? info.name, columns, whole: wholeOf(columns), hasSystemColumns: info.kind !== 'v' };
    if (rv?.alias === undefined) rel.schema = info.schema;
    return { rel, info };
  }

  private targetColumn(rel: Rel, info: RelationInfo | null, name: string): { label: string; lineage: Lineage } {
    const col = rel.columns?.find((c) => c.name === name);
    return { label: info ? `${info.schema}.${info.name}.${name}` : name, lineage: col?.lineage ?? NO_SOURCES };
  }

  private returning(body: Body, scope: Scope): Shape {
    const clause = body.returningClause as { exprs?: Node[] } | undefined;
    const list = clause?.exprs ?? (body.returningList as Node[] | undefined);
    if (!list) return { columns: [], whole: NO_SOURCES };
    return this.targetList(list, scope);
  }

  private addTarget(scope: Scope, rel: Rel): void {
    scope.rels.push(rel);
    scope.items.push({ rels: [rel], star: rel.columns });
    // RETURNING old.* / new.* (PostgreSQL 18)
    scope.rels.push({ ...rel, refname: 'old', qualifiedOnly: true }, { ...rel, refname: 'new', qualifiedOnly: true });
  }

  private insert(s: InsertStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel, info } = this.targetRel(s.relation);
    const names = (s.cols ?? []).map((c) => (unwrap(c)?.[1] as ResTarget | undefined)?.name ?? '');
    const targetNames = names.length > 0 ? names : (rel.columns?.map((c) => c.name) ?? []);
    const sel = unwrap(s.selectStmt);
    const values = sel && sel[0] === 'SelectStmt' ? this.select(sel[1] as SelectStmt, undefined, scope) : undefined;
    const valueOf = (i: number): Lineage => values?.columns?.[i]?.lineage ?? values?.whole ?? NO_SOURCES;
    targetNames.forEach((n, i) => this.guardWrite(valueOf(i), this.targetColumn(rel, info, n)));
    if (values && !values.columns) this.guardWrite(values.whole, { label: info ? `${info.schema}.${info.name}` : 'the target table', lineage: NO_SOURCES });

    this.addTarget(scope, rel);
    const oc = s.onConflictClause;
    if (oc) {
      const excludedCols = rel.columns?.map((c) => {
        const i = targetNames.indexOf(c.name);
        return { ...c, lineage: i >= 0 ? valueOf(i) : NO_SOURCES };
      });
      scope.rels.push({ refname: 'excluded', columns: excludedCols, whole: values?.whole ?? NO_SOURCES, hasSystemColumns: false });
      this.predicate(oc.whereClause, scope, 'ON CONFLICT … WHERE');
      this.assignments(oc.targetList ?? [], scope, rel, info);
    }
    return this.returning(s as unknown as Body, scope);
  }

  private assignments(list: Node[], scope: Scope, rel: Rel, info: RelationInfo | null): void {
    for (const item of list) {
      const u = unwrap(item);
      if (!u || u[0] !== 'ResTarget') continue;
      const rt = u[1] as ResTarget;
      const val = unwrap(rt.val);
      let l: Lineage;
      if (val && val[0] === 'MultiAssignRef') {
        l = this.expr(val[1].source as Node, scope);
      } else {
        l = this.expr(rt.val, scope);
      }
      this.guardWrite(rt.indirection ? changed(l) : l, this.targetColumn(rel, info, rt.name ?? ''));
    }
  }

  private update(s: UpdateStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel, info } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    for (const item of s.fromClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.whereClause, scope, 'WHERE');
    this.assignments(s.targetList ?? [], scope, rel, info);
    return this.returning(s as unknown as Body, scope);
  }

  private delete(s: DeleteStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    for (const item of s.usingClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.whereClause, scope, 'WHERE');
    return this.returning(s as unknown as Body, scope);
  }

  private merge(s: MergeStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel, info } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    if (s.sourceRelation) {
      const fi = this.fromItem(s.sourceRelation, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.joinCondition, scope, 'MERGE … ON');
    for (const w of s.mergeWhenClauses ?? []) {
      const u = unwrap(w);
      if (!u || u[0] !== 'MergeWhenClause') continue;
      const mw = u[1] as MergeWhenClause;
      this.predicate(mw.condition, scope, 'MERGE … WHEN … AND');
      if (mw.commandType === 'CMD_UPDATE') this.assignments(mw.targetList ?? [], scope, rel, info);
      if (mw.commandType === 'CMD_INSERT') {
        const names = (mw.targetList ?? []).map((t) => (unwrap(t)?.[1] as ResTarget | undefined)?.name ?? '');
        const targetNames = names.length > 0 ? names : (rel.columns?.map((c) => c.name) ?? []);
        (mw.values ?? []).forEach((v, i) => {
          const n = targetNames[i];
          if (n !== undefined) this.guardWrite(this.expr(v, scope), this.targetColumn(rel, info, n));
        });
      }
    }
    return this.returning(s as unknown as Body, scope);
  }

  // ---- expressions ---------------------------------------------------------------------------

  expr(n: Node | undefined, scope: Scope): Lineage {
    const u = unwrap(n);
    if (!u) return NO_SOURCES;
    const [type, body] = u;
    switch (type) {
      case 'ColumnRef':
        return this.columnRef(body as ColumnRef, scope);
      case 'A_Const':
      case 'ParamRef':
      case 'SQLValueFunction':
      case 'SetToDefault':
      case 'String':
      case 'Integer':
      case 'Float':
      case 'Boolean':
      case 'BitString':
      case 'A_Star':
      case 'GroupingFunc':
      case 'CurrentOfExpr':
        return NO_SOURCES;
      case 'TypeCast':
        return this.typeCast(body as TypeCast, scope);
      case 'CollateClause':
        return this.expr(body.arg as Node | undefined, scope);
      case 'NamedArgExpr':
        return this.expr(body.arg as Node | undefined, scope);
      case 'A_Expr':
        return this.aExpr(body as A_Expr, scope);
      case 'BoolExpr': {
        const b = body as BoolExpr;
        const parts = (b.args ?? []).map((a) => this.expr(a, scope));
        // AND/OR stop early: a masked operand would decide whether the rest runs (and fails).
        if (b.boolop !== 'NOT_EXPR' && parts.length > 1) this.guard(derived(...parts), 'AND/OR (evaluation stops early)');
        return derived(...parts);
      }
      case 'FuncCall':
        return this.funcCall(body as FuncCall, scope);
      case 'SubLink':
        return this.subLink(body as SubLink, scope);
      case 'CaseExpr':
        return this.caseExpr(body as CaseExpr, scope);
      case 'A_Indirection':
        return this.indirection(body, scope);
      case 'SelectStmt':
        return derived(this.select(body as SelectStmt, scope, scope).whole);
      case 'List':
        return derived(...((body.items as Node[] | undefined) ?? []).map((i) => this.expr(i, scope)));
      default: {
        // Arrays, rows, NULL tests, COALESCE, GREATEST, XML/JSON constructors…: computed from their inputs.
        const l = this.bounded(this.generic(body, scope), describeNode(type, body));
        if (!isTotalNode(type, body) || (type === 'A_ArrayExpr' && this.maskedArray(l))) this.fallible(l, describeNode(type, body));
        return l;
      }
    }
  }

  /** Lineage of every node found under `body`, as one derived value. */
  private generic(body: Body, scope: Scope): Lineage {
    const parts: Lineage[] = [];
    const visit = (v: unknown): void => {
      if (v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) {
        for (const x of v) visit(x);
        return;
      }
      if (unwrap(v)) {
        parts.push(this.expr(v as Node, scope));
        return;
      }
      for (const x of Object.values(v)) visit(x);
    };
    for (const v of Object.values(body)) visit(v);
    return derived(...parts);
  }

  private columnRef(ref: ColumnRef, scope: Scope): Lineage {
    const fields = ref.fields ?? [];
    const names = stringsOf(fields);
    const star = fields.length > 0 && unwrap(fields.at(-1))?.[0] === 'A_Star';
    if (star) {
      // `t.*` or `*` inside an expression (row_to_json(t.*), count(t.*)): the whole row.
      return changed(this.expandStar(names, scope).whole);
    }
    if (names.length !== fields.length) return this.failClosed();
    if (names.length === 1) return this.bareName(names[0]!, scope);
    if (names.length === 2) {
      const rel = this.findRel(names[0]!, undefined, scope);
      if (rel) {
        if (!rel.columns) return rel.whole;
        const col = rel.columns.find((c) => c.name === names[1]);
        if (col) return col.lineage;
        if (rel.hasSystemColumns && SYSTEM_COLUMNS.has(names[1]!)) return NO_SOURCES;
        return this.failClosed();
      }
      // `a.b` with no relation `a`: field b of a composite column a.
      return changed(this.bareName(names[0]!, scope));
    }
    if (names.length === 3) {
      const rel = this.findRel(names[1]!, names[0], scope);
      const col = rel?.columns?.find((c) => c.name === names[2]);
      if (col) return col.lineage;
      if (rel && !rel.columns) return rel.whole;
      return this.failClosed();
    }
    return this.failClosed();
  }

  /** An unqualified name: a column (innermost scope first), else a whole-row reference to a relation. */
  private bareName(name: string, scope: Scope): Lineage {
    const maybe: Lineage[] = [];
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const found: Lineage[] = [];
      for (const r of s.rels) {
        if (r.qualifiedOnly) continue;
        if (!r.columns) {
          maybe.push(r.whole);
          continue;
        }
        for (const c of r.columns) if (c.name === name) found.push(c.lineage);
        if (found.length === 0 && r.hasSystemColumns && SYSTEM_COLUMNS.has(name)) found.push(NO_SOURCES);
      }
      if (found.length > 0) return maybe.length === 0 && found.length === 1 ? found[0]! : derived(...found, ...maybe);
    }
    const rel = this.findRel(name, undefined, scope);
    if (rel) return derived(rel.whole, ...maybe);
    return derived(this.failClosed(), ...maybe);
  }

  private findRel(name: string, schema: string | undefined, scope: Scope): Rel | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) {
        if (r.refname === name && (schema === undefined || r.schema === schema)) return r;
      }
    }
    return undefined;
  }

  private typeCast(tc: TypeCast, scope: Scope): Lineage {
    const l = this.expr(tc.arg, scope);
    if (l.sources.size === 0) return l;
    const names = stringsOf(tc.typeName?.names);
    const target = names.at(-1) ?? '';
    const isArray = (tc.typeName?.arrayBounds ?? []).length > 0;
    // public.text may be a domain with a CHECK: only the server's own text types are safe targets.
    const ownType = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
    if (!TEXT_TYPES.has(target) || !ownType || isArray) {
      this.fallible(l, `a cast to ${target}${isArray ? '[]' : ''} (a failing cast would show the value in its error)`);
      return changed(l);
    }
    const typmod = tc.typeName?.typmods;
    return (target === 'text' || target === 'varchar') && (typmod === undefined || typmod.length === 0) ? l : changed(l);
  }

  private aExpr(e: A_Expr, scope: Scope): Lineage {
    const l = this.expr(e.lexpr, scope);
    const r = this.expr(e.rexpr, scope);
    const op = stringsOf(e.name).at(-1);
    if (e.kind === 'AEXPR_NULLIF') this.guard(derived(l, r), 'NULLIF (it branches on the value)');
    if (e.kind === 'AEXPR_OP' && (op === '/' || op === '%')) this.guard(r, 'a division by a value computed from it (a division by zero would reveal it)');
    const out = this.bounded(derived(l, r), op === undefined ? 'an operator' : `the operator ${op}`);
    // A user-defined operator of that name may be the one the server picks: it runs user code.
    const builtin = operatorsOfExpr(e.kind, e.name).every((n) => this.env.operator(n)?.builtin === true);
    const arrayConcat = op === '||' && this.maskedArray(out);
    // `masked || repeat('x', 1000000000)`: the 1 GB limit would measure the masked part.
    const unboundedConcat = op === '||' && ((this.masked(l).length > 0 && !boundedClear(e.rexpr)) || (this.masked(r).length > 0 && !boundedClear(e.lexpr)));
    if (!builtin || arrayConcat || unboundedConcat || this.env.userImplicitCasts === true || !isTotalOperator(e.kind, e.name, { present: e.lexpr !== undefined, masked: this.masked(l).length > 0 }, this.masked(r).length > 0, e.rexpr)) {
      this.fallible(out, op === undefined ? 'an operator' : `the operator ${op}`);
    }
    return out;
  }

  private caseExpr(c: CaseExpr, scope: Scope): Lineage {
    const parts: Lineage[] = [];
    this.guard(this.expr(c.arg, scope), 'CASE (it branches on the value)');
    for (const w of c.args ?? []) {
      const u = unwrap(w);
      if (!u) continue;
      this.guard(this.expr(u[1].expr as Node | undefined, scope), 'CASE WHEN (it branches on the value)');
      parts.push(this.expr(u[1].result as Node | undefined, scope));
    }
    parts.push(this.expr(c.defresult, scope));
    return derived(...parts);
  }

  private indirection(body: Body, scope: Scope): Lineage {
    const arg = body.arg as Node | undefined;
    const ind = (body.indirection as Node[] | undefined) ?? [];
    // `(t).col` on a whole-row reference: exactly that column.
    const a = unwrap(arg);
    const field = ind.length === 1 ? stringsOf(ind)[0] : undefined;
    if (a && a[0] === 'ColumnRef' && field !== undefined) {
      const names = stringsOf((a[1] as ColumnRef).fields);
      if (names.length === 1 && !this.resolvesAsColumn(names[0]!, scope)) {
        const col = this.findRel(names[0]!, undefined, scope)?.columns?.find((c) => c.name === field);
        if (col) return col.lineage;
      }
    }
    const parts = [this.expr(arg, scope)];
    for (const i of ind) {
      const iu = unwrap(i);
      if (iu && iu[0] === 'A_Indices') {
        // A masked subscript picks the element, or NULL when out of range: it steers the result.
        const lower = this.expr(iu[1].lidx as Node | undefined, scope);
        const upper = this.expr(iu[1].uidx as Node | undefined, scope);
        this.guard(derived(lower, upper), 'an array or JSON subscript (it picks the element, or NULL)');
        parts.push(lower, upper);
      }
    }
    return derived(...parts);
  }

  private windowDef(w: WindowDef, scope: Scope): void {
    for (const p of w.partitionClause ?? []) this.predicate(p, scope, 'PARTITION BY');
    for (const o of w.orderClause ?? []) {
      const u = unwrap(o);
      this.predicate(u && u[0] === 'SortBy' ? (u[1] as SortBy).node : o, scope, 'a window ORDER BY');
    }
    this.predicate(w.startOffset, scope, 'a window frame');
    this.predicate(w.endOffset, scope, 'a window frame');
  }

  private funcCall(f: FuncCall, scope: Scope): Lineage {
    const name = nameFromList(f.funcname);
    const fname = name?.name ?? '';
    const args = (f.args ?? []).map((a) => this.expr(a, scope));
    const inputs = derived(...args);
    // DISTINCT inside an aggregate compares values, like SELECT DISTINCT (count(DISTINCT x) = 1 iff equal).
    if (f.agg_distinct) this.guard(inputs, `${fname}(DISTINCT …) (it compares values)`);

    if (f.agg_filter) this.predicate(f.agg_filter, scope, 'an aggregate FILTER');
    const order: Lineage[] = [];
    for (const o of f.agg_order ?? []) {
      const u = unwrap(o);
      const l = this.expr(u && u[0] === 'SortBy' ? (u[1] as SortBy).node : o, scope);
      // WITHIN GROUP (ORDER BY x) aggregates x itself (percentile_disc, mode); elsewhere the order is a predicate.
      if (f.agg_within_group) order.push(l);
      else this.guard(l, 'an ORDER BY inside an aggregate');
    }
    if (f.over) this.windowDef(f.over, scope);

    if (UNTRACEABLE_FUNCTIONS.has(fname)) return derived(this.failClosed(), inputs);
    const facts = name ? this.env.function(name) : undefined;
    if (facts?.setReturning !== false) this.guard(inputs, `${fname}(), a set-returning function (the number of rows depends on the value)`);
    if (PARSING_FUNCTIONS.has(fname)) this.fallible(inputs, `${fname}() (a failure would show the value in its error)`);
    if (!facts?.builtin) {
      // A user-defined function can read any table (and fail on its input): unknown lineage.
      this.fallible(inputs, `${fname}(), a user-defined function`);
      return derived(this.failClosed(), inputs, ...order);
    }
    if (!PARSING_FUNCTIONS.has(fname)) {
      const callArgs: CallArg[] = args.map((lineage, i) => ({ node: f.args?.[i], lineage, masked: this.masked(lineage).length > 0 }));
      if (!isTotalCall(fname, callArgs, { variadic: f.func_variadic === true }) || (fname === 'array_agg' && this.maskedArray(inputs))) this.fallible(inputs, `${fname}()`);
      if (f.agg_within_group && !TOTAL_WITHIN_GROUP.has(fname)) this.fallible(derived(...order), `${fname}() WITHIN GROUP`);
    }
    // count(col) of the column's own, unchanged value tells only how many are not NULL, which the
    // column itself shows (a plain masked column keeps its NULLs). Of anything derived (NULL iff a
    // guess fails) the count is masked like any other derived value.
    const arg0 = args[0];
    if (fname === 'count' && !f.agg_within_group && !f.agg_distinct && args.length === 1 && arg0 && (arg0.identity || arg0.sources.size === 0)) return NO_SOURCES;
    if (f.agg_star) return NO_SOURCES;
    const out = derived(inputs, ...order);
    return this.bounded(GROWING_FUNCTIONS.has(fname) ? grown(out, 2) : out, `${fname}()`);
  }

  /**
   * Refuse a value that may hold too many copies of masked bytes (nested concatenations, escaping):
   * amplified, its size would reach the server's 1 GB limit, or its time the statement timeout,
   * depending on how long the masked value is.
   */
  private bounded(l: Lineage, what: string): Lineage {
    if (weightOf(l) > MAX_WEIGHT) this.fallible(l, `${what} (it repeats or grows the value ${weightOf(l)} times over; at most ${MAX_WEIGHT})`);
    return l;
  }

  private subLink(s: SubLink, scope: Scope): Lineage {
    const sub = unwrap(s.subselect);
    const shape = sub && sub[0] === 'SelectStmt' ? this.select(sub[1] as SelectStmt, scope, scope) : { columns: undefined, whole: this.failClosed() };
    switch (s.subLinkType) {
      case 'EXISTS_SUBLINK':
        // Whether rows exist depends only on the sub-query's own clauses, which are checked above.
        return NO_SOURCES;
      case 'EXPR_SUBLINK':
        return shape.columns && shape.columns.length === 1 ? shape.columns[0]!.lineage : changed(shape.whole);
      case 'ARRAY_SUBLINK':
        return changed(shape.whole);
      default: {
        // x op ANY/ALL (SELECT …), (a, b) op (SELECT …): the comparison runs the operator on x.
        const test = this.expr(s.testexpr, scope);
        const out = derived(test, shape.whole);
        const op = nameFromList(s.operName);
        if (op === undefined || this.env.operator(op)?.builtin !== true || this.env.userImplicitCasts === true) this.fallible(out, op === undefined ? 'a comparison with a sub-query' : `the operator ${op.name}`);
        return out;
      }
    }
  }
}
