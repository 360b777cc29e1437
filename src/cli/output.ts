import { CliError, EXIT } from './exit.js';
import { isErrorBody, type BrokerResponse } from './client.js';
import type { CliIo } from './io.js';
import { hintFor, type HintContext } from '../http/hints.js';

export interface ResultColumn {
  name: string;
  type: string;
  masked: false | string;
}

const NUMERIC_TYPE = /^(int[248]?|integer|smallint|bigint|float[48]?|real|double|numeric|decimal|money|oid)\b/i;

/** A cell as one line of text: NULL for null, JSON for objects, control characters escaped. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const s = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return s.replace(/\r?\n/g, '\\n').replace(/\t/g, '\\t');
}

/** psql-style aligned table; numeric columns right-aligned. */
export function formatTable(columns: readonly ResultColumn[], rows: readonly unknown[][]): string {
  const header = columns.map((c) => c.name);
  const cells = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const widths = header.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const right = columns.map((c) => NUMERIC_TYPE.test(c.type) && c.masked === false);
  const line = (values: string[], align: boolean) =>
    values
      .map((v, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - width(v));
        return align && right[i] ? pad + v : v + pad;
      })
      .join(' | ')
      .trimEnd();
  const separator = widths.map((w) => '-'.repeat(w + 2)).join('+');
  return [` ${line(header, false)}`, separator, ...cells.map((r) => ` ${line(r, true)}`)].join('\n');
}

/** Display width, counting code points (good enough for a terminal table). */
function width(s: string): number {
  return [...s].length;
}

export function maskedSummary(columns: readonly ResultColumn[]): string | undefined {
  const masked = columns.filter((c) => c.masked !== false);
  return masked.length ? `masked: ${masked.map((c) => `${c.name} (${c.masked})`).join(', ')}` : undefined;
}

/** The rows of an executed statement, as a table with psql's footer. */
export function printResult(io: CliIo, r: { columns?: ResultColumn[]; rows?: unknown[][]; rowCount?: number; truncated?: boolean; requestId?: string; sessionId?: string; durationMs?: number }): void {
  const columns = r.columns ?? [];
  const rows = r.rows ?? [];
  const count = r.rowCount ?? rows.length;
  if (columns.length > 0) {
    io.stdout.write(`${formatTable(columns, rows)}\n(${count} ${count === 1 ? 'row' : 'rows'}${r.truncated ? ', truncated: more rows exist; narrow the query or raise --max-rows' : ''})\n`);
  } else {
    io.stdout.write(`(${count} ${count === 1 ? 'row' : 'rows'} affected)\n`);
  }
  const meta = [maskedSummary(columns), r.requestId && `request ${r.requestId}`, r.sessionId && `session ${r.sessionId}`, r.durationMs !== undefined && `${r.durationMs} ms`].filter(Boolean);
  if (meta.length) io.stderr.write(`${meta.join(' · ')}\n`);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One line per reason; a message already printed above (`said`) is not repeated. */
export function reasonLines(reasons: unknown, said?: string): string[] {
  if (!Array.isArray(reasons)) return [];
  return reasons.map((r: { code?: string; message?: string }) => (r.message && r.message !== said ? `  - ${r.code ?? '?'}: ${r.message}` : `  - ${r.code ?? '?'}`));
}

/**
 * A non-2xx answer: the broker said no (exit 1). The error body goes to stdout with --json, the
 * code, message and reasons to stderr otherwise.
 */
export function refusal(io: CliIo, res: BrokerResponse, json: boolean, ctx: HintContext = {}): CliError {
  if (json) printJson(io, res.body);
  if (isErrorBody(res.body)) {
    const { error, requestId } = res.body;
    const lines = [`qb: ${error.code}: ${error.message}`, ...reasonLines(error.reasons, error.message)];
    // The next step in qb's own words (the broker's hint names HTTP routes).
    const hint = hintFor('cli', { code: error.code, reasons: error.reasons ?? [], details: error }, requestId === undefined ? ctx : { requestId, ...ctx });
    if (hint) lines.push(`  next: ${hint}`);
    if (requestId) lines.push(`  request ${requestId}`);
    if (!json) io.stderr.write(`${lines.join('\n')}\n`);
  } else if (!json) {
    io.stderr.write(`qb: the broker answered HTTP ${res.status}${typeof res.body === 'string' && res.body ? `: ${res.body.slice(0, 500)}` : ''}\n`);
  }
  return new CliError(EXIT.refused, '');
}
