import { BrokerClient } from '../client.js';
import { CliError, EXIT } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, brokerUrl, parseCommand, positionals, positiveNumber } from '../options.js';
import { printJson, refusal } from '../output.js';

export const TOKEN_HELP = `qb token — a token from the local broker's dev issuer (npm start only)

Usage: qb token --role ROLE [--role ROLE…] [--sub SUB] [--name NAME] [--group GROUP…] [--oid OID] [--user] [--expires SECONDS]

Prints the token, so:  export QB_TOKEN=$(npx qb token --role Query.Read --sub agent-1)
  --role ROLE     app role claim (repeatable): Query.Read, Query.Write, Query.Approve, Audit.Read, PII.Read…
  --sub SUB       subject (default: qb-cli); the object id is dev-<sub> unless --oid is given
  --name NAME     display name
  --group GROUP   group claim (repeatable)
  --user          a person's token (idtyp=user) rather than an agent's app-only token
  --expires S     lifetime in seconds (default 3600, at most 86400)

${COMMON_HELP}`;

export async function tokenCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    role: { type: 'string', multiple: true, default: [] },
    group: { type: 'string', multiple: true, default: [] },
    sub: { type: 'string', default: 'qb-cli' },
    name: { type: 'string' },
    oid: { type: 'string' },
    user: { type: 'boolean', default: false },
    expires: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${TOKEN_HELP}\n`);
    return EXIT.ok;
  }
  positionals(rest, []);
  const body: Record<string, unknown> = { sub: values.sub, roles: values.role, groups: values.group, idtyp: values.user ? 'user' : 'app' };
  if (values.name !== undefined) body.name = values.name;
  if (values.oid !== undefined) body.oid = values.oid;
  const expires = positiveNumber('expires', values.expires);
  if (expires !== undefined) body.expiresInSeconds = Math.round(expires);

  const client = new BrokerClient(brokerUrl(values.url, io));
  const res = await client.request('POST', '/api/dev/token', body);
  if (res.status === 404) {
    io.stderr.write(
      `qb: ${client.baseUrl} has no dev issuer: only the local broker (npm start) issues tokens.\n` +
        '  Against Azure, use an Entra ID token, e.g.: az account get-access-token --scope api://query-broker/.default --query accessToken -o tsv\n',
    );
    throw new CliError(EXIT.refused, '');
  }
  if (res.status !== 200) throw refusal(io, res, values.json);
  const token = (res.body as { token?: unknown }).token;
  if (typeof token !== 'string') throw new CliError(EXIT.refused, 'The broker answered without a token.');
  if (values.json) printJson(io, { token });
  else io.stdout.write(`${token}\n`);
  return EXIT.ok;
}
