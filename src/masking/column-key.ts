/** A column as the catalog names it: `schema.table.column`, exact (case-sensitive) catalog names. */
export type ColumnKey = string;
