/** The least a catalog look-up or an EXPLAIN needs: something that runs one parameterised query. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** A result column as the server described it (RowDescription). */
export interface ResultField {
  name: string;
  /** type OID */
  dataTypeID: number;
  /** OID of the table the column comes from; 0 for expressions */
  tableID: number;
  /** attribute number in that table; 0 for expressions */
  columnID: number;
  /**
   * Engines whose result metadata names the origin instead of numbering it (MySQL: db, orgTable,
   * orgName). tableID/columnID are then numbers local to the result that key it.
   */
  origin?: { schema: string; table: string; column: string };
  /** the engine's own type name when `dataTypeID` is only the closest PostgreSQL type (MySQL) */
  typeName?: string;
}

/** Cells are the server's text representation (no client-side type parsing), or null. */
export type Cell = string | null;

export interface ExecutionResult {
  fields: ResultField[];
  rows: Cell[][];
  /** rows returned (after the cap) for reads; rows affected for writes */
  rowCount: number;
  truncated: boolean;
  /** the command tag, e.g. SELECT, UPDATE */
  command: string;
  durationMs: number;
}

/** What a database error may tell the agent, before sanitization. */
export interface DatabaseErrorInfo {
  sqlstate?: string;
  message: string;
  detail?: string;
  hint?: string;
  /** what the pipeline answers differently: the statement ran past its time limit, or wrote in a read-only transaction */
  kind?: 'timeout' | 'read_only';
}
