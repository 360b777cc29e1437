import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { Cell, ResultField } from './types.js';
import { guardRowSize, type RowSizeGuard } from './row-size-guard.js';
import { writeReset } from './session-reset.js';

const require = createRequire(import.meta.url);
// node-postgres' own conversion of parameter values to wire text (what client.query uses).
const { prepareValue } = require('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown };

/** The part of node-postgres' Connection a submittable query drives. */
interface WireConnection {
  parse(msg: { text: string }): void;
  bind(msg: { values: unknown[] }): void;
  describe(msg: { type: 'P'; name: string }): void;
  execute(msg: { portal: string; rows: number }): void;
  sync(): void;
  query(text: string): void;
  /** the socket: corked so the messages leave in one write, as node-postgres' own Query does */
  stream: Duplex;
}

export interface CappedReadResult {
  fields: ResultField[];
  rows: Cell[][];
  /** the server stopped at the cap: more rows exist */
  suspended: boolean;
  command: string;
  /** the count of the command tag (rows changed by a write, rows sent by a read); undefined when suspended */
  rowCount?: number;
}

/** A statement sent before the main one in the same write and transaction; its answer is discarded. */
export interface Preamble {
  text: string;
  values: readonly unknown[];
}

/**
 * A read in one round trip with a row cap enforced by the server: Parse, Bind, Describe,
 * Execute(maxRows), Sync are sent together (the extended protocol: exactly one statement), and the
 * portal is suspended at the cap instead of streaming the rest. Cells stay the server's text.
 * A node-postgres "submittable": `client.query(new CappedRead(...))`, then await `.done`.
 *
 * With `resetAfter`, the session reset (session-reset.ts) follows the Sync in the same write: it
 * runs whether the read succeeded or failed, and its answer comes back in the same round trip. The
 * caller queues a receiver for it (`queueReset(client, true)`) right after this read.
 */
export class CappedRead {
  readonly done: Promise<CappedReadResult>;
  private resolve!: (r: CappedReadResult) => void;
  private reject!: (e: unknown) => void;
  private fields: ResultField[] = [];
  private readonly rows: Cell[][] = [];
  private suspended = false;
  private command = '';
  private rowCount: number | undefined;
  /** CommandCompletes still expected from the preamble (its DataRow is skipped) */
  private preambleLeft = 0;
  private readonly preambleValues: unknown[] = [];
  private error: unknown;
  private settled = false;
  private readonly values: unknown[];

  private guard: RowSizeGuard | undefined;

  constructor(
    private readonly text: string,
    values: readonly unknown[],
    private readonly maxRows: number,
    /** the longest single row accepted; a longer one ends the connection before it is buffered */
    private readonly maxRowBytes: number = Number.MAX_SAFE_INTEGER,
    private readonly resetAfter = false,
    /** e.g. the requester's identity (identity.ts): same write, same implicit or open transaction */
    private readonly preamble?: Preamble,
  ) {
    this.values = values.map((v) => prepareValue(v));
    if (preamble) this.preambleValues = preamble.values.map((v) => prepareValue(v));
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: WireConnection): void {
    this.guard = guardRowSize(connection.stream, this.maxRowBytes);
    connection.stream.cork?.();
    try {
      if (this.preamble) {
        // Messages up to Sync form one transaction: the preamble's transaction-local settings hold
        // for the statement and end with it. No Describe: only the statement's RowDescription arrives.
        this.preambleLeft = 1;
        connection.parse({ text: this.preamble.text });
        connection.bind({ values: this.preambleValues });
        connection.execute({ portal: '', rows: 0 });
      }
      connection.parse({ text: this.text });
      connection.bind({ values: this.values });
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '', rows: this.maxRows });
      connection.sync();
      if (this.resetAfter) writeReset(connection);
    } finally {
      connection.stream.uncork?.();
    }
  }

  handleRowDescription(msg: { fields: ResultField[] }): void {
    this.fields = msg.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID, columnID: f.columnID }));
  }

  handleDataRow(msg: { fields: Cell[] }): void {
    if (this.preambleLeft > 0) return;
    this.rows.push(msg.fields);
  }

  handlePortalSuspended(): void {
    this.suspended = true;
  }

  handleCommandComplete(msg: { text?: string }): void {
    if (this.preambleLeft > 0) {
      this.preambleLeft--;
      return;
    }
    const count = /(\d+)$/.exec(msg.text ?? '')?.[1];
    if (count !== undefined) this.rowCount = Number(count);
    this.command = /^[A-Za-z]+/.exec(msg.text ?? '')?.[0] ?? '';
  }

  handleEmptyQuery(): void {}

  /** An ErrorResponse (Sync is already sent, ReadyForQuery follows) or a dead connection (nothing follows). */
  handleError(err: unknown): void {
    this.error ??= err;
    this.settle();
  }

  handleReadyForQuery(): void {
    this.settle();
  }

  /** the row size guard ended the connection (the error is then the connection's) */
  get rowTooLarge(): boolean {
    return this.guard?.tripped === true;
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.error !== undefined) this.reject(this.error);
    else this.resolve({ fields: this.fields, rows: this.rows, suspended: this.suspended, command: this.command, ...(this.rowCount === undefined ? {} : { rowCount: this.rowCount }) });
  }
}
