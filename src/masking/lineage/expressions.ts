/**
 * Lineage of expressions: what each value is computed from, and the places inside an expression
 * where a masked value is refused (casts, operators, calls, CASE, NULLIF, AND/OR, subscripts,
 * aggregate DISTINCT/FILTER/ORDER BY, window clauses, size weight). The decisions are the rules
 * module's; this part only reads the tree.
 */
import type { A_Expr, BoolExpr, CaseExpr, ColumnRef, FuncCall, Node, SelectStmt, SortBy, SubLink, TypeCast, WindowDef } from '@pgsql/types';
import { nameFromList, operatorsOfExpr } from '../../sql/names.js';
import {
  callMayFail,
  castOfMasked,
  countIsClear,
  describeNode,
  growthOf,
  isDivision,
  MAX_WEIGHT,
  nodeMayFail,
  operatorMayFail,
  PARSING_FUNCTIONS,
  subqueryComparisonMayFail,
  UNTRACEABLE_FUNCTIONS,
  withinGroupMayFail,
  type CallArg,
} from '../rules/index.js';
import type { Lineage } from '../types.js';
import { changed, derived, grown, NO_SOURCES, weightOf } from './algebra.js';
import { LineageFindings } from './findings.js';
import { stringsOf, SYSTEM_COLUMNS, unwrap, type Body } from './parse-tree.js';
import type { Rel, Scope } from './scope.js';

export abstract class ExpressionWalker extends LineageFindings {
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
        if (b.boolop !== 'NOT_EXPR' && parts.length > 1) this.refuse('andOr', derived(...parts));
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
        const what = describeNode(type, body);
        const l = this.bounded(this.generic(body, scope), what);
        if (nodeMayFail(type, body, type === 'A_ArrayExpr' && this.maskedArray(l))) this.refuse('expressionNode', l, what);
        return l;
      }
    }
  }

  /** Lineage of every node found under `body`, as one derived value. */
  protected generic(body: Body, scope: Scope): Lineage {
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

  protected columnRef(ref: ColumnRef, scope: Scope): Lineage {
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
  protected bareName(name: string, scope: Scope): Lineage {
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

  protected findRel(name: string, schema: string | undefined, scope: Scope): Rel | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) {
        if (r.refname === name && (schema === undefined || r.schema === schema)) return r;
      }
    }
    return undefined;
  }

  protected typeCast(tc: TypeCast, scope: Scope): Lineage {
    const l = this.expr(tc.arg, scope);
    if (l.sources.size === 0) return l;
    const names = stringsOf(tc.typeName?.names);
    const isArray = (tc.typeName?.arrayBounds ?? []).length > 0;
    const typmod = tc.typeName?.typmods;
    const verdict = castOfMasked(names, isArray, typmod !== undefined && typmod.length > 0);
    if (verdict === 'refused') this.refuse('cast', l, `${names.at(-1) ?? ''}${isArray ? '[]' : ''}`);
    return verdict === 'unchanged' ? l : changed(l);
  }

  protected aExpr(e: A_Expr, scope: Scope): Lineage {
    const l = this.expr(e.lexpr, scope);
    const r = this.expr(e.rexpr, scope);
    const op = stringsOf(e.name).at(-1);
    if (e.kind === 'AEXPR_NULLIF') this.refuse('nullif', derived(l, r));
    if (isDivision(e, op)) this.refuse('division', r);
    const what = op === undefined ? 'an operator' : `the operator ${op}`;
    const out = this.bounded(derived(l, r), what);
    // A user-defined operator of that name may be the one the server picks: it runs user code.
    const builtin = operatorsOfExpr(e.kind, e.name).every((n) => this.env.operator(n)?.builtin === true);
    const facts = { builtin, userImplicitCasts: this.env.userImplicitCasts === true, leftMasked: this.masked(l).length > 0, rightMasked: this.masked(r).length > 0, maskedArray: op === '||' && this.maskedArray(out) };
    if (operatorMayFail(e, op, facts)) this.refuse('operator', out, what);
    return out;
  }

  protected caseExpr(c: CaseExpr, scope: Scope): Lineage {
    const parts: Lineage[] = [];
    this.refuse('caseArg', this.expr(c.arg, scope));
    for (const w of c.args ?? []) {
      const u = unwrap(w);
      if (!u) continue;
      this.refuse('caseWhen', this.expr(u[1].expr as Node | undefined, scope));
      parts.push(this.expr(u[1].result as Node | undefined, scope));
    }
    parts.push(this.expr(c.defresult, scope));
    return derived(...parts);
  }

  protected indirection(body: Body, scope: Scope): Lineage {
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
        this.refuse('subscript', derived(lower, upper));
        parts.push(lower, upper);
      }
    }
    return derived(...parts);
  }

  protected windowDef(w: WindowDef, scope: Scope): void {
    for (const p of w.partitionClause ?? []) this.predicate(p, scope, 'partitionBy');
    for (const o of w.orderClause ?? []) {
      const u = unwrap(o);
      this.predicate(u && u[0] === 'SortBy' ? (u[1] as SortBy).node : o, scope, 'windowOrderBy');
    }
    this.predicate(w.startOffset, scope, 'windowFrame');
    this.predicate(w.endOffset, scope, 'windowFrame');
  }

  protected funcCall(f: FuncCall, scope: Scope): Lineage {
    const name = nameFromList(f.funcname);
    const fname = name?.name ?? '';
    const args = (f.args ?? []).map((a) => this.expr(a, scope));
    const inputs = derived(...args);
    // DISTINCT inside an aggregate compares values, like SELECT DISTINCT (count(DISTINCT x) = 1 iff equal).
    if (f.agg_distinct) this.refuse('aggregateDistinct', inputs, fname);

    if (f.agg_filter) this.predicate(f.agg_filter, scope, 'aggregateFilter');
    const order: Lineage[] = [];
    for (const o of f.agg_order ?? []) {
      const u = unwrap(o);
      const l = this.expr(u && u[0] === 'SortBy' ? (u[1] as SortBy).node : o, scope);
      // WITHIN GROUP (ORDER BY x) aggregates x itself (percentile_disc, mode); elsewhere the order is a predicate.
      if (f.agg_within_group) order.push(l);
      else this.refuse('aggregateOrderBy', l);
    }
    if (f.over) this.windowDef(f.over, scope);

    if (UNTRACEABLE_FUNCTIONS.has(fname)) return derived(this.failClosed(), inputs);
    const facts = name ? this.env.function(name) : undefined;
    if (facts?.setReturning !== false) this.refuse('setReturningFunction', inputs, fname);
    if (PARSING_FUNCTIONS.has(fname)) this.refuse('parsingFunction', inputs, fname);
    if (!facts?.builtin) {
      // A user-defined function can read any table (and fail on its input): unknown lineage.
      this.refuse('userFunction', inputs, fname);
      return derived(this.failClosed(), inputs, ...order);
    }
    if (!PARSING_FUNCTIONS.has(fname)) {
      const callArgs: CallArg[] = args.map((lineage, i) => ({ node: f.args?.[i], lineage, masked: this.masked(lineage).length > 0 }));
      if (callMayFail(fname, callArgs, { variadic: f.func_variadic === true, maskedArrayInput: fname === 'array_agg' && this.maskedArray(inputs) })) this.refuse('call', inputs, fname);
      if (f.agg_within_group && withinGroupMayFail(fname)) this.refuse('withinGroup', derived(...order), fname);
    }
    // count(col) of the column's own value, and count(*), are clear (see countIsClear).
    if (countIsClear({ fname, star: f.agg_star === true, distinct: f.agg_distinct === true, withinGroup: f.agg_within_group === true }, args)) return NO_SOURCES;
    const out = derived(inputs, ...order);
    const growth = growthOf(fname);
    return this.bounded(growth > 1 ? grown(out, growth) : out, `${fname}()`);
  }

  protected subLink(s: SubLink, scope: Scope): Lineage {
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
        if (op === undefined || subqueryComparisonMayFail(this.env.operator(op)?.builtin === true, this.env.userImplicitCasts === true)) this.refuse('subqueryComparison', out, op === undefined ? 'a comparison with a sub-query' : `the operator ${op.name}`);
        return out;
      }
    }
  }
}
