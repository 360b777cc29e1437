/**
 * The parts of the MySQL engine and what each promises the others. MySQL 8 and MariaDB 10.11+
 * (Azure Database for MySQL Flexible Server is MySQL 8): the driver is mysql2, the parser
 * node-sql-parser (MySQL dialect). node-sql-parser is approximate, so every part fails closed: what
 * the analysis cannot classify for sure is refused, what the masking cannot trace is masked.
 *
 *   analyze.ts   SQL text → MysqlAnalysis (pure; a lexical guard before the parser)
 *   functions.ts the built-in functions a read may call; which calls a statement may not make
 *   catalog.ts   information_schema as one connection's user sees it (cached, invalidated after DDL)
 *   execute.ts   mysql2 pools, one statement per round trip, caps, read-only transactions, reset
 *   masking.ts   lineage of each output column over the AST → the engine-neutral MaskPlan
 */
import type { EngineAnalysis } from '../types.js';
import type { QualifiedName } from '../../sql/types.js';
import type { SchemaRelation } from '../../db/catalog/schema.js';

/** What the analysis of one MySQL statement found. `root` is node-sql-parser's AST of it. */
export interface MysqlAnalysis extends EngineAnalysis {
  readonly engine: 'mysql';
  /** the number of `?` placeholders outside strings, identifiers and comments */
  readonly placeholders: number;
}

/** A table or view as information_schema describes it to the connection's user. */
export interface MysqlRelation {
  /** the database (MySQL's "schema") */
  schema: string;
  name: string;
  kind: 'table' | 'view';
  /** column names in ordinal order (exact spelling) */
  columns: string[];
  /** views: the definition as information_schema.VIEWS holds it (its origin columns are traced from it) */
  viewDefinition?: string;
}

/** A stored function as information_schema.ROUTINES describes it. */
export interface MysqlRoutine {
  schema: string;
  name: string;
  deterministic: boolean;
  /** SQL_DATA_ACCESS: CONTAINS SQL, NO SQL, READS SQL DATA, MODIFIES SQL DATA */
  dataAccess: string;
}

/** What the MySQL parts ask of the database's catalog (catalog.ts builds one per connection and user). */
export interface MysqlCatalog {
  /** the connection's default database: unqualified names resolve in it */
  readonly defaultSchema: string;
  /** A relation by name (schema defaults to `defaultSchema`); undefined when the user cannot see one. */
  relation(name: QualifiedName): Promise<MysqlRelation | undefined>;
  /** Stored functions among the names (built-ins are not routines: absent from the answer). */
  routines(names: readonly QualifiedName[]): Promise<MysqlRoutine[]>;
  /** The schema listing in the engine-neutral shape (oid: a number stable for the catalog generation). */
  schema(): Promise<readonly SchemaRelation[]>;
  /** Forget every cached answer (after DDL). */
  invalidate(): void;
  /** Changes whenever answers may change. */
  readonly generation: number;
}
