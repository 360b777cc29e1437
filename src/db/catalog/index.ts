/**
 * The catalog of one connection as one database role sees it: the one place the broker reads the
 * database's own description of itself, for every stage that needs it.
 * - `functions`: volatility of functions, of the functions behind operators and casts, and of the
 *   DBA's code a statement reaches (views, SQL function bodies, defaults, domains, policies);
 * - `relations`: what a table name resolves to, relations and columns (with inheritance
 *   relatives), view definitions, function and operator facts, implicit casts, type names;
 * - `schema()`: the listing agents discover (readable relations, columns, keys, row estimates).
 *
 * One object per connection and role (ConnectionRuntime keeps them), one invalidation for all of
 * it (`invalidate()`, after DDL the broker ran), and one generation: the listing is kept exactly as
 * long as the relation answers are (their TTL epoch, see relations.ts), so what discovery shows and
 * what the masking plan meets change together.
 *
 * PostgreSQL only today; a second engine provides its own object of this shape (engine/types.ts).
 */
import type { Queryable } from '../types.js';
import { createFunctionCatalog, type FunctionCatalog, type FunctionCatalogOptions } from './functions.js';
import { createColumnCatalog, type ColumnCatalog } from './relations.js';
import { readSchema, type SchemaRelation } from './schema.js';

export type { FunctionCatalog } from './functions.js';
export type { ColumnCatalog, ColumnKey, RelationInfo, RelationColumn, FunctionFacts, OperatorFacts } from './relations.js';
export type { SchemaRelation, SchemaColumn, ForeignKey, RelationKind, TablePrivilege } from './schema.js';

export interface ConnectionCatalog {
  readonly functions: FunctionCatalog;
  readonly relations: ColumnCatalog;
  /** The schema listing (cached for the current generation; a failed read is not kept). */
  schema(): Promise<readonly SchemaRelation[]>;
  /** Forget every cached answer, of every part (after DDL). */
  invalidate(): void;
  /** Changes whenever answers may change (invalidate, TTL): see ColumnCatalog.generation. */
  readonly generation: number;
}

export interface ConnectionCatalogOptions {
  /** how long relation answers and the schema listing stay valid; default 60 s */
  ttlMs?: number;
  functions?: FunctionCatalogOptions;
  now?: () => number;
}

/**
 * `asRole` runs look-ups as the role (names resolve on its search_path); `asLogin` runs the schema
 * listing on the login role, with privileges checked for `role` (null: the login role itself).
 */
export function createConnectionCatalog(db: { asRole: Queryable; asLogin: Queryable; role: string | null }, options: ConnectionCatalogOptions = {}): ConnectionCatalog {
  const clock = options.now === undefined ? {} : { now: options.now };
  const functions = createFunctionCatalog(db.asRole, { ...clock, ...options.functions });
  const relations = createColumnCatalog(db.asRole, { ...clock, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) });
  let listing: { generation: number; relations: Promise<readonly SchemaRelation[]> } | undefined;

  async function read(): Promise<readonly SchemaRelation[]> {
    const found = await readSchema(db.asLogin, db.role);
    // Fetch the listed relations' columns and view definitions in one round: the masking flags of
    // the listing are traced from them next.
    await relations.relationsByOid(found.map((r) => r.oid));
    return found;
  }

  return {
    functions,
    relations,
    schema() {
      const generation = relations.generation;
      if (listing !== undefined && listing.generation === generation) return listing.relations;
      const entry = { generation, relations: read() };
      listing = entry;
      entry.relations.catch(() => {
        if (listing === entry) listing = undefined;
      });
      return entry.relations;
    },
    invalidate() {
      functions.invalidate();
      relations.invalidate();
      listing = undefined;
    },
    get generation() {
      return relations.generation;
    },
  };
}
