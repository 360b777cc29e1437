import type { DetectorName, MaskerName } from '../policy/schema.js';
import type { Cell, ResultField } from '../db/types.js';
import type { ColumnCatalog, ColumnKey } from '../db/catalog/relations.js';

/** A column as the catalog names it: `schema.table.column`, exact (case-sensitive) catalog names. */
export type { ColumnKey } from '../db/catalog/relations.js';

/** What the masking stage needs from the policy for one principal. */
export interface MaskingPolicyInput {
  rules: { column: string; with: MaskerName }[];
  detectors: DetectorName[];
  /** the principal may see every value in clear (claims matched `masking.exempt`) */
  exempt: boolean;
  /** HMAC key of the `hash` masker (from the secret provider); without it `hash` degrades to `redact` */
  hashKey?: Uint8Array;
}

/**
 * Where a value comes from: every catalog column whose content can reach it. Policy-independent on
 * purpose (masked or not is decided by intersecting with the rules), so view lineage can be reused.
 */
export interface Lineage {
  readonly sources: ReadonlySet<ColumnKey>;
  /**
   * The value is one source column's value unchanged (alias, pass-through sub-query or CTE, view,
   * UNION ALL arm, cast to text). Only then may a shape-keeping masker (`last4`, `email`) apply: on a
   * derived value (`reverse(card)`, `substr(email, 2)`) it would reveal other parts of the secret.
   */
  readonly identity: boolean;
  /**
   * How many copies of masked bytes the value may hold at most (1 when absent): concatenations add
   * up, escaping functions double. Bounded, so nesting cannot amplify a value until the server's
   * size limit or the statement timeout answers how long it is.
   */
  readonly weight?: number;
}

/** One output column of the planned statement, by position. */
export interface PlannedColumn {
  /** the name the server will give it, when the walker can know it for sure (to detect misalignment) */
  name: string | undefined;
  lineage: Lineage;
}

export interface MaskPlan {
  readonly exempt: boolean;
  /** masked columns → masker, after matching the policy's rule names */
  readonly rules: ReadonlyMap<ColumnKey, MaskerName>;
  readonly detectors: readonly DetectorName[];
  readonly hashKey: Uint8Array | undefined;
  /** lineage of each output column by position; undefined when positions cannot be known (then: origins, else fail closed) */
  readonly outputs: readonly PlannedColumn[] | undefined;
  /** every column the statement can reach (relations it names, views expanded); the fail-closed lineage */
  readonly reach: Lineage;
  /** a masked column is within reach: errors are sanitized strictly */
  readonly maskedInReach: boolean;
  /** PostgreSQL: the column catalog that resolves server origins (table OID, attnum) and type names */
  readonly catalog?: ColumnCatalog;
  /**
   * Engines whose result metadata names the origin (MySQL: db, orgTable, orgName) resolve origins
   * themselves: `prepareOrigins` calls this instead of reading `catalog`. Without either, every
   * server origin gets the fail-closed lineage.
   */
  readonly resolveOrigins?: (plan: MaskPlan, fields: readonly ResultField[]) => Promise<void>;
  /** filled by `prepareOrigins`: `${tableID}:${columnID}` → lineage of that server origin */
  readonly origins: Map<string, Lineage>;
  /** filled by `prepareOrigins`: type OID → type name, for types that are not builtin */
  readonly typeNames: Map<number, string>;
}

/**
 * One column of a result as the agent receives it (REST, MCP, CLI) and the audit records it: the
 * one name for this shape (the pipeline's `ColumnOut` is this type).
 */
export interface ResultColumn {
  name: string;
  /** type name as the catalog spells it, e.g. `text`, `int4`; `text` when the masker replaced a non-text value with text */
  type: string;
  /** false, or the masker (rule) or detector that changed values of this column */
  masked: false | string;
}

export interface MaskedResult {
  columns: ResultColumn[];
  /** the same row arrays, masked in place */
  rows: Cell[][];
}
