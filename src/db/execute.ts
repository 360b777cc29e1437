import pg from 'pg';
import { CappedRead, type Preamble } from './capped-read.js';
import { IDENTITY_SQL, identityValues, type DbIdentity } from './identity.js';
import { BrokerError } from '../errors.js';
import type { Cell, DatabaseErrorInfo, ExecutionResult, ResultField } from './types.js';
import type { PoolHandle } from './pools.js';
import { withPasswordRetry } from './credentials.js';
import { queueReset, type SessionReset } from './session-reset.js';
import { UNAVAILABLE_SQLSTATE } from './errors.js';


export interface StatementRequest {
  sql: string;
  params: unknown[];
  /** rows returned at most; one more is read to know whether the result was truncated */
  maxRows: number;
  /**
   * reads: the longest single row accepted (a longer one ends the connection before it is
   * buffered). The byte cap of the whole result is the caller's, on what the agent receives (capBytes).
   */
  maxRowBytes?: number;
  /** reads stream through a cursor and stop at the cap; writes run to completion */
  mode: 'read' | 'write';
  /** aborting drops the connection; the server then cancels the statement (client_connection_check_interval) */
  signal?: AbortSignal;
  /** writes: run in a transaction and roll back (AffectedRowsOverLimit) when more rows change */
  maxAffectedRows?: number;
  /** who the statement runs for: set transaction-locally in the statement's own round trip (identity.ts) */
  identity?: DbIdentity;
}

/** A write changed more rows than it may without approval; it was rolled back. */
export class AffectedRowsOverLimit extends Error {
  constructor(
    readonly affectedRows: number,
    readonly limit: number,
  ) {
    super(`${affectedRows} rows affected, over the limit of ${limit}; rolled back`);
    this.name = 'AffectedRowsOverLimit';
  }
}

/** A statement the database refused; the message is sanitized by the caller before anyone sees it. */
export class DatabaseFailure extends Error {
  constructor(readonly info: DatabaseErrorInfo) {
    super(info.message);
    this.name = 'DatabaseFailure';
  }
}


function isDatabaseError(e: unknown): e is pg.DatabaseError {
  return e instanceof pg.DatabaseError;
}

function toFailure(e: unknown): Error {
  if (e instanceof BrokerError || e instanceof AffectedRowsOverLimit) return e;
  if (isDatabaseError(e) && e.code && !UNAVAILABLE_SQLSTATE.test(e.code)) {
    const info: DatabaseErrorInfo = { sqlstate: e.code, message: e.message };
    if (e.detail) info.detail = e.detail;
    if (e.hint) info.hint = e.hint;
    return new DatabaseFailure(info);
  }
  return new BrokerError('dependency_unavailable', 'The database cannot be reached right now; nothing was executed. Retry in a moment.', { cause: e });
}


/**
 * Cut rows so the result stays under `maxBytes` of cell text. Applied by the pipeline to the cells
 * the agent receives (after masking): counted on the server's text, where the cut falls would tell
 * how long a masked value is.
 */
export function capBytes(rows: Cell[][], maxBytes: number): { rows: Cell[][]; cut: boolean } {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (const cell of row) if (cell !== null) bytes += cell.length;
    if (bytes > maxBytes) return { rows: rows.slice(0, i), cut: true };
  }
  return { rows, cut: false };
}


export async function executeStatement(handle: PoolHandle, req: StatementRequest): Promise<ExecutionResult> {
  const started = performance.now();
  let client: pg.PoolClient;
  try {
    client = await withPasswordRetry(handle.credentials, () => handle.pool.connect());
  } catch (e) {
    throw new BrokerError('dependency_unavailable', 'The database cannot be reached right now; nothing was executed. Retry in a moment.', { cause: e });
  }
  // A checked-out client has no 'error' listener (pg-pool removes its idle one): a connection that
  // dies mid-statement (server restart, network, the row size guard) would otherwise be an uncaught
  // 'error' event that ends the process. The statement itself gets the error through its query.
  const onClientError = (): void => {};
  client.on('error', onClientError);
  let broken: Error | undefined;
  const onAbort = () => {
    broken = new BrokerError('invalid_request', 'The request was abandoned; the statement was cancelled.');
    client.release(broken);
  };
  if (req.signal?.aborted) onAbort();
  else req.signal?.addEventListener('abort', onAbort, { once: true });
  // The session reset (session-reset.ts): pipelined behind the statement, awaited before release.
  let reset: SessionReset | undefined;
  try {
    if (broken) throw broken;
    const preamble: Preamble | undefined = req.identity ? { text: IDENTITY_SQL, values: identityValues(req.identity) } : undefined;
    let rows: Cell[][];
    let fields: ResultField[];
    let command: string;
    let affected: number | undefined;
    let more = false;
    if (req.mode === 'read') {
      // One round trip; the server stops at maxRows + 1 (the extra row says "truncated").
      const read = new CappedRead(req.sql, req.params, req.maxRows + 1, req.maxRowBytes, true, preamble);
      client.query(read as unknown as pg.QueryConfig);
      reset = queueReset(client, true);
      const r = await read.done.catch((e: unknown) => {
        if (!read.rowTooLarge) throw e;
        broken = new BrokerError(
          'query_failed',
          `A row of the result is larger than this profile allows (${req.maxRowBytes} bytes); nothing was returned. Select fewer or shorter columns.`,
          { cause: e },
        );
        client.release(broken);
        throw broken;
      });
      ({ fields, rows, command } = r);
      more = rows.length > req.maxRows;
      if (more) rows = rows.slice(0, req.maxRows);
    } else {
      const limit = req.maxAffectedRows;
      if (limit !== undefined) await client.query('begin');
      let result: { fields: ResultField[]; rows: Cell[][]; command: string; rowCount?: number };
      // The reset is queued right behind the statement's last message (the statement itself, or its
      // COMMIT/ROLLBACK): node-postgres sends it as soon as that answer arrives, with no await between.
      const end = (sql: 'commit' | 'rollback'): Promise<unknown> => {
        const ended = client.query(sql);
        reset = queueReset(client);
        return ended;
      };
      try {
        // Extended protocol: one statement, never split by the server's simple-query lexer; the
        // identity preamble in the same write and transaction; every row (a write runs to completion).
        const write = new CappedRead(req.sql, req.params, 0, Number.MAX_SAFE_INTEGER, false, preamble);
        client.query(write as unknown as pg.QueryConfig);
        if (limit === undefined) reset = queueReset(client);
        result = await write.done;
        if (limit !== undefined && (result.rowCount ?? 0) > limit) {
          await end('rollback');
          throw new AffectedRowsOverLimit(result.rowCount ?? 0, limit);
        }
        if (limit !== undefined) await end('commit');
      } catch (e) {
        if (limit !== undefined && reset === undefined) await end('rollback').catch(() => {});
        throw e;
      }
      fields = result.fields;
      command = result.command;
      affected = result.rowCount;
      rows = result.rows;
      more = rows.length > req.maxRows;
      if (more) rows = rows.slice(0, req.maxRows);
    }
    return {
      fields,
      rows,
      rowCount: req.mode === 'read' ? rows.length : (affected ?? rows.length),
      truncated: more,
      command,
      durationMs: performance.now() - started,
    };
  } catch (e) {
    throw broken ?? toFailure(e);
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    if (!broken) await releaseClean(client, reset);
    client.removeListener('error', onClientError);
  }
}

/**
 * Give the connection back only once its reset succeeded; a failed reset destroys it. Its outcome
 * does not change the statement's (that is already decided); the next request gets a clean
 * connection or a new one.
 */
async function releaseClean(client: pg.PoolClient, reset: SessionReset | undefined): Promise<void> {
  try {
    await (reset ?? queueReset(client)).done;
  } catch (e) {
    client.release(e instanceof Error ? e : new Error('the session reset failed'));
    return;
  }
  client.release();
}
