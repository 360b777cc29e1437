/**
 * Masking that follows the data, not the column name. The pipeline calls, per request:
 *   planMasking (before execution: lineage, inference refusals) →
 *   prepareOrigins (after execution: server origins of the result columns) →
 *   applyMasking (synchronous, in place) — or sanitizeDatabaseError when the statement failed.
 */
export { createColumnCatalog, type ColumnCatalog, type RelationInfo, type RelationColumn, type FunctionFacts } from './catalog.js';
export { planMasking } from './plan.js';
export { prepareOrigins, applyMasking, maskResult, chooseMasker } from './apply.js';
export { sanitizeDatabaseError } from './sanitize-error.js';
export { ContentScanner, luhnValid } from './detectors.js';
export { maskerFor, REDACTED } from './maskers.js';
export type { MaskingPolicyInput, MaskPlan, MaskedResult, MaskedColumn, Lineage, ColumnKey, PlannedColumn } from './types.js';
