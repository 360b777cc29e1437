/**
 * A guard on a PostgreSQL connection's socket: it follows the backend's message framing (one type
 * byte, a 4-byte length) and ends the connection as soon as a DataRow longer than the limit starts
 * to arrive, before node-postgres buffers and decodes it. A row of about 1 GB (`repeat()`,
 * `format('%1000000000s', …)`) would otherwise take that much memory in the broker and then fail
 * to decode into a string (ERR_STRING_TOO_LONG), leaving the request hanging.
 *
 * Installed once per socket at a message boundary (the connection is idle when a query starts) and
 * kept: it follows every message from then on, so the framing stays in step.
 */
import type { Duplex } from 'node:stream';

const DATA_ROW = 0x44; // 'D'

export interface RowSizeGuard {
  /** the longest DataRow (bytes after the length field) allowed on this connection now */
  limit: number;
  /** set when the guard ended the connection; cleared when the limit is set again */
  tripped: boolean;
}

const guards = new WeakMap<Duplex, RowSizeGuard>();

export function guardRowSize(socket: Duplex, limit: number): RowSizeGuard {
  const known = guards.get(socket);
  if (known) {
    known.limit = limit;
    known.tripped = false;
    return known;
  }
  const guard: RowSizeGuard = { limit, tripped: false };
  guards.set(socket, guard);
  const header = Buffer.alloc(5);
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
      const n = Math.min(5 - have, chunk.length - i);
      chunk.copy(header, have, i, i + n);
      have += n;
      i += n;
      if (have < 5) return;
      have = 0;
      const body = header.readUInt32BE(1) - 4;
      skip = body;
      if (header[0] === DATA_ROW && body > guard.limit) {
        guard.tripped = true;
        socket.destroy(new Error(`a result row of ${body} bytes is over the limit of ${guard.limit}`));
      }
    }
  });
  return guard;
}
