/**
 * What the lineage walker keeps while it walks: the names in scope (tables, views, sub-queries,
 * CTEs, function results, join aliases) and the shape of each query's result.
 */
import type { Node } from '@pgsql/types';
import type { Reason } from '../../errors.js';
import type { MaskerName } from '../../policy/schema.js';
import type { FunctionFacts, OperatorFacts, RelationInfo } from '../../db/catalog/relations.js';
import type { ColumnKey, Lineage, PlannedColumn } from '../types.js';
import { derived } from './algebra.js';
import { stringsOf } from './parse-tree.js';

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

export interface Column {
  name: string;
  lineage: Lineage;
  /** the server gives this column exactly this name (for the alignment check) */
  certainName: boolean;
}

/** Something a query can refer to by name: a table, view, sub-query, CTE, function result or join alias. */
export interface Rel {
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
export interface FromItem {
  rels: Rel[];
  star: Column[] | undefined;
}

/** The result shape of a SELECT (or VALUES, or a set operation). */
export interface Shape {
  columns: Column[] | undefined;
  whole: Lineage;
}

export interface CteDef {
  shape: Shape;
}

export class Scope {
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

export function renamed(columns: Column[] | undefined, colnames: unknown): Column[] | undefined {
  const names = stringsOf(colnames);
  if (!columns || names.length === 0) return columns;
  return columns.map((c, i) => (i < names.length ? { ...c, name: names[i]!, certainName: true } : c));
}

export function wholeOf(columns: readonly Column[]): Lineage {
  return derived(...columns.map((c) => c.lineage));
}

