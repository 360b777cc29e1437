/**
 * Nothing survives a request on a pooled connection. Statement analysis cannot see all of a DBA's
 * code (a view or a STABLE function may take an advisory lock, a view may call set_config, a
 * PL/pgSQL function may LISTEN or create a temp table), so the pool does not trust it: after every
 * use, a connection is reset before it can serve anyone else.
 *
 * The reset is `DISCARD ALL`: it closes cursors, releases every session-level advisory lock
 * (pg_advisory_unlock_all), resets every setting to the connection's start-up value (RESET ALL and
 * SET SESSION AUTHORIZATION DEFAULT, which also gives back the profile's role set by the start-up
 * options), drops prepared statements, temp tables, sequence caches and cached plans, and stops
 * listening (UNLISTEN *). The broker uses no named prepared statements, so nothing of its own is
 * lost. It must be a query of its own (the server refuses it inside a transaction block), so an
 * open or failed transaction makes the reset fail, and the connection is then destroyed.
 *
 * A failed reset never lets the connection serve another query: the reset's submittable destroys
 * the socket as soon as the error arrives, before node-postgres could send the next queued query.
 */
import type { Duplex } from 'node:stream';
import type pg from 'pg';

export const RESET_SQL = 'DISCARD ALL';

/** What a submittable needs of node-postgres' Connection to send a simple query. */
interface QueryConnection {
  query(text: string): void;
  stream: Duplex;
}

/** Clients whose reset is already queued for the current check-out (the release hook skips them). */
const resetQueued = new WeakSet<pg.ClientBase>();

/**
 * The reset as a node-postgres submittable: `client.query(new SessionReset())`, then await `.done`.
 * With `alreadySent`, it sends nothing: its query went out in the same socket write as the
 * statement before it (see `writeReset`), and this object only receives the answer (node-postgres
 * makes the next queued query the receiver of what follows the previous ReadyForQuery).
 */
export class SessionReset {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (e: unknown) => void;
  private error: unknown;
  private settled = false;
  private stream: Duplex | undefined;

  constructor(private readonly alreadySent = false) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Awaited or not: a failure is handled (the connection is destroyed) either way.
    this.done.catch(() => {});
  }

  submit(connection: QueryConnection): void {
    this.stream = connection.stream;
    if (!this.alreadySent) connection.query(RESET_SQL);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  /** An ErrorResponse (ReadyForQuery follows) or a dead connection: either way it serves no one again. */
  handleError(err: unknown): void {
    this.error ??= err;
    this.stream?.destroy();
    this.settle();
  }

  handleReadyForQuery(): void {
    this.settle();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.error !== undefined) this.reject(this.error);
    else this.resolve();
  }
}

/**
 * Write the reset's query message on a connection (inside the caller's corked write, after its Sync
 * or its last query), so statement and reset leave in one socket write and come back in one round trip.
 */
export function writeReset(connection: QueryConnection): void {
  connection.query(RESET_SQL);
}

/**
 * Queue the reset on a checked-out client: after the queries already queued. With `alreadySent`,
 * the reset went out with the statement (`writeReset`) and this only receives its answer.
 * The release hook will not reset this check-out again.
 */
export function queueReset(client: pg.ClientBase, alreadySent = false): SessionReset {
  const reset = new SessionReset(alreadySent);
  resetQueued.add(client);
  client.query(reset as unknown as pg.QueryConfig);
  return reset;
}

/**
 * Reset every connection this pool hands back, whoever used it (catalog look-ups, EXPLAIN for row
 * estimates: planning may run a DBA's immutable function).
 *
 * `pool.query` (what those callers use) waits for its reset before giving the connection back and
 * destroys it when the reset fails, as the executor does. Any other check-out gets its reset queued
 * when it is released, before it is idle: the next check-out's query runs after it, and a failed
 * reset destroys the connection (that next query then fails: closed, never dirty).
 */
export function resetOnRelease(pool: pg.Pool): void {
  pool.on('release', (err: Error | undefined, client: pg.PoolClient) => {
    if (resetQueued.delete(client)) return;
    if (err !== undefined && err !== null) return; // destroyed by the pool
    client.query(new SessionReset() as unknown as pg.QueryConfig);
  });
  const query = async (config: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> => {
    const client = await pool.connect();
    const onError = (): void => {};
    client.on('error', onError);
    try {
      const running = client.query(config as pg.QueryConfig, values);
      const reset = queueReset(client);
      let result: pg.QueryResult | undefined;
      let failure: unknown;
      try {
        result = await running;
      } catch (e) {
        failure = e;
      }
      try {
        await reset.done;
        client.release();
      } catch (e) {
        client.release(e instanceof Error ? e : new Error('the session reset failed'));
      }
      if (result === undefined) throw failure;
      return result;
    } finally {
      client.removeListener('error', onError);
    }
  };
  // Only the promise forms are used in the broker; a callback falls back to pg-pool's own.
  const own = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) =>
    args.some((a) => typeof a === 'function') ? own(...args) : query(args[0] as string | pg.QueryConfig, args[1] as unknown[] | undefined)) as unknown as pg.Pool['query'];
}
