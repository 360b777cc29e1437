import type { BrokerClient } from './client.js';
import { CliError, EXIT } from './exit.js';
import type { CliIo } from './io.js';
import { printJson, printResult, reasonLines, refusal, type ResultColumn } from './output.js';

/** `GET /api/requests/{id}` (CONTRACT.md). */
export interface RequestStatus {
  requestId: string;
  state: 'pending_approval' | 'approved' | 'rejected' | 'expired' | 'executed' | 'failed' | string;
  sqlHash?: string;
  sql?: string;
  reasons?: { code: string; message: string }[];
  expiresAt?: string;
  approvalUrl?: string;
  result?: { columns?: ResultColumn[]; rows?: unknown[][]; rowCount?: number; truncated?: boolean; durationMs?: number };
  error?: { code?: string; message?: string };
  [k: string]: unknown;
}

/** States after which nothing more will happen. */
export const FINAL_STATES = new Set(['executed', 'rejected', 'expired', 'failed']);
/** Final states in which the statement did not run as asked: exit 1. */
const REFUSED_STATES = new Set(['rejected', 'expired', 'failed']);

export async function fetchStatus(client: BrokerClient, requestId: string, io: CliIo, json: boolean): Promise<RequestStatus> {
  const res = await client.request('GET', `/api/requests/${encodeURIComponent(requestId)}`);
  if (res.status !== 200) throw refusal(io, res, json);
  return res.body as RequestStatus;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function remaining(expiresAt: string | undefined, now: number): string {
  if (!expiresAt) return '';
  const ms = Date.parse(expiresAt) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return ' · expiring';
  const m = Math.floor(ms / 60_000);
  return m >= 1 ? ` · expires in ${m} min` : ` · expires in ${Math.ceil(ms / 1000)} s`;
}

/**
 * Poll until the request reaches a final state, showing progress on stderr: a spinner line on a
 * terminal, one line per state change otherwise (logs stay readable).
 */
export async function waitForFinalState(client: BrokerClient, requestId: string, io: CliIo, o: { json: boolean; intervalMs: number; timeoutMs?: number }): Promise<RequestStatus> {
  const started = Date.now();
  const tty = io.stderr.isTTY === true;
  let frame = 0;
  let lastState = '';
  try {
    for (;;) {
      const status = await fetchStatus(client, requestId, io, o.json);
      if (FINAL_STATES.has(status.state)) return status;
      const elapsed = Math.round((Date.now() - started) / 1000);
      if (tty) {
        io.stderr.write(`\r\x1b[2K${SPINNER[frame++ % SPINNER.length]} ${requestId}: ${status.state.replace('_', ' ')} · ${elapsed}s${remaining(status.expiresAt, Date.now())} (Ctrl-C stops waiting, not the request)`);
      } else if (status.state !== lastState) {
        io.stderr.write(`${requestId}: ${status.state.replace('_', ' ')}${remaining(status.expiresAt, Date.now())}; waiting…\n`);
      }
      lastState = status.state;
      if (o.timeoutMs !== undefined && Date.now() - started >= o.timeoutMs) {
        if (tty) io.stderr.write('\r\x1b[2K');
        if (o.json) printJson(io, status);
        io.stderr.write(`qb: ${requestId} is still ${status.state} after ${Math.round(o.timeoutMs / 1000)} s; nothing ran yet. Check later with: qb status ${requestId} --wait\n`);
        throw new CliError(EXIT.refused, '');
      }
      await new Promise((r) => setTimeout(r, o.intervalMs));
    }
  } finally {
    if (tty) io.stderr.write('\r\x1b[2K');
  }
}

/** Print a request's status; the exit code says whether the statement ran. */
export function printStatus(io: CliIo, s: RequestStatus, json: boolean): number {
  if (json) {
    printJson(io, s);
  } else {
    const lines = [`request  ${s.requestId}`, `state    ${s.state}`];
    if (s.sql !== undefined) lines.push(`sql      ${s.sql}`);
    if (s.sqlHash !== undefined) lines.push(`sqlHash  ${s.sqlHash}`);
    if (s.expiresAt) lines.push(`expires  ${s.expiresAt}`);
    if (s.approvalUrl && s.state === 'pending_approval') lines.push(`review   ${s.approvalUrl}`);
    const reasons = reasonLines(s.reasons);
    if (reasons.length) lines.push('reasons', ...reasons);
    if (s.state === 'pending_approval' && s.sqlHash) {
      lines.push('', `An approver runs: qb approve ${s.requestId} --sql-hash ${s.sqlHash}`, `Wait for it:      qb status ${s.requestId} --wait`);
    }
    if (s.error?.message) lines.push(`error    ${s.error.code ? `${s.error.code}: ` : ''}${s.error.message}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    if (s.state === 'executed' && s.result) {
      io.stdout.write('\n');
      printResult(io, s.result);
    }
  }
  return REFUSED_STATES.has(s.state) ? EXIT.refused : EXIT.ok;
}
