/**
 * A guard on a database connection's socket: it follows the wire protocol's message framing and
 * ends the connection as soon as a result row longer than the limit starts to arrive, before the
 * driver buffers and decodes it. A row of about 1 GB (`repeat()`, `format('%1000000000s', …)`)
 * would otherwise take that much memory in the broker and then fail to decode into a string
 * (ERR_STRING_TOO_LONG), leaving the request hanging.
 *
 * One guard serves both engines; each gives its framing:
 * - PostgreSQL (the default): one type byte and a 4-byte big-endian length; rows are DataRow ('D').
 * - MySQL (`mysqlFraming`): a 3-byte little-endian length and a sequence byte; a packet of
 *   0xffffff bytes continues in the next, and result rows are the only large packets a read gets.
 *
 * Installed once per socket at a message boundary (the connection is idle when a query starts) and
 * kept: it follows every message from then on, so the framing stays in step.
 */
import type { Duplex } from 'node:stream';

export interface RowSizeGuard {
  /** the longest result row (bytes of its message bodies) allowed on this connection now */
  limit: number;
  /** set when the guard ended the connection; cleared when the limit is set again */
  tripped: boolean;
}

/** How a protocol frames its messages; one instance per socket (it may count across messages). */
export interface Framing {
  readonly headerBytes: number;
  /** the length of the body that follows this header */
  bodyBytes(header: Buffer): number;
  /** the row bytes this message brings the row it belongs to up to; undefined: not a result row */
  rowBytes(header: Buffer, body: number): number | undefined;
}

const DATA_ROW = 0x44; // 'D'

/** PostgreSQL's backend messages: type byte, 4-byte length (itself included). */
export function postgresFraming(): Framing {
  return {
    headerBytes: 5,
    bodyBytes: (header) => header.readUInt32BE(1) - 4,
    rowBytes: (header, body) => (header[0] === DATA_ROW ? body : undefined),
  };
}

/** MySQL packets: 3-byte length, sequence byte; a 0xffffff-byte packet continues in the next one. */
export function mysqlFraming(): Framing {
  let logical = 0;
  return {
    headerBytes: 4,
    bodyBytes: (header) => header.readUIntLE(0, 3),
    rowBytes: (_header, body) => {
      const total = logical + body;
      logical = body === 0xffffff ? total : 0;
      return total;
    },
  };
}

const guards = new WeakMap<Duplex, RowSizeGuard>();

/**
 * The socket's guard with `limit` set (installed on first use). `framing` is read only when the
 * guard is installed: a socket speaks one protocol for its life.
 */
export function guardRowSize(socket: Duplex, limit: number, framing: () => Framing = postgresFraming): RowSizeGuard {
  const known = guards.get(socket);
  if (known) {
    known.limit = limit;
    known.tripped = false;
    return known;
  }
  const guard: RowSizeGuard = { limit, tripped: false };
  guards.set(socket, guard);
  const frames = framing();
  const header = Buffer.alloc(frames.headerBytes);
  let have = 0;
  let skip = 0;
  socket.prependListener('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length && !guard.tripped) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const n = Math.min(frames.headerBytes - have, chunk.length - i);
      chunk.copy(header, have, i, i + n);
      have += n;
      i += n;
      if (have < frames.headerBytes) return;
      have = 0;
      const body = frames.bodyBytes(header);
      skip = body;
      const row = frames.rowBytes(header, body);
      if (row !== undefined && row > guard.limit) {
        guard.tripped = true;
        socket.destroy(new Error(`a result row of ${row} bytes or more is over the limit of ${guard.limit}`));
      }
    }
  });
  return guard;
}
