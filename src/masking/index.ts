/**
 * Masking that follows the data, not the column name. The pipeline calls, per request:
 *   planMasking      before execution: AST lineage of every output column, and refusal of
 *                    inference (`masked_column_in_predicate`), of expressions that can fail on a
 *                    masked value (`masked_column_in_fallible_expression`), of writes that would copy a masked
 *                    value into a clear column (`masked_column_in_write`) and of statements too
 *                    deep to trace (`masked_lineage_unknown`). Repeated statements are served
 *                    from a bounded cache per catalog (plan-cache.ts), valid for one catalog
 *                    generation; every call returns a fresh plan object (its own origins);
 *   prepareOrigins   after execution: server origins (table OID, attnum) of the result columns;
 *   applyMasking     synchronous, masks the rows in place;
 *   sanitizeDatabaseError  instead, when the statement failed.
 *
 * Decisions:
 * - A rule's own masker applies to the column's unchanged value (aliases, sub-queries, CTEs, views,
 *   UNION ALL arms, casts to text). A value computed from masked columns (functions, operators,
 *   aggregates, whole rows) is masked whole: `null` keeps its masker, every other rule becomes
 *   `redact` (`last4` of `reverse(card)` would reveal the first digits; `hash` of `regexp_match(x,
 *   '^4')` would split rows into classes). Values drawn from columns with different maskers get
 *   `redact` (`null` if any of them is `null`).
 * - NULL: on the plain, unchanged masked column NULL stays NULL (it says only that nothing is
 *   stored). On a derived value NULL may mean "a guess failed", so it is masked like any value.
 * - A masked value may flow only through expressions that cannot fail whatever it is (allow-list in
 *   rules/total-functions.ts); anything else is refused as `masked_column_in_fallible_expression`,
 *   so whether an error comes back never depends on it. What a masked value may flow into, and
 *   why, is stated in one place: rules/index.ts. count(DISTINCT …) over masked lineage is refused like SELECT
 *   DISTINCT; count(x) is clear only for the column's own, unchanged value.
 * - Errors with a masked column in reach (or no plan) never carry the server's text: a fixed sentence
 *   per SQLSTATE class, the SQLSTATE, no DETAIL/HINT.
 * - A masked non-text value (`length(ssn)` → int4) becomes the text `[redacted]` and its column is
 *   reported with type `text`; `null` keeps the type.
 * - Unknown lineage (user functions, unresolvable names, statements like EXECUTE, positions that
 *   cannot be known) gets every column in reach plus every masked column of the policy: fail closed.
 * - An exempt principal gets a pass-through plan: no catalog look-up, no masking, no detectors.
 * - MySQL plans (src/engine/mysql/masking.ts) are the same MaskPlan; their server origins are names
 *   (db, orgTable, orgName), resolved by the plan's own `resolveOrigins`, which `prepareOrigins` calls.
 */
export { createColumnCatalog, type ColumnCatalog, type RelationInfo, type RelationColumn, type FunctionFacts } from '../db/catalog/relations.js';
export { planMasking } from './plan.js';
export { prepareOrigins, applyMasking, maskResult, chooseMasker } from './apply.js';
export { sanitizeDatabaseError, describeDatabaseError, sqlstateWords } from './sanitize-error.js';
export { maskedColumnsOf } from './schema-flags.js';
export { ContentScanner, luhnValid } from './detectors.js';
export { maskerFor, REDACTED } from './maskers.js';
export type { MaskingPolicyInput, MaskPlan, MaskedResult, ResultColumn, Lineage, ColumnKey, PlannedColumn } from './types.js';
