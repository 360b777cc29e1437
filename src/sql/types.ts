import type { Node, RawStmt } from '@pgsql/types';
import type { Reason } from '../errors.js';

export type StatementKind =
  | 'read'
  | 'write'
  | 'ddl'
  | 'admin'
  | 'transaction'
  | 'session'
  | 'procedural'
  | 'utility';

/** A table or function name as the parser decoded it (quoted and U&"…" identifiers resolved). */
export interface QualifiedName {
  schema?: string;
  name: string;
}

/** The names a piece of SQL reaches (reach.ts): functions, operators, relations and cast target types. */
export interface CodeReach {
  functions: QualifiedName[];
  operators: QualifiedName[];
  relations: QualifiedName[];
  /** type names as the server reads them (`"schema"."name"`), for to_regtype */
  types: string[];
}

/** What the analyzer learned from one statement; a pure function of the SQL text. */
export interface Analysis {
  /** SHA-256 hex of the exact SQL text: what an approval binds to */
  sqlHash: string;
  /** the top-level node type, e.g. `SelectStmt`, `UpdateStmt` */
  command: string;
  kind: StatementKind;
  tablesRead: QualifiedName[];
  tablesWritten: QualifiedName[];
  /** every function called anywhere in the statement (select list, FROM, WHERE, defaults…) */
  functions: QualifiedName[];
  /** every operator named anywhere (expressions, ANY/ALL subqueries, ORDER BY … USING): user-defined ones run user code */
  operators: QualifiedName[];
  /** risk flags found by the analyzer; policy turns them into deny/approval reasons */
  risks: Reason[];
  /** UPDATE/DELETE: whether a WHERE clause is present */
  hasWhere?: boolean;
  /**
   * Whether the statement changes rows in bulk (UPDATE, DELETE, MERGE, INSERT … SELECT, also inside
   * CTEs or under EXPLAIN ANALYZE): the pipeline then calls `estimateAffectedRows` and passes the
   * estimate to `decide`.
   */
  needsRowEstimate?: boolean;
  /**
   * Every name the statement reaches, collected once with the analysis: the volatility check
   * (db/catalog/functions.ts, volatileInReach) and the masking plan's catalog look-ups start from it
   * instead of walking the tree again.
   */
  reach: CodeReach;
  /** the single parsed statement, for the stages that walk the AST (lineage, masking) */
  stmt: RawStmt;
  root: Node;
}
