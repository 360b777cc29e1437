import { BrokerClient } from '../client.js';
import { EXIT, usageError } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals } from '../options.js';
import { printJson, refusal } from '../output.js';

export const APPROVE_HELP = `qb approve — approve (or reject) a statement waiting for a human

Usage: qb approve REQUEST_ID --sql-hash HASH [--reject] [--comment TEXT]

  --sql-hash HASH  the sqlHash shown with the request (qb status ID): you approve exactly that SQL
  --reject         reject instead of approve
  --comment TEXT   recorded with the decision

Needs an approver's token for that connection; you cannot approve your own request.
Exit: 0 decision recorded, 1 refused (not an approver, own request, wrong hash, already decided,
expired), 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

export async function approveCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    'sql-hash': { type: 'string' },
    reject: { type: 'boolean', default: false },
    comment: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${APPROVE_HELP}\n`);
    return EXIT.ok;
  }
  const [requestId = ''] = positionals(rest, ['REQUEST_ID']);
  const sqlHash = values['sql-hash'];
  if (!sqlHash) throw usageError(`Missing --sql-hash: copy it from \`qb status ${requestId}\`, after reading the SQL it stands for.`);
  const body: Record<string, unknown> = { decision: values.reject ? 'reject' : 'approve', sqlHash };
  if (values.comment !== undefined) body.comment = values.comment;

  const client = new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io));
  const res = await client.request('POST', `/api/approvals/${encodeURIComponent(requestId)}`, body);
  if (res.status !== 200) throw refusal(io, res, values.json);
  const r = res.body as { state?: string };
  if (values.json) printJson(io, r);
  else io.stdout.write(`${values.reject ? 'Rejected' : 'Approved'} ${requestId}${r.state ? `: state ${r.state}` : ''}\n`);
  return EXIT.ok;
}
