/**
 * Lineage of queries: SELECT (FROM, WHERE, the select list, GROUP BY, HAVING, windows, DISTINCT,
 * ORDER BY, LIMIT), WITH (recursive CTEs widened until their lineage stops growing), set
 * operations and VALUES; and the places in a query where a masked value is refused.
 */
import type { ColumnRef, CommonTableExpr, Node, ResTarget, SelectStmt, SortBy, WindowDef, WithClause } from '@pgsql/types';
import type { Lineage } from '../types.js';
import { derived, eitherOf, NO_SOURCES } from './algebra.js';
import { FromWalker } from './from.js';
import { figureName, intConst, stringsOf, unwrap } from './parse-tree.js';
import { renamed, Scope, wholeOf, type Column, type Rel, type Shape } from './scope.js';

export abstract class QueryWalker extends FromWalker {
  protected withClause(w: WithClause | undefined, scope: Scope): void {
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
      if (cte.cycle_clause !== undefined) this.refuse('cteCycle', shape.whole);
      if (cte.search_clause !== undefined) this.refuse('cteSearch', shape.whole);
      scope.ctes.set(name, { shape });
    }
  }

  protected select(stmt: SelectStmt, parent: Scope | undefined, cteParent: Scope | undefined): Shape {
    const scope = new Scope(parent, cteParent);
    this.withClause(stmt.withClause, scope);
    if (stmt.op !== undefined && stmt.op !== 'SETOP_NONE') return this.setOperation(stmt, scope);
    if (stmt.valuesLists) return this.values(stmt.valuesLists, scope);

    for (const item of stmt.fromClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(stmt.whereClause, scope, 'where');
    const shape = this.targetList(stmt.targetList ?? [], scope);
    const outputs = shape.columns;

    for (const g of stmt.groupClause ?? []) this.refuse('groupBy', this.sortKey(g, scope, outputs, 'group'));
    this.predicate(stmt.havingClause, scope, 'having');
    for (const w of stmt.windowClause ?? []) {
      const u = unwrap(w);
      if (u && u[0] === 'WindowDef') this.windowDef(u[1] as WindowDef, scope);
    }
    if (stmt.distinctClause) {
      const exprs = stmt.distinctClause.filter((d) => unwrap(d) !== undefined);
      if (exprs.length === 0) this.refuse('distinct', outputs ? wholeOf(outputs) : shape.whole);
      for (const d of exprs) this.refuse('distinctOn', this.sortKey(d, scope, outputs, 'order'));
    }
    for (const s of stmt.sortClause ?? []) {
      const u = unwrap(s);
      const node = u && u[0] === 'SortBy' ? (u[1] as SortBy).node : s;
      this.refuse('orderBy', this.sortKey(node, scope, outputs, 'order'));
    }
    this.predicate(stmt.limitCount, scope, 'limit');
    this.predicate(stmt.limitOffset, scope, 'offset');
    return shape;
  }

  /** An ORDER BY / GROUP BY / DISTINCT ON key: an output position, an output name, or an expression. */
  protected sortKey(n: Node | undefined, scope: Scope, outputs: Column[] | undefined, _kind: 'order' | 'group'): Lineage {
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

  protected resolvesAsColumn(name: string, scope: Scope): boolean {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      for (const r of s.rels) if (!r.qualifiedOnly && (!r.columns || r.columns.some((c) => c.name === name))) return true;
    }
    return false;
  }

  protected setOperation(stmt: SelectStmt, scope: Scope): Shape {
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
      this.refuse('setOperation', shape.whole, op);
    }
    if (stmt.sortClause || stmt.limitCount || stmt.limitOffset) {
      const resultScope = new Scope(scope.parent, scope);
      const rel: Rel = { refname: undefined, columns: shape.columns, whole: shape.whole, hasSystemColumns: false };
      resultScope.rels.push(rel);
      resultScope.items.push({ rels: [rel], star: shape.columns });
      for (const s of stmt.sortClause ?? []) {
        const u = unwrap(s);
        const node = u && u[0] === 'SortBy' ? (u[1] as SortBy).node : s;
        this.refuse('orderBy', this.sortKey(node, resultScope, shape.columns, 'order'));
      }
      this.predicate(stmt.limitCount, resultScope, 'limit');
      this.predicate(stmt.limitOffset, resultScope, 'offset');
    }
    return shape;
  }

  protected values(lists: Node[], scope: Scope): Shape {
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

  protected targetList(list: Node[], scope: Scope): Shape {
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

  protected expandStar(qualifier: string[], scope: Scope): Shape {
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
}
