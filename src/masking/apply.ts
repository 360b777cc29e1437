/**
 * Masking a result, after execution: each column's sources are its server origin (table OID and
 * column number from RowDescription, views traced to their base columns) together with its AST
 * lineage; masked sources choose a masker; every other scanned column goes through the content
 * detectors. Rows are masked in place so no unmasked copy outlives this call.
 */
import { BrokerError } from '../errors.js';
import type { Cell, ResultField } from '../db/types.js';
import { typeName as builtinTypeName } from '../db/values.js';
import type { MaskerName } from '../policy/schema.js';
import { ContentScanner, scannedType } from './detectors.js';
import { columnValue, eitherOf } from './lineage/algebra.js';
import { chooseMasker, nullCellFor, REPLACEMENT_TEXT_TYPES } from './rules/index.js';
import { maskerFor, type CellMasker } from './maskers.js';
import { traceRelation } from './plan.js';
import type { ColumnKey, Lineage, ResultColumn, MaskedResult, MaskPlan } from './types.js';
import type { ColumnCatalog, RelationInfo } from '../db/catalog/relations.js';

const originKey = (f: ResultField) => `${f.tableID}:${f.columnID}`;

/** Lineage of each column of a view, by attnum, traced through its definition. */
async function viewColumns(info: RelationInfo, plan: MaskPlan, catalog: ColumnCatalog): Promise<Map<number, Lineage>> {
  const out = new Map<number, Lineage>();
  const outputs = await traceRelation(info, catalog, plan.rules);
  if (!outputs || outputs.length !== info.columns.length) return out;
  info.columns.forEach((c, i) => out.set(c.attnum, outputs[i]!.lineage));
  return out;
}

/**
 * Resolve the server origins of a result's columns (cached catalog look-ups) and the names of
 * non-builtin types. Call between execution and `applyMasking`.
 */
export async function prepareOrigins(plan: MaskPlan, fields: readonly ResultField[]): Promise<void> {
  if (plan.exempt) return;
  if (plan.resolveOrigins) return plan.resolveOrigins(plan, fields);
  const catalog = plan.catalog;
  const unknownTypes = fields.filter((f) => f.typeName === undefined).map((f) => f.dataTypeID).filter((t) => builtinTypeName(t) === 'unknown' && !plan.typeNames.has(t));
  if (catalog && unknownTypes.length > 0) {
    for (const [oid, name] of await catalog.typeNames(unknownTypes)) plan.typeNames.set(oid, name);
  }
  // Without rules, origins decide nothing (detectors look at content only).
  if (plan.rules.size === 0) return;
  const wanted = fields.filter((f) => f.tableID !== 0 && !plan.origins.has(originKey(f)));
  if (wanted.length === 0) return;
  const relations = catalog ? await catalog.relationsByOid(wanted.map((f) => f.tableID)) : new Map<number, RelationInfo>();
  const viewCache = new Map<number, Map<number, Lineage>>();
  for (const f of wanted) {
    const info = relations.get(f.tableID);
    const col = info?.columns.find((c) => c.attnum === f.columnID);
    let lineage: Lineage | undefined;
    if (info && col) {
      if (info.kind === 'v' || info.kind === 'm') {
        let cols = viewCache.get(info.oid);
        if (!cols) {
          cols = await viewColumns(info, plan, catalog!);
          viewCache.set(info.oid, cols);
        }
        const traced = cols.get(col.attnum);
        lineage = traced ? eitherOf(traced, columnValue(col.keys)) : undefined;
      } else {
        lineage = columnValue(col.keys);
      }
    }
    // A relation or column the catalog does not know (dropped meanwhile): fail closed.
    plan.origins.set(originKey(f), lineage ?? { sources: new Set([...plan.reach.sources, ...plan.rules.keys()]), identity: false });
  }
}

export { chooseMasker };

function typeNameOf(plan: MaskPlan, field: ResultField): string {
  if (field.typeName !== undefined) return field.typeName;
  const oid = field.dataTypeID;
  const builtin = builtinTypeName(oid);
  return builtin !== 'unknown' ? builtin : (plan.typeNames.get(oid) ?? 'unknown');
}

/** Whether the planned outputs line up with the server's columns (count and every name the walker is sure of). */
function aligned(plan: MaskPlan, fields: readonly ResultField[]): boolean {
  const outputs = plan.outputs;
  if (!outputs || outputs.length !== fields.length) return false;
  return outputs.every((o, i) => o.name === undefined || o.name === fields[i]!.name);
}

/** The sources of one result column: planned lineage and server origin together. */
function columnLineage(plan: MaskPlan, fields: readonly ResultField[], i: number, isAligned: boolean): Lineage {
  const f = fields[i]!;
  let origin: Lineage | undefined;
  if (f.tableID !== 0) {
    origin = plan.origins.get(originKey(f));
    if (!origin) throw new BrokerError('internal_error', 'Masking needs the result origins first: call prepareOrigins(plan, fields) before applyMasking.');
  }
  if (isAligned) return origin ? eitherOf(plan.outputs![i]!.lineage, origin) : plan.outputs![i]!.lineage;
  // Positions unknown: a column with a server origin is exactly that column; anything else fails closed.
  return origin ?? plan.reach;
}

interface ColumnJob {
  index: number;
  fn: CellMasker;
  /** what a NULL cell becomes: NULL itself, or the masker's constant output */
  nullCell: Cell;
}

export function applyMasking(plan: MaskPlan, fields: readonly ResultField[], rows: Cell[][]): MaskedResult {
  const columns: ResultColumn[] = fields.map((f) => ({ name: f.name, type: typeNameOf(plan, f), masked: false }));
  if (plan.exempt) return { columns, rows };

  const isAligned = aligned(plan, fields);
  const maskJobs: ColumnJob[] = [];
  const scanJobs: { index: number; scanner: ContentScanner }[] = [];
  for (let i = 0; i < fields.length; i++) {
    const lineage: Lineage = plan.rules.size > 0 ? columnLineage(plan, fields, i, isAligned) : { sources: new Set<ColumnKey>(), identity: false };
    const maskers: MaskerName[] = [];
    for (const s of lineage.sources) {
      const m = plan.rules.get(s);
      if (m !== undefined) maskers.push(m);
    }
    const column = columns[i]!;
    if (maskers.length > 0) {
      const chosen = maskerFor(chooseMasker(maskers, lineage.identity), plan.hashKey);
      maskJobs.push({ index: i, fn: chosen.fn, nullCell: nullCellFor(chosen.name, lineage.identity) });
      column.masked = chosen.name;
      if (chosen.name !== 'null' && !REPLACEMENT_TEXT_TYPES.has(column.type)) column.type = 'text';
    } else if (plan.detectors.length > 0 && scannedType(fields[i]!.dataTypeID)) {
      scanJobs.push({ index: i, scanner: new ContentScanner(plan.detectors) });
    }
  }

  // Column by column: one masker per tight loop.
  const n = rows.length;
  for (const { index, fn, nullCell } of maskJobs) {
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      const v = row[index];
      row[index] = v === null || v === undefined ? nullCell : fn(v);
    }
  }
  for (const { index, scanner } of scanJobs) {
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      const v = row[index];
      if (v === null || v === undefined) continue;
      const out = scanner.scrub(v);
      if (out !== v) row[index] = out;
    }
    if (scanner.hit) {
      const column = columns[index]!;
      column.masked = scanner.hit;
      if (!REPLACEMENT_TEXT_TYPES.has(column.type)) column.type = 'text';
    }
  }
  return { columns, rows };
}

/** `prepareOrigins` then `applyMasking`, for callers that do not need the two steps apart. */
export async function maskResult(plan: MaskPlan, fields: readonly ResultField[], rows: Cell[][]): Promise<MaskedResult> {
  await prepareOrigins(plan, fields);
  return applyMasking(plan, fields, rows);
}
