import { BrokerClient } from '../client.js';
import { EXIT } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals } from '../options.js';
import { formatTable, printJson, refusal } from '../output.js';

export const CONNECTIONS_HELP = `qb connections — the connections this identity may use

Usage: qb connections [--json]

Prints each connection with its access level (read, write, admin), profile, row cap, time
limit and whether writes can be held for approval. Use a name with \`qb schema NAME\` and
\`qb query --connection NAME\`.
Exit: 0 done, 1 refused, 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

export const SCHEMA_HELP = `qb schema — tables and columns of one connection, masked columns flagged

Usage: qb schema CONNECTION [--table NAME] [--json]

  --table NAME   only tables of this name

Prints each table with its row estimate, primary key and foreign keys, then its columns with
type and, for a masked column, the masker (its values come back masked; it may not be used in
WHERE, JOIN, ORDER BY or GROUP BY).
Exit: 0 done, 1 refused (e.g. unknown connection), 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

interface ConnectionRow {
  name: string;
  access: string;
  profile: string;
  maxRows: number;
  statementTimeoutMs: number;
  approval: { estimatedRowsOver?: number } | null;
  maskingExempt: boolean;
}

export async function connectionsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {});
  if (values.help) {
    io.stdout.write(`${CONNECTIONS_HELP}\n`);
    return EXIT.ok;
  }
  positionals(rest, []);
  const res = await new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io)).request('GET', '/api/connections');
  if (res.status !== 200) throw refusal(io, res, values.json);
  if (values.json) {
    printJson(io, res.body);
    return EXIT.ok;
  }
  const rows = (res.body as { connections: ConnectionRow[] }).connections;
  if (rows.length === 0) {
    io.stdout.write('(no connections: this identity matches no profile; ask an administrator for a role such as Query.Read)\n');
    return EXIT.ok;
  }
  const text = (name: string) => ({ name, type: 'text', masked: false as const });
  io.stdout.write(
    `${formatTable(
      [text('connection'), text('access'), text('profile'), { name: 'max rows', type: 'int4', masked: false }, text('time limit'), text('approval'), text('masking')],
      rows.map((c) => [
        c.name,
        c.access,
        c.profile,
        c.maxRows,
        `${c.statementTimeoutMs} ms`,
        c.approval ? `writes over ${c.approval.estimatedRowsOver ?? '?'} rows or without WHERE` : 'none (held writes are refused)',
        c.maskingExempt ? 'exempt' : 'applied',
      ]),
    )}\n(${rows.length} ${rows.length === 1 ? 'connection' : 'connections'})\n`,
  );
  return EXIT.ok;
}

interface SchemaTableOut {
  schema: string;
  name: string;
  kind: string;
  estimatedRows: number | null;
  primaryKey: string[];
  foreignKeys?: { columns: string[]; references: { schema: string; table: string; columns: string[] } }[];
  columns: { name: string; type: string; nullable: boolean; masked: false | string }[];
}

export async function schemaCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, { table: { type: 'string' } });
  if (values.help) {
    io.stdout.write(`${SCHEMA_HELP}\n`);
    return EXIT.ok;
  }
  const [connection = ''] = positionals(rest, ['CONNECTION']);
  const query = values.table === undefined ? '' : `?${new URLSearchParams({ table: values.table })}`;
  const res = await new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io)).request('GET', `/api/connections/${encodeURIComponent(connection)}/schema${query}`);
  if (res.status !== 200) throw refusal(io, res, values.json, { connection });
  if (values.json) {
    printJson(io, res.body);
    return EXIT.ok;
  }
  const tables = (res.body as { tables: SchemaTableOut[] }).tables;
  const blocks = tables.map((t) => {
    const head = [`${t.schema}.${t.name} (${t.kind}${t.estimatedRows === null ? '' : `, ~${t.estimatedRows} rows`})`];
    if (t.primaryKey.length) head.push(`  primary key (${t.primaryKey.join(', ')})`);
    for (const fk of t.foreignKeys ?? []) head.push(`  foreign key (${fk.columns.join(', ')}) → ${fk.references.schema}.${fk.references.table} (${fk.references.columns.join(', ')})`);
    const cols = t.columns.map((c) => `  ${c.name.padEnd(24)} ${c.type}${c.nullable ? '' : ' not null'}${c.masked === false ? '' : `  MASKED (${c.masked})`}`);
    return [...head, ...cols].join('\n');
  });
  io.stdout.write(`${blocks.length ? blocks.join('\n\n') : '(no tables this identity may read)'}\n`);
  const masked = tables.flatMap((t) => t.columns.filter((c) => c.masked !== false).map((c) => `${t.name}.${c.name}`));
  if (masked.length) io.stderr.write(`masked columns come back masked and may not steer WHERE/JOIN/ORDER BY/GROUP BY: ${masked.join(', ')}\n`);
  return EXIT.ok;
}
