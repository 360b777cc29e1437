import { BrokerClient } from '../client.js';
import { EXIT, usageError } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals, positiveNumber } from '../options.js';
import { printJson, printResult, reasonLines, refusal, type ResultColumn } from '../output.js';
import { printStatus, waitForFinalState } from '../request-status.js';

export const QUERY_HELP = `qb query — run one SQL statement through the broker

Usage: qb query --connection NAME "SQL" [--param VALUE…] [options]
       echo "select 1" | qb query -c NAME -

  -c, --connection NAME  connection from the policy (\`qb connections\` lists them)
  -p, --param VALUE      value for $1, $2 … in order (repeatable; sent as text, PostgreSQL casts it;
                         write --param=-5 for a value that starts with -)
  --params-json JSON     all values as a JSON array instead, e.g. '[42, "x", null]'
  --session ID           record this call in an existing session (sessionId of an earlier call)
  --max-rows N           return at most N rows (capped by the profile)
  --dry-run              only decide: allowed, pending approval or refused; nothing runs
  --reason TEXT          why you run it (shown to approvers and auditors)
  --wait                 when it needs approval, wait for the decision and print the result
  --interval S           seconds between polls with --wait (default 2)

Prints a table (or the broker's JSON with --json). A statement that needs approval prints its
request id and exits 0; add --wait, or follow it with \`qb status ID --wait\`.
Exit: 0 done, 1 refused/rejected, 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

export async function queryCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    connection: { type: 'string', short: 'c' },
    param: { type: 'string', short: 'p', multiple: true, default: [] },
    'params-json': { type: 'string' },
    session: { type: 'string' },
    'max-rows': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    reason: { type: 'string' },
    wait: { type: 'boolean', default: false },
    interval: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${QUERY_HELP}\n`);
    return EXIT.ok;
  }
  const [sqlArg] = positionals(rest, ['the SQL statement']);
  if (!values.connection) throw usageError('Missing --connection NAME (list them with `qb connections`).');
  const sql = sqlArg === '-' ? await io.readStdin() : (sqlArg ?? '');
  if (sql.trim() === '') throw usageError('The SQL statement is empty.');

  let params: unknown[] = values.param;
  if (values['params-json'] !== undefined) {
    if (values.param.length) throw usageError('Use either --param or --params-json, not both.');
    try {
      params = JSON.parse(values['params-json']);
    } catch {
      throw usageError('--params-json is not valid JSON.');
    }
    if (!Array.isArray(params)) throw usageError('--params-json must be a JSON array, e.g. \'[42, "x"]\'.');
  }
  const maxRows = positiveNumber('max-rows', values['max-rows']);
  const intervalS = positiveNumber('interval', values.interval) ?? 2;

  const body: Record<string, unknown> = { connection: values.connection, sql, params, dryRun: values['dry-run'] };
  if (values.session !== undefined) body.sessionId = values.session;
  if (maxRows !== undefined) body.maxRows = Math.floor(maxRows);
  if (values.reason !== undefined) body.reason = values.reason;

  const client = new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io));
  const res = await client.request('POST', '/api/query', body);
  if (res.status === 200) {
    const r = res.body as { executed?: boolean; columns?: ResultColumn[]; rows?: unknown[][]; reasons?: unknown; statementKind?: string };
    if (values.json) printJson(io, r);
    else if (r.executed === false) io.stdout.write(`${dryRunVerdict(r)}\n${reasonLines(r.reasons).join('\n')}`.trimEnd() + '\n');
    else printResult(io, r);
    return EXIT.ok;
  }
  if (res.status === 202) {
    const p = res.body as { requestId: string; sqlHash: string; reasons?: unknown; expiresAt?: string; approvalUrl?: string };
    if (values.wait && !values['dry-run']) {
      return printStatus(io, await waitForFinalState(client, p.requestId, io, { json: values.json, intervalMs: intervalS * 1000 }), values.json);
    }
    if (values.json) {
      printJson(io, p);
    } else {
      const lines = [`Pending approval: request ${p.requestId}`, `sqlHash  ${p.sqlHash}`];
      if (p.expiresAt) lines.push(`expires  ${p.expiresAt}`);
      if (p.approvalUrl) lines.push(`review   ${p.approvalUrl}  (hand this link to an approver)`);
      lines.push(...reasonLines(p.reasons));
      if (!values['dry-run']) lines.push('', `An approver runs: qb approve ${p.requestId} --sql-hash ${p.sqlHash}`, `Wait for it:      qb status ${p.requestId} --wait`);
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return EXIT.ok;
  }
  throw refusal(io, res, values.json, { connection: values.connection });
}

/** What a dry run decided, in one line. */
function dryRunVerdict(r: { decision?: string; statementKind?: string; estimatedRows?: number }): string {
  const kind = r.statementKind ? `: a ${r.statementKind} statement` : '';
  const estimate = r.estimatedRows === undefined ? '' : `, about ${r.estimatedRows} rows`;
  if (r.decision === 'would_need_approval') return `would need approval (dry run, nothing executed, no request created)${kind}${estimate}`;
  return `allowed (dry run, nothing executed)${kind}${estimate}`;
}
