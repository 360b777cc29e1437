/**
 * Lineage by the AST: for every output column of a statement, the catalog columns whose values can
 * reach it, and the places where a masked value would leak by inference or by whether an error
 * comes back. What is refused, and why, is the rules module's (../rules/); the walk is split by the
 * part of a statement it reads (findings.ts describes the parts). This file: whole statements and
 * writes (a masked value copied into a column that reads back unmasked).
 *
 * The walker is synchronous: relations, view definitions and function facts are looked up before
 * (see ../plan.ts). Whatever it cannot trace gets the statement's fail-closed lineage: every column
 * of every relation the statement names, plus every masked column of the policy.
 */
import type { DeleteStmt, InsertStmt, MergeStmt, MergeWhenClause, Node, RangeVar, ResTarget, SelectStmt, UpdateStmt } from '@pgsql/types';
import type { RelationInfo } from '../../db/catalog/relations.js';
import type { Lineage } from '../types.js';
import { changed, NO_SOURCES } from './algebra.js';
import { truncateName, unwrap, type Body } from './parse-tree.js';
import { QueryWalker } from './queries.js';
import { Scope, wholeOf, type Rel, type Shape, type StatementLineage } from './scope.js';

export type { LineageEnv, StatementLineage } from './scope.js';

export class LineageWalker extends QueryWalker {
  trace(root: Node): StatementLineage {
    const shape = this.statement(root, undefined);
    const outputs = shape?.columns?.map((c) => ({ name: c.certainName ? truncateName(c.name) : undefined, lineage: c.lineage }));
    return { outputs, reasons: this.reasons, unknownUsed: this.unknownUsed };
  }

  // ---- statements ----------------------------------------------------------------------------

  protected statement(root: Node, scope: Scope | undefined): Shape | undefined {
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

  // ---- writes --------------------------------------------------------------------------------

  /** The table a write changes (never a CTE of the same name). */
  protected targetRel(rv: RangeVar | undefined): { rel: Rel; info: RelationInfo | null } {
    const info = rv && rv.catalogname === undefined ? (this.env.relation(rv.schemaname === undefined ? { name: rv.relname ?? '' } : { schema: rv.schemaname, name: rv.relname ?? '' }) ?? null) : null;
    if (!info) {
      return { rel: { refname: rv?.alias?.aliasname ?? rv?.relname, columns: undefined, whole: this.failClosed(), hasSystemColumns: false }, info };
    }
    const columns = this.relationColumns(info);
    const rel: Rel = { refname: rv?.alias?.aliasname ?? info.name, columns, whole: wholeOf(columns), hasSystemColumns: info.kind !== 'v' };
    if (rv?.alias === undefined) rel.schema = info.schema;
    return { rel, info };
  }

  protected targetColumn(rel: Rel, info: RelationInfo | null, name: string): { label: string; lineage: Lineage } {
    const col = rel.columns?.find((c) => c.name === name);
    return { label: info ? `${info.schema}.${info.name}.${name}` : name, lineage: col?.lineage ?? NO_SOURCES };
  }

  protected returning(body: Body, scope: Scope): Shape {
    const clause = body.returningClause as { exprs?: Node[] } | undefined;
    const list = clause?.exprs ?? (body.returningList as Node[] | undefined);
    if (!list) return { columns: [], whole: NO_SOURCES };
    return this.targetList(list, scope);
  }

  protected addTarget(scope: Scope, rel: Rel): void {
    scope.rels.push(rel);
    scope.items.push({ rels: [rel], star: rel.columns });
    // RETURNING old.* / new.* (PostgreSQL 18)
    scope.rels.push({ ...rel, refname: 'old', qualifiedOnly: true }, { ...rel, refname: 'new', qualifiedOnly: true });
  }

  protected insert(s: InsertStmt, outer: Scope | undefined): Shape {
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
      this.predicate(oc.whereClause, scope, 'onConflictWhere');
      this.assignments(oc.targetList ?? [], scope, rel, info);
    }
    return this.returning(s as unknown as Body, scope);
  }

  protected assignments(list: Node[], scope: Scope, rel: Rel, info: RelationInfo | null): void {
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

  protected update(s: UpdateStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel, info } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    for (const item of s.fromClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.whereClause, scope, 'where');
    this.assignments(s.targetList ?? [], scope, rel, info);
    return this.returning(s as unknown as Body, scope);
  }

  protected delete(s: DeleteStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    for (const item of s.usingClause ?? []) {
      const fi = this.fromItem(item, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.whereClause, scope, 'where');
    return this.returning(s as unknown as Body, scope);
  }

  protected merge(s: MergeStmt, outer: Scope | undefined): Shape {
    const scope = new Scope(outer, outer);
    this.withClause(s.withClause, scope);
    const { rel, info } = this.targetRel(s.relation);
    this.addTarget(scope, rel);
    if (s.sourceRelation) {
      const fi = this.fromItem(s.sourceRelation, scope);
      scope.items.push(fi);
      scope.rels.push(...fi.rels);
    }
    this.predicate(s.joinCondition, scope, 'mergeOn');
    for (const w of s.mergeWhenClauses ?? []) {
      const u = unwrap(w);
      if (!u || u[0] !== 'MergeWhenClause') continue;
      const mw = u[1] as MergeWhenClause;
      this.predicate(mw.condition, scope, 'mergeWhen');
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
}
