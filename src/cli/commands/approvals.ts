import { BrokerClient } from '../client.js';
import { EXIT } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals } from '../options.js';
import { printJson, refusal } from '../output.js';

export const APPROVALS_HELP = `qb approvals — the requests waiting for your decision

Usage: qb approvals

Lists the requests you may decide (you are an approver of their profile and did not ask for them):
pending ones first, oldest first, then those decided or expired in the last 24 hours. Review one
with \`qb status ID\`, decide it with \`qb approve ID --sql-hash HASH\`.
Exit: 0 listed, 1 refused, 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

interface Entry {
  requestId: string;
  state: string;
  requester: { oid: string; name?: string };
  connection: string;
  profile: string;
  statementKind: string;
  estimatedRows?: number;
  reason?: string;
  expiresAt: string;
  decision?: { outcome: string; approver: { oid: string; name?: string }; time: string };
}

function who(p: { oid: string; name?: string }): string {
  return p.name ? `${p.name} (${p.oid})` : p.oid;
}

function lines(e: Entry): string[] {
  const out = [
    `${e.requestId}  ${e.state}  ${e.statementKind} on ${e.connection} (profile ${e.profile})`,
    `  requested by ${who(e.requester)}; estimated rows ${e.estimatedRows ?? 'unknown'}; expires ${e.expiresAt}`,
  ];
  if (e.reason !== undefined) out.push(`  reason: ${e.reason}`);
  if (e.decision) out.push(`  ${e.decision.outcome} by ${who(e.decision.approver)} at ${e.decision.time}`);
  return out;
}

export async function approvalsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {});
  if (values.help) {
    io.stdout.write(`${APPROVALS_HELP}\n`);
    return EXIT.ok;
  }
  positionals(rest, []);
  const client = new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io));
  const res = await client.request('GET', '/api/approvals');
  if (res.status !== 200) throw refusal(io, res, values.json);
  const inbox = res.body as { pending: Entry[]; recent: Entry[] };
  if (values.json) {
    printJson(io, inbox);
    return EXIT.ok;
  }
  const out = [`Pending (${inbox.pending.length}), oldest first:`];
  if (inbox.pending.length === 0) out.push('  nothing waits for you');
  for (const e of inbox.pending) out.push(...lines(e).map((l) => `  ${l}`));
  out.push('Decided or expired in the last 24 hours:');
  if (inbox.recent.length === 0) out.push('  none');
  for (const e of inbox.recent) out.push(...lines(e).map((l) => `  ${l}`));
  io.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}
