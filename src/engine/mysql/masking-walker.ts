/**
 * Lineage over node-sql-parser's MySQL AST: for every output column, the catalog columns whose
 * values can reach it, and the places where a masked value would leak by inference, by whether an
 * error comes back, or by a write. The decisions are the shared rules module's (src/masking/rules/)
 * with MySQL's names (masking-functions.ts); this file only reads the tree.
 *
 * node-sql-parser is approximate, so the walk fails closed: a node type it does not know is a
 * computation that may fail (refused on masked values) whose lineage is all of its inputs; a name it
 * cannot resolve, a stored function, a variable or a statement it does not trace gets the
 * fail-closed lineage (every column in reach plus every masked column of the policy).
 *
 * Names: MySQL compares column names case-insensitively, and table names case-sensitively on Linux
 * (lower_case_table_names=0). The walker matches every name case-insensitively: a name then resolves
 * to more candidates, never fewer, so a masked column cannot hide behind a different spelling.
 */
import type { Reason } from '../../errors.js';
import type { MaskerName } from '../../policy/schema.js';
import type { ColumnKey, Lineage } from '../../masking/types.js';
import { MaskedFlowFindings } from '../../masking/lineage/findings.js';
import { alsoKnownAs, changed, columnValue, derived, eitherOf, grown, NO_SOURCES, weightOf } from '../../masking/lineage/algebra.js';
import { countIsClear, MAX_WEIGHT, type FlowName } from '../../masking/rules/index.js';
import {
  isNumberLiteral,
  isStringLiteral,
  MYSQL_BRANCHING_FUNCTIONS,
  MYSQL_CLEAR_BUILTINS,
  MYSQL_COMPARISONS,
  MYSQL_CONNECTIVES,
  MYSQL_DIVISIONS,
  MYSQL_LITERAL_TYPES,
  MYSQL_PARSING_FUNCTIONS,
  MYSQL_REGEX_FUNCTIONS,
  MYSQL_REGEX_OPERATORS,
  MYSQL_UNTRACEABLE_FUNCTIONS,
  mysqlCallIsTotal,
  mysqlCastOfMasked,
  mysqlExposesOtherValues,
  mysqlGrowthOf,
  type MysqlCallArg,
} from './masking-functions.js';
import type { MysqlRelation } from './types.js';

/** A parsed node: node-sql-parser's plain objects. */
export type AstNode = Record<string, unknown>;

export interface MysqlColumn {
  name: string;
  lineage: Lineage;
  certainName: boolean;
}

export interface MysqlShape {
  columns: MysqlColumn[] | undefined;
  whole: Lineage;
}

interface Rel {
  /** lower-case name it is referred to by */
  refname: string | undefined;
  /** lower-case database, when referred to by its table name */
  schema?: string;
  columns: MysqlColumn[] | undefined;
  whole: Lineage;
}

class Scope {
  readonly rels: Rel[] = [];
  /** what `*` expands to, per FROM item (undefined: unknown) */
  readonly stars: (MysqlColumn[] | undefined)[] = [];
  readonly ctes = new Map<string, MysqlShape>();
  constructor(readonly parent: Scope | undefined) {}
  cte(name: string): MysqlShape | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const c = s.ctes.get(name);
      if (c) return c;
    }
    return undefined;
  }
}

export interface MysqlLineageEnv {
  rules: ReadonlyMap<ColumnKey, MaskerName>;
  defaultSchema: string;
  /** a relation by name, looked up before the walk; null: it does not exist (or the user cannot see it) */
  relation(name: { schema?: string; name: string }): MysqlRelation | null | undefined;
  /** a view's definition, parsed; undefined when it cannot be parsed */
  viewQuery(rel: MysqlRelation): AstNode | undefined;
  /** a stored function of that name exists (built-ins are not routines) */
  isRoutine(name: { schema?: string; name: string }): boolean;
  /** every column of every relation the statement (and its views) names */
  relationColumns: ReadonlySet<ColumnKey>;
}

export interface MysqlStatementLineage {
  outputs: { name: string | undefined; lineage: Lineage }[] | undefined;
  reasons: Reason[];
  unknownUsed: boolean;
}

/** How deep views may nest before their columns get the fail-closed lineage. */
const MAX_VIEW_DEPTH = 8;

export function columnKey(rel: { schema: string; name: string }, column: string): ColumnKey {
  return `${rel.schema}.${rel.name}.${column}`;
}

const lower = (s: unknown): string => (typeof s === 'string' ? s.toLowerCase() : '');

function isNode(v: unknown): v is AstNode {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A parenthesised sub-query inside an expression or FROM: `{ ast, parentheses }`. */
function subqueryAst(v: unknown): AstNode | undefined {
  if (!isNode(v)) return undefined;
  if (isNode(v.ast) && typeof v.ast.type === 'string') return v.ast;
  return undefined;
}

function nameOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isNode(v) && typeof v.value === 'string') return v.value;
  return undefined;
}

/** A function's name parts: `{ name: [{value}], schema?: {value} }`. */
function functionName(f: AstNode): { schema?: string; name: string } {
  const n = f.name;
  if (typeof n === 'string') return { name: n };
  if (isNode(n)) {
    const parts = Array.isArray(n.name) ? n.name.map(nameOf).filter((x): x is string => x !== undefined) : [];
    const schema = nameOf(n.schema);
    const name = parts.join('.');
    return schema !== undefined ? { schema, name } : { name };
  }
  return { name: '' };
}

function listOf(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isNode(v) && v.type === 'expr_list') return Array.isArray(v.value) ? v.value : [];
  return v === undefined || v === null ? [] : [v];
}

/** Whether anything under `node` is a call or a sub-query (a clear value of unbounded size). */
function boundedClear(node: unknown): boolean {
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (!isNode(v)) continue;
    if (v.type === 'function' || v.type === 'aggr_func' || v.ast !== undefined) return false;
    stack.push(...Object.values(v));
  }
  return true;
}

export class MysqlLineageWalker extends MaskedFlowFindings<MysqlLineageEnv> {
  private readonly viewColumns = new Map<MysqlRelation, MysqlColumn[]>();
  private readonly viewStack: MysqlRelation[] = [];
  /** inside a data-change statement, where strict mode turns conversion warnings into errors */
  private writing = 0;
  /** inside INSERT … ON DUPLICATE KEY UPDATE: what VALUES(col) holds, by lower-case column */
  private inserted: Map<string, Lineage> | undefined;

  trace(root: AstNode): MysqlStatementLineage {
    const shape = this.statement(root, undefined);
    const outputs = shape?.columns?.map((c) => ({ name: c.certainName ? c.name : undefined, lineage: c.lineage }));
    return { outputs, reasons: this.reasons, unknownUsed: this.unknownUsed };
  }

  /** Output columns of a relation, views traced through their definitions. */
  relationOutputs(rel: MysqlRelation): MysqlColumn[] {
    return this.relationColumns(rel);
  }

  // ---- findings (refuse, guardWrite, bounded, failClosed: in MaskedFlowFindings) ---------------

  private predicate(n: unknown, scope: Scope, flow: FlowName): void {
    if (n === undefined || n === null) return;
    this.refuse(flow, this.expr(n, scope));
  }

  // ---- statements ------------------------------------------------------------------------------

  private statement(root: AstNode, scope: Scope | undefined): MysqlShape | undefined {
    const changesData = root.type === 'insert' || root.type === 'replace' || root.type === 'update' || root.type === 'delete' || root.type === 'create';
    if (changesData) this.writing++;
    try {
      return this.statementBody(root, scope);
    } finally {
      if (changesData) this.writing--;
    }
  }

  private statementBody(root: AstNode, scope: Scope | undefined): MysqlShape | undefined {
    switch (root.type) {
      case 'select': {
        const shape = this.select(root, scope);
        return shape;
      }
      case 'insert':
      case 'replace':
        this.insert(root, scope);
        return { columns: [], whole: NO_SOURCES };
      case 'update':
        this.update(root, scope);
        return { columns: [], whole: NO_SOURCES };
      case 'delete':
        this.delete(root, scope);
        return { columns: [], whole: NO_SOURCES };
      case 'set':
        // SET @v = …: a masked value copied into a variable would read back unmasked.
        for (const e of listOf(root.expr)) this.expr(e, scope ?? new Scope(undefined));
        return undefined;
      case 'create': {
        const q = isNode(root.query_expr) ? root.query_expr : undefined;
        if (q) {
          const shape = this.statement(q, scope);
          if (shape) this.guardShapeWrite(shape, 'a new table or view (CREATE … AS)');
          return { columns: [], whole: NO_SOURCES };
        }
        this.failClosed();
        return undefined;
      }
      default:
        // SHOW, CALL, EXECUTE, HANDLER…: what they return is not traced.
        this.failClosed();
        return undefined;
    }
  }

  /** The table a write changes: its columns as lineage (the target's own masking decides what a copy may be). */
  private targetRel(t: unknown): { rel: Rel; info: MysqlRelation | null } {
    const node = isNode(t) ? t : undefined;
    const name = typeof node?.table === 'string' ? node.table : undefined;
    const db = typeof node?.db === 'string' ? node.db : undefined;
    const info = name !== undefined ? (this.env.relation(db !== undefined ? { schema: db, name } : { name }) ?? null) : null;
    const refname = lower(node?.as ?? name);
    if (!info) return { rel: { refname, columns: undefined, whole: this.failClosed() }, info };
    const columns = info.columns.map((c) => ({ name: c, lineage: columnValue([columnKey(info, c)]), certainName: true }));
    const rel: Rel = { refname, columns, whole: derived(...columns.map((c) => c.lineage)) };
    if (node?.as === undefined || node.as === null) rel.schema = lower(info.schema);
    return { rel, info };
  }

  private targetColumn(rel: Rel, info: MysqlRelation | null, name: string): { label: string; lineage: Lineage } {
    const col = rel.columns?.find((c) => lower(c.name) === lower(name));
    // An unknown target (or column) may be any column: treat it as clear, so a masked value is refused.
    return { label: info ? columnKey(info, col?.name ?? name) : name, lineage: col?.lineage ?? NO_SOURCES };
  }

  private insert(s: AstNode, outer: Scope | undefined): void {
    const scope = new Scope(outer);
    const targets = listOf(s.table);
    const { rel, info } = this.targetRel(targets[0]);
    const names = Array.isArray(s.columns) ? s.columns.map((c) => nameOf(c) ?? (isNode(c) ? nameOf(c.column) : undefined) ?? '') : (rel.columns?.map((c) => c.name) ?? []);
    const values = isNode(s.values) ? s.values : undefined;
    const inserted = new Map<string, Lineage>();
    const record = (n: string | undefined, l: Lineage) => {
      if (n === undefined) return;
      const k = n.toLowerCase();
      const prev = inserted.get(k);
      inserted.set(k, prev ? eitherOf(prev, l) : l);
    };
    if (values && values.type === 'select') {
      const shape = this.select(values, scope);
      names.forEach((n, i) => {
        const l = shape.columns?.[i]?.lineage ?? shape.whole;
        record(n, l);
        this.guardWrite(l, this.targetColumn(rel, info, n));
      });
      if (!shape.columns || names.length === 0) this.guardWrite(shape.whole, { label: info ? `${info.schema}.${info.name}` : 'the target table', lineage: NO_SOURCES });
    } else if (values && values.type === 'values') {
      for (const row of listOf(values.values)) {
        listOf(row).forEach((v, i) => {
          const l = this.expr(v, scope);
          const n = names[i];
          record(n, l);
          this.guardWrite(l, n !== undefined ? this.targetColumn(rel, info, n) : { label: 'the target table', lineage: NO_SOURCES });
        });
      }
    } else if (values !== undefined) {
      this.guardWrite(this.failClosed(), { label: 'the target table', lineage: NO_SOURCES });
    }
    this.assignments(listOf(s.set), scope, [rel], info);
    if (isNode(s.on_duplicate_update)) {
      const dupScope = new Scope(scope);
      dupScope.rels.push(rel);
      this.inserted = inserted;
      try {
        this.assignments(listOf(s.on_duplicate_update.set), dupScope, [rel], info);
      } finally {
        this.inserted = undefined;
      }
    }
  }

  private assignments(items: unknown[], scope: Scope, targets: Rel[], info: MysqlRelation | null, infos?: Map<Rel, MysqlRelation | null>): void {
    for (const item of items) {
      if (!isNode(item)) continue;
      const column = nameOf(item.column) ?? '';
      const l = this.expr(item.value, scope);
      const qualifier = typeof item.table === 'string' ? lower(item.table) : undefined;
      const rel = qualifier !== undefined ? targets.find((r) => r.refname === qualifier) : targets.find((r) => r.columns?.some((c) => lower(c.name) === lower(column)));
      if (!rel) {
        this.guardWrite(l, { label: column, lineage: NO_SOURCES });
        continue;
      }
      this.guardWrite(l, this.targetColumn(rel, infos?.get(rel) ?? info, column));
    }
  }

  private update(s: AstNode, outer: Scope | undefined): void {
    const scope = new Scope(outer);
    const infos = new Map<Rel, MysqlRelation | null>();
    for (const item of listOf(s.table)) {
      if (!isNode(item)) continue;
      if (typeof item.table === 'string') {
        const { rel, info } = this.targetRel(item);
        infos.set(rel, info);
        scope.rels.push(rel);
        scope.stars.push(rel.columns);
        if (item.on !== undefined && item.on !== null) this.predicate(item.on, scope, 'joinOn');
        this.using(item, scope);
      } else this.fromItem(item, scope);
    }
    this.predicate(s.where, scope, 'where');
    this.orderLimit(s, scope, undefined);
    this.assignments(listOf(s.set), scope, [...infos.keys()], null, infos);
  }

  private delete(s: AstNode, outer: Scope | undefined): void {
    const scope = new Scope(outer);
    for (const item of listOf(s.from)) this.fromItem(item, scope);
    this.predicate(s.where, scope, 'where');
    this.orderLimit(s, scope, undefined);
  }

  // ---- queries ---------------------------------------------------------------------------------

  private withClause(w: unknown, scope: Scope): void {
    for (const item of listOf(w)) {
      if (!isNode(item)) continue;
      const name = lower(nameOf(item.name));
      const ast = subqueryAst(item.stmt) ?? (isNode(item.stmt) && typeof item.stmt.type === 'string' ? item.stmt : undefined);
      const colnames = listOf(item.columns).map((c) => (isNode(c) ? nameOf(c.column) : nameOf(c))).filter((x): x is string => x !== undefined);
      const rename = (sh: MysqlShape): MysqlShape => ({
        columns: sh.columns?.map((c, i) => (i < colnames.length ? { ...c, name: colnames[i]!, certainName: true } : c)),
        whole: sh.whole,
      });
      if (!ast) {
        scope.ctes.set(name, { columns: undefined, whole: this.failClosed() });
        continue;
      }
      if (item.recursive === true || (Array.isArray(w) && (w as AstNode[]).some((x) => isNode(x) && x.recursive === true))) {
        // Recursive: start from nothing known, widen until the lineage stops growing.
        let shape: MysqlShape = { columns: undefined, whole: NO_SOURCES };
        const first = this.selectArm(ast, new Scope(scope));
        shape = rename(first);
        for (let i = 0; i < 8; i++) {
          scope.ctes.set(name, shape);
          const next = rename(this.select(ast, scope));
          const grew = next.whole.sources.size !== shape.whole.sources.size;
          shape = next;
          if (!grew) break;
        }
        scope.ctes.set(name, shape);
      } else {
        scope.ctes.set(name, rename(this.select(ast, scope)));
      }
    }
  }

  /** The arms of a set operation: `_next` chains them, each with the operator to the next. */
  private arms(stmt: AstNode): { arm: AstNode; op: string | undefined }[] {
    const out: { arm: AstNode; op: string | undefined }[] = [];
    let cur: AstNode | undefined = stmt;
    for (let guard = 0; cur && guard < 10_000; guard++) {
      const next: AstNode | undefined = isNode(cur._next) ? cur._next : undefined;
      out.push({ arm: cur, op: next ? lower(cur.set_op) : undefined });
      cur = next;
    }
    return out;
  }

  private select(stmt: AstNode, parent: Scope | undefined): MysqlShape {
    if (stmt.type !== 'select') {
      const shape = this.statement(stmt, parent);
      return shape ?? { columns: undefined, whole: this.failClosed() };
    }
    const withScope = new Scope(parent);
    this.withClause(stmt.with, withScope);
    const arms = this.arms(stmt);
    if (arms.length === 1) return this.selectArm(stmt, withScope);
    // ORDER BY / LIMIT after the last arm belong to the whole result unless that arm is parenthesised.
    const shapes = arms.map(({ arm }, i) => this.selectArm(arm, withScope, i === arms.length - 1 && arm.parentheses_symbol !== true));
    let shape: MysqlShape;
    const cols = shapes.map((s) => s.columns);
    if (cols.every((c) => c !== undefined && c.length === cols[0]!.length)) {
      const columns = cols[0]!.map((c, i) => ({ name: c.name, certainName: c.certainName, lineage: eitherOf(...cols.map((cs) => cs![i]!.lineage)) }));
      shape = { columns, whole: derived(...columns.map((c) => c.lineage)) };
    } else shape = { columns: undefined, whole: derived(...shapes.map((s) => s.whole)) };
    for (const { op } of arms) {
      if (op !== undefined && op !== 'union all') this.refuse('setOperation', shape.whole, op === 'union' || op === 'union distinct' ? 'UNION (without ALL)' : op.toUpperCase());
    }
    // ORDER BY and LIMIT after the last arm may order the whole result (MySQL's reading) or the arm
    // (node-sql-parser's tree): check them against the combined columns too.
    const last = arms.at(-1)!.arm;
    if (last.orderby || last.limit) {
      const resultScope = new Scope(withScope.parent);
      const rel: Rel = { refname: undefined, columns: shape.columns, whole: shape.whole };
      resultScope.rels.push(rel);
      resultScope.stars.push(shape.columns);
      this.orderLimit(last, resultScope, shape.columns);
    }
    return shape;
  }

  private selectArm(stmt: AstNode, parent: Scope | undefined, orderIsTheResults = false): MysqlShape {
    const scope = new Scope(parent);
    if (stmt.with) this.withClause(stmt.with, scope);
    for (const item of listOf(stmt.from)) this.fromItem(item, scope);
    this.predicate(stmt.where, scope, 'where');
    const shape = this.selectList(listOf(stmt.columns), scope);
    const outputs = shape.columns;
    const groupby = isNode(stmt.groupby) ? listOf(stmt.groupby.columns) : listOf(stmt.groupby);
    for (const g of groupby) this.refuse('groupBy', this.sortKey(g, scope, outputs));
    this.predicate(stmt.having, scope, 'having');
    if (isNode(stmt.window)) {
      for (const w of listOf(stmt.window.expr)) if (isNode(w)) this.windowSpec(w, scope);
    }
    if (typeof stmt.distinct === 'string' || (isNode(stmt.distinct) && stmt.distinct.type !== undefined)) {
      this.refuse('distinct', outputs ? derived(...outputs.map((c) => c.lineage)) : shape.whole);
    }
    if (!orderIsTheResults) this.orderLimit(stmt, scope, outputs);
    if (isNode(stmt.into) && stmt.into.type === 'into') {
      const label = lower(stmt.into.keyword) === 'var' ? 'a user variable (SELECT … INTO @var)' : 'a file (SELECT … INTO OUTFILE)';
      this.guardShapeWrite(shape, label);
    }
    return shape;
  }

  private orderLimit(stmt: AstNode, scope: Scope, outputs: MysqlColumn[] | undefined): void {
    for (const o of listOf(stmt.orderby)) this.refuse('orderBy', this.sortKey(isNode(o) ? o.expr : o, scope, outputs));
    if (isNode(stmt.limit)) for (const v of listOf(stmt.limit.value)) this.predicate(v, scope, 'limit');
  }

  /** ORDER BY / GROUP BY key: an output position, an output name (alias), or an expression. */
  private sortKey(n: unknown, scope: Scope, outputs: MysqlColumn[] | undefined): Lineage {
    if (!isNode(n)) return NO_SOURCES;
    if (n.type === 'number' && typeof n.value === 'number') {
      if (!outputs) return this.failClosed();
      return outputs[n.value - 1]?.lineage ?? NO_SOURCES;
    }
    const parts: Lineage[] = [];
    if (n.type === 'column_ref' && (n.table === null || n.table === undefined)) {
      const name = lower(nameOf(n.column));
      parts.push(...(outputs?.filter((c) => lower(c.name) === name).map((c) => c.lineage) ?? []));
      if (parts.length > 0 && !this.resolvesAsColumn(name, scope)) return derived(...parts);
    }
    parts.push(this.expr(n, scope));
    return derived(...parts);
  }

  private resolvesAsColumn(name: string, scope: Scope): boolean {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) if (!r.columns || r.columns.some((c) => lower(c.name) === name)) return true;
    }
    return false;
  }

  private selectList(items: unknown[], scope: Scope): MysqlShape {
    const columns: MysqlColumn[] = [];
    const wholes: Lineage[] = [];
    let known = true;
    for (const item of items) {
      if (!isNode(item)) continue;
      const e = item.expr;
      if (isNode(e) && e.type === 'column_ref' && nameOf(e.column) === '*') {
        const expanded = this.expandStar(e, scope);
        if (expanded.columns) columns.push(...expanded.columns);
        else known = false;
        wholes.push(expanded.whole);
        continue;
      }
      const lineage = this.expr(e, scope);
      const alias = nameOf(item.as);
      if (alias !== undefined) columns.push({ name: alias, certainName: true, lineage });
      else if (isNode(e) && e.type === 'column_ref') columns.push({ name: nameOf(e.column) ?? '', certainName: true, lineage });
      else columns.push({ name: '', certainName: false, lineage });
    }
    return { columns: known ? columns : undefined, whole: derived(...columns.map((c) => c.lineage), ...wholes) };
  }

  private expandStar(ref: AstNode, scope: Scope): MysqlShape {
    const table = typeof ref.table === 'string' ? lower(ref.table) : undefined;
    if (table === undefined) {
      const columns: MysqlColumn[] = [];
      let known = scope.stars.length > 0;
      for (const star of scope.stars) {
        if (star) columns.push(...star);
        else known = false;
      }
      const whole = derived(...scope.rels.map((r) => r.whole), ...columns.map((c) => c.lineage));
      return { columns: known ? columns : undefined, whole: known ? whole : derived(whole, this.failClosed()) };
    }
    const rel = this.findRel(table, typeof ref.db === 'string' ? lower(ref.db) : undefined, scope);
    if (!rel) return { columns: undefined, whole: this.failClosed() };
    return { columns: rel.columns, whole: rel.whole };
  }

  // ---- FROM ------------------------------------------------------------------------------------

  private fromItem(item: unknown, scope: Scope): void {
    if (!isNode(item)) return;
    const alias = nameOf(item.as);
    const sub = subqueryAst(item.expr);
    let rel: Rel;
    if (sub) {
      // A LATERAL derived table sees the FROM items before it; others only the outer query.
      const shape = this.select(sub, lower(item.prefix) === 'lateral' ? scope : scope.parent);
      rel = { refname: lower(alias), columns: shape.columns, whole: shape.whole };
    } else if (typeof item.table === 'string') {
      rel = this.namedRel(item, scope);
    } else {
      // JSON_TABLE, table functions, anything the walker does not know: unknown columns.
      this.expr(item.expr, scope);
      rel = { refname: lower(alias), columns: undefined, whole: this.failClosed() };
    }
    scope.rels.push(rel);
    scope.stars.push(rel.columns);
    if (item.on !== undefined && item.on !== null) this.predicate(item.on, scope, 'joinOn');
    this.using(item, scope);
    if (typeof item.join === 'string' && /NATURAL/i.test(item.join)) this.refuse('naturalJoin', rel.whole);
  }

  /**
   * JOIN … USING (cols): the columns are compared (refused when masked), and `*` shows each once,
   * first, as MySQL coalesces them, then the other columns of the left side, then the right's.
   */
  private using(item: AstNode, scope: Scope): void {
    const names = listOf(item.using).map((u) => lower(nameOf(u) ?? (isNode(u) ? nameOf(u.column) : undefined))).filter((n) => n.length > 0);
    if (names.length === 0) return;
    const right = scope.stars.pop();
    const left = scope.stars.splice(0, scope.stars.length);
    const known = right !== undefined && left.every((s) => s !== undefined);
    const leftCols = known ? left.flat() as MysqlColumn[] : [];
    const coalesced: MysqlColumn[] = [];
    for (const name of names) {
      const parts: Lineage[] = [];
      for (const r of scope.rels) for (const c of r.columns ?? []) if (lower(c.name) === name) parts.push(c.lineage);
      this.refuse('joinUsing', parts.length > 0 ? derived(...parts) : this.failClosed());
      const first = leftCols.find((c) => lower(c.name) === name);
      const other = right?.find((c) => lower(c.name) === name);
      if (first) coalesced.push({ ...first, lineage: other ? eitherOf(first.lineage, other.lineage) : first.lineage });
    }
    if (!known || coalesced.length !== names.length) {
      scope.stars.push(undefined);
      return;
    }
    const isUsing = (c: MysqlColumn) => names.includes(lower(c.name));
    scope.stars.push([...coalesced, ...leftCols.filter((c) => !isUsing(c)), ...right!.filter((c) => !isUsing(c))]);
  }

  private namedRel(item: AstNode, scope: Scope): Rel {
    const table = item.table as string;
    const db = typeof item.db === 'string' ? item.db : undefined;
    const alias = nameOf(item.as);
    const refname = lower(alias ?? table);
    if (db === undefined) {
      const cte = scope.cte(lower(table));
      if (cte) return { refname, columns: cte.columns, whole: cte.whole };
      if (lower(table) === 'dual') return { refname, columns: [], whole: NO_SOURCES };
    }
    const info = this.env.relation(db !== undefined ? { schema: db, name: table } : { name: table });
    if (!info || mysqlExposesOtherValues(info) || (db !== undefined && mysqlExposesOtherValues({ schema: db, name: table }))) {
      // A relation the catalog does not know, or one that holds other tables' values (statistics,
      // statement histories): every column in reach and every masked column.
      if (info) {
        const unknown = this.failClosed();
        const columns = info.columns.map((c) => ({ name: c, lineage: unknown, certainName: true }));
        return { refname, columns, whole: unknown };
      }
      return { refname, columns: undefined, whole: this.failClosed() };
    }
    const columns = this.relationColumns(info);
    const rel: Rel = { refname, columns, whole: derived(...columns.map((c) => c.lineage)) };
    if (alias === undefined) rel.schema = lower(info.schema);
    return rel;
  }

  /** A table's columns; a view's traced through its definition (trusted), or failed closed. */
  private relationColumns(info: MysqlRelation): MysqlColumn[] {
    const own = (c: string): ColumnKey => columnKey(info, c);
    if (info.kind !== 'view') return info.columns.map((c) => ({ name: c, lineage: columnValue([own(c)]), certainName: true }));
    const cached = this.viewColumns.get(info);
    if (cached) return cached;
    let traced: MysqlColumn[] | undefined;
    const query = this.env.viewQuery(info);
    if (query && !this.viewStack.includes(info) && this.viewStack.length < MAX_VIEW_DEPTH) {
      this.viewStack.push(info);
      this.trusted++;
      try {
        const shape = this.select(query, undefined);
        if (shape.columns && shape.columns.length === info.columns.length) traced = shape.columns;
      } finally {
        this.trusted--;
        this.viewStack.pop();
      }
    }
    const columns = info.columns.map((c, i) => {
      const t = traced?.[i];
      // Untraced: the view's own column and every masked column of the policy (fail closed).
      const lineage = t ? alsoKnownAs(t.lineage, [own(c)]) : derived(columnValue([own(c)]), this.failClosed());
      return { name: c, lineage, certainName: true };
    });
    this.viewColumns.set(info, columns);
    return columns;
  }

  private findRel(name: string, schema: string | undefined, scope: Scope): Rel | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) if (r.refname === name && (schema === undefined || r.schema === schema)) return r;
    }
    return undefined;
  }

  // ---- expressions -----------------------------------------------------------------------------

  expr(n: unknown, scope: Scope): Lineage {
    if (n === undefined || n === null) return NO_SOURCES;
    if (Array.isArray(n)) return derived(...n.map((x) => this.expr(x, scope)));
    if (!isNode(n)) return NO_SOURCES;
    const sub = subqueryAst(n);
    if (sub) {
      const shape = this.select(sub, scope);
      return shape.columns && shape.columns.length === 1 ? shape.columns[0]!.lineage : changed(shape.whole);
    }
    const type = typeof n.type === 'string' ? n.type : undefined;
    if (type === 'double_quote_string' && typeof n.value === 'string' && this.resolvesAsColumn(n.value.toLowerCase(), scope)) {
      // Under sql_mode ANSI_QUOTES the server reads "ssn" as the column, not as a string.
      return this.bareName(n.value.toLowerCase(), scope);
    }
    if (type !== undefined && MYSQL_LITERAL_TYPES.has(type)) return NO_SOURCES;
    switch (type) {
      case 'column_ref':
        return this.columnRef(n, scope);
      case 'expr_list':
        return derived(...listOf(n).map((x) => this.expr(x, scope)));
      case 'binary_expr':
        return this.binary(n, scope);
      case 'unary_expr': {
        const l = this.expr(n.expr, scope);
        this.refuse('operator', l, `the operator ${String(n.operator)}`);
        return changed(l);
      }
      case 'function':
        return this.call(n, scope);
      case 'aggr_func':
        return this.aggregate(n, scope);
      case 'cast':
        return this.cast(n, scope);
      case 'case':
        return this.caseExpr(n, scope);
      case 'interval':
        return this.expr(n.expr, scope);
      case 'var':
        // A system variable (@@…) holds settings, never table data; a user variable (@x) may hold
        // anything an earlier statement put there: not traced.
        return n.prefix === '@@' ? NO_SOURCES : this.failClosed();
      case 'assign': {
        const l = this.expr(n.right, scope);
        this.guardWrite(l, { label: 'a user variable (@var := …)', lineage: NO_SOURCES });
        return l;
      }
      default: {
        const what = `an expression of kind ${type ?? 'unknown'}`;
        const l = this.bounded(this.generic(n, scope), what);
        this.refuse('expressionNode', l, what);
        return l;
      }
    }
  }

  private generic(body: AstNode, scope: Scope): Lineage {
    const parts: Lineage[] = [];
    for (const [k, v] of Object.entries(body)) {
      if (k === 'type' || k === 'loc') continue;
      if (Array.isArray(v)) parts.push(...v.map((x) => this.expr(x, scope)));
      else if (isNode(v)) parts.push(this.expr(v, scope));
    }
    return derived(...parts);
  }

  private columnRef(ref: AstNode, scope: Scope): Lineage {
    const column = nameOf(ref.column);
    if (column === undefined) return this.failClosed();
    if (column === '*') return changed(this.expandStar(ref, scope).whole);
    const name = lower(column);
    let l: Lineage;
    if (typeof ref.table === 'string') {
      const rel = this.findRel(lower(ref.table), typeof ref.db === 'string' ? lower(ref.db) : undefined, scope);
      if (!rel) l = this.failClosed();
      else if (!rel.columns) l = rel.whole;
      else l = rel.columns.find((c) => lower(c.name) === name)?.lineage ?? this.failClosed();
    } else l = this.bareName(name, scope);
    // `x USING charset` arrives as a suffix of the column: the text is converted, no longer the column's own.
    return ref.suffix !== undefined && ref.suffix !== null ? changed(l) : l;
  }

  private bareName(name: string, scope: Scope): Lineage {
    const maybe: Lineage[] = [];
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const found: Lineage[] = [];
      for (const r of s.rels) {
        if (!r.columns) {
          maybe.push(r.whole);
          continue;
        }
        for (const c of r.columns) if (lower(c.name) === name) found.push(c.lineage);
      }
      if (found.length > 0) return maybe.length === 0 && found.length === 1 ? found[0]! : derived(...found, ...maybe);
    }
    return derived(this.failClosed(), ...maybe);
  }

  private binary(e: AstNode, scope: Scope): Lineage {
    const op = typeof e.operator === 'string' ? e.operator.toUpperCase() : '';
    const l = this.expr(e.left, scope);
    const r = this.expr(e.right, scope);
    const out = this.bounded(derived(l, r), `the operator ${op}`);
    const leftMasked = this.masked(l).length > 0;
    const rightMasked = this.masked(r).length > 0;
    if (!leftMasked && !rightMasked) return out;
    if (MYSQL_CONNECTIVES.has(op)) {
      this.refuse('andOr', out);
      return out;
    }
    if (MYSQL_COMPARISONS.has(op)) {
      // Next to a number MySQL compares as numbers: the text is converted, with a warning quoting it.
      const operands = [e.left, ...listOf(isNode(e.right) && e.right.type === 'expr_list' ? e.right : [e.right])];
      if (operands.some(isNumberLiteral)) this.refuse('implicitConversion', out, `the operator ${op} with a number`);
      // In a data-change statement strict mode makes a conversion an error: the other side must be text for sure.
      else if (this.writing > 0 && !operands.every((o) => isStringLiteral(o) || (isNode(o) && o.type === 'null') || this.masked(this.expr(o, scope)).length > 0)) {
        this.refuse('implicitConversion', out, `the operator ${op} with a value of unknown type in a data-change statement`);
      }
      // LIKE with a masked pattern: the pattern's escapes decide; refused as a computation that may fail.
      if ((op === 'LIKE' || op === 'NOT LIKE') && (rightMasked || !isStringLiteral(e.right))) this.refuse('operator', out, `the operator ${op}`);
      return out;
    }
    if (MYSQL_DIVISIONS.has(op)) this.refuse('division', r);
    if (op === '->' || op === '->>') {
      this.refuse('parsingFunction', out, `JSON_EXTRACT (the operator ${op})`);
      return out;
    }
    if (MYSQL_REGEX_OPERATORS.has(op)) {
      this.refuse('call', out, op);
      return out;
    }
    // Arithmetic, bit operators, anything else: they convert and can overflow.
    this.refuse('operator', out, `the operator ${op}`);
    return out;
  }

  private cast(c: AstNode, scope: Scope): Lineage {
    const l = this.expr(c.expr, scope);
    if (l.sources.size === 0) return l;
    const target = (Array.isArray(c.target) ? c.target[0] : c.target) as { dataType?: unknown; length?: unknown } | undefined;
    const verdict = mysqlCastOfMasked(target ?? {});
    if (verdict === 'refused') this.refuse('cast', l, typeof target?.dataType === 'string' ? target.dataType : 'an unknown type');
    return verdict === 'unchanged' ? l : changed(l);
  }

  private caseExpr(c: AstNode, scope: Scope): Lineage {
    const parts: Lineage[] = [];
    if (c.expr !== undefined && c.expr !== null) this.refuse('caseArg', this.expr(c.expr, scope));
    for (const a of listOf(c.args)) {
      if (!isNode(a)) continue;
      if (a.type === 'when') this.refuse('caseWhen', this.expr(a.cond, scope));
      parts.push(this.expr(a.result, scope));
    }
    return derived(...parts);
  }

  private windowSpec(over: unknown, scope: Scope): void {
    if (!isNode(over)) return;
    const spec = isNode(over.as_window_specification) ? over.as_window_specification : over;
    const ws = isNode(spec.window_specification) ? spec.window_specification : spec;
    for (const p of listOf(ws.partitionby)) this.predicate(isNode(p) && 'expr' in p ? p.expr : p, scope, 'partitionBy');
    for (const o of listOf(ws.orderby)) this.predicate(isNode(o) && 'expr' in o ? o.expr : o, scope, 'windowOrderBy');
    if (ws.window_frame_clause !== undefined && ws.window_frame_clause !== null) this.predicate(ws.window_frame_clause, scope, 'windowFrame');
  }

  private aggregate(f: AstNode, scope: Scope): Lineage {
    const name = typeof f.name === 'string' ? f.name.toUpperCase() : functionName(f).name.toUpperCase();
    const args = isNode(f.args) ? f.args : {};
    const star = isNode(args.expr) && args.expr.type === 'star';
    const argNodes = star ? [] : listOf(args.expr);
    const lineages = argNodes.map((a) => this.expr(a, scope));
    const inputs = derived(...lineages);
    const distinct = typeof args.distinct === 'string' && args.distinct.length > 0;
    if (distinct) this.refuse('aggregateDistinct', inputs, name);
    for (const o of listOf(args.orderby)) this.refuse('aggregateOrderBy', this.expr(isNode(o) ? o.expr : o, scope));
    this.expr(isNode(args.separator) ? args.separator.value : undefined, scope);
    if (f.over) this.windowSpec(f.over, scope);
    return this.builtinCall(name, argNodes, lineages, { star, distinct });
  }

  private call(f: AstNode, scope: Scope): Lineage {
    const qname = functionName(f);
    const name = qname.name.toUpperCase();
    const argNodes = listOf(f.args);
    if (name === 'EXISTS') {
      // Whether rows exist depends only on the sub-query's own clauses, which are checked.
      for (const a of argNodes) this.expr(a, scope);
      return NO_SOURCES;
    }
    if (name === 'CONVERT') {
      // CONVERT(x, type) is CAST; CONVERT(x USING charset) arrives as a column suffix.
      const typeArg = argNodes.find((a) => isNode(a) && a.type === 'datatype') as AstNode | undefined;
      const l = this.expr(argNodes[0], scope);
      if (typeArg) {
        if (l.sources.size === 0) return l;
        const verdict = mysqlCastOfMasked(typeArg as { dataType?: unknown; length?: unknown });
        if (verdict === 'refused') this.refuse('cast', l, typeof typeArg.dataType === 'string' ? typeArg.dataType : 'an unknown type');
        return verdict === 'unchanged' ? l : changed(l);
      }
      this.refuse('call', l, 'CONVERT');
      return changed(l);
    }
    const lineages = argNodes.map((a) => this.expr(a, scope));
    const inputs = derived(...lineages);
    if (f.over) this.windowSpec(f.over, scope);

    if (qname.schema !== undefined || this.env.isRoutine(qname)) {
      // A stored function: user code that can read any table (and fail on its input).
      this.refuse('userFunction', inputs, qname.schema !== undefined ? `${qname.schema}.${qname.name}` : qname.name);
      return derived(this.failClosed(), inputs);
    }
    if (name === 'VALUES' && this.inserted !== undefined && argNodes.length === 1 && isNode(argNodes[0]) && argNodes[0].type === 'column_ref') {
      // VALUES(col) in ON DUPLICATE KEY UPDATE: the value the row would have inserted into col.
      return this.inserted.get(lower(nameOf(argNodes[0].column))) ?? NO_SOURCES;
    }
    if (MYSQL_UNTRACEABLE_FUNCTIONS.has(name)) return derived(this.failClosed(), inputs);
    const branching = MYSQL_BRANCHING_FUNCTIONS.get(name);
    if (branching) {
      const deciding = branching === 'first' ? lineages.slice(0, 1) : lineages.slice(0, -1);
      this.refuse('branchFunction', derived(...deciding), name);
      return derived(...lineages);
    }
    if (name === 'NULLIF') {
      this.refuse('nullif', inputs);
      return inputs;
    }
    if (MYSQL_PARSING_FUNCTIONS.has(name)) {
      this.refuse('parsingFunction', inputs, name);
      return changed(inputs);
    }
    if (MYSQL_REGEX_FUNCTIONS.has(name)) {
      this.refuse('call', inputs, name);
      return changed(inputs);
    }
    if (MYSQL_CLEAR_BUILTINS.has(name) && inputs.sources.size === 0) return NO_SOURCES;
    return this.builtinCall(name, argNodes, lineages, { star: false, distinct: false });
  }

  /** A built-in (scalar or aggregate) that is not a parser or a branch: total or refused. */
  private builtinCall(name: string, argNodes: unknown[], lineages: Lineage[], opts: { star: boolean; distinct: boolean }): Lineage {
    const inputs = derived(...lineages);
    const callArgs: MysqlCallArg[] = lineages.map((lineage, i) => ({ node: argNodes[i], lineage, masked: this.masked(lineage).length > 0 }));
    if (callArgs.some((a) => a.masked) && !mysqlCallIsTotal(name, callArgs, boundedClear)) this.refuse('call', inputs, name);
    if (countIsClear({ fname: name.toLowerCase(), star: opts.star, distinct: opts.distinct, withinGroup: false }, lineages)) return NO_SOURCES;
    const growth = mysqlGrowthOf(name);
    return this.bounded(growth > 1 ? grown(inputs, growth) : inputs, `${name}()`);
  }
}
