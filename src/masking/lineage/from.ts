/**
 * Lineage of FROM items: tables (their own columns), views (traced through their definitions, as
 * trusted), sub-queries, functions in FROM, joins; and the places in FROM where a masked value is
 * refused (JOIN … ON / USING, TABLESAMPLE, set-returning and table functions).
 */
import type { FuncCall, JoinExpr, Node, RangeFunction, RangeSubselect, RangeVar, SelectStmt } from '@pgsql/types';
import { nameFromList } from '../../sql/names.js';
import type { RelationInfo } from '../../db/catalog/relations.js';
import { exposesOtherValues } from '../rules/index.js';
import type { Lineage } from '../types.js';
import { alsoKnownAs, changed, columnValue, derived, eitherOf, NO_SOURCES } from './algebra.js';
import { ExpressionWalker } from './expressions.js';
import { KNOWN_FUNCTION_COLUMNS, stringsOf, unwrap } from './parse-tree.js';
import { renamed, wholeOf, type Column, type FromItem, type Rel, type Scope, type Shape } from './scope.js';

/** Views nested deeper than this get the fail-closed lineage. */
const MAX_VIEW_DEPTH = 32;

export abstract class FromWalker extends ExpressionWalker {
  protected fromItem(node: Node, scope: Scope): FromItem {
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
        for (const a of (body.args as Node[] | undefined) ?? []) this.predicate(a, scope, 'tablesample');
        this.predicate(body.repeatable as Node | undefined, scope, 'tablesample');
        return inner;
      }
      default: {
        // XMLTABLE, JSON_TABLE and anything newer: rows and columns computed from its inputs.
        const inputs = this.generic(body, scope);
        this.refuse('tableFunctionInFrom', inputs);
        const alias = body.alias as { aliasname?: string } | undefined;
        const rel: Rel = { refname: alias?.aliasname, columns: undefined, whole: inputs, hasSystemColumns: false };
        return { rels: [rel], star: undefined };
      }
    }
  }

  protected unknownItem(): FromItem {
    const rel: Rel = { refname: undefined, columns: undefined, whole: this.failClosed(), hasSystemColumns: false };
    return { rels: [rel], star: undefined };
  }

  protected rangeVar(rv: RangeVar, scope: Scope): FromItem {
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
  protected relationColumns(info: RelationInfo): Column[] {
    if (exposesOtherValues(info)) {
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

  protected viewShape(info: RelationInfo): Shape {
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

  protected rangeFunction(rf: RangeFunction, scope: Scope): FromItem {
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
      if (facts?.setReturning !== false) this.refuse('setReturningInFrom', l, fname?.name ?? 'a function');
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

  protected functionNameOf(f: Node | undefined): string | undefined {
    const list = unwrap(f);
    const call = list && list[0] === 'List' ? ((list[1].items as Node[] | undefined) ?? [])[0] : f;
    const fc = unwrap(call);
    return fc && fc[0] === 'FuncCall' ? nameFromList((fc[1] as FuncCall).funcname)?.name : undefined;
  }

  protected join(j: JoinExpr, scope: Scope): FromItem {
    const left = this.fromItem(j.larg!, scope);
    // The right side may be LATERAL and refer to the left side.
    const mark = scope.rels.length;
    scope.rels.push(...left.rels);
    const right = this.fromItem(j.rarg!, scope);
    scope.rels.push(...right.rels);
    this.predicate(j.quals, scope, 'joinOn');
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
      this.refuse(j.isNatural ? 'naturalJoin' : 'joinUsing', derived(l, r));
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

  protected lookupIn(rels: Rel[], name: string): Lineage {
    const found: Lineage[] = [];
    for (const r of rels) {
      if (!r.columns) found.push(r.whole);
      else for (const c of r.columns) if (c.name === name) found.push(c.lineage);
    }
    return found.length > 0 ? eitherOf(...found) : this.failClosed();
  }
}
