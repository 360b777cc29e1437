/**
 * The next step after a refusal, in the words of the channel the agent uses: MCP answers name MCP
 * tools, the CLI names `qb` commands, HTTP names routes. One hint per reason code (the first reason
 * decides), else per error code. Pure: the CLI renders its own hints from the same table.
 */
export type Channel = 'http' | 'mcp' | 'cli';

export interface HintContext {
  connection?: string;
  requestId?: string;
}

interface HintSource {
  code: string;
  reasons: readonly { code: string }[];
  details: Readonly<Record<string, unknown>>;
}

function connections(ch: Channel): string {
  return ch === 'mcp' ? 'the list_connections tool' : ch === 'cli' ? '`qb connections`' : 'GET /api/connections';
}

function schema(ch: Channel, ctx: HintContext): string {
  const name = ctx.connection;
  if (ch === 'mcp') return `the describe_schema tool${name ? ` (connection "${name}")` : ''}`;
  if (ch === 'cli') return `\`qb schema ${name ?? '<connection>'}\``;
  return `GET /api/connections/${name ? encodeURIComponent(name) : '{name}'}/schema`;
}

function status(ch: Channel, ctx: HintContext): string {
  const id = ctx.requestId ?? '<requestId>';
  return ch === 'mcp' ? `the get_request_status tool (requestId "${id}")` : ch === 'cli' ? `\`qb status ${id} --wait\`` : `GET /api/requests/${id}`;
}

type Hint = (ch: Channel, ctx: HintContext, src: HintSource) => string;

/** The connection's SQL dialect as the error names it (`error.dialect`), else plain "SQL". */
function dialectOf(src: HintSource): string {
  return typeof src.details.dialect === 'string' ? src.details.dialect : 'SQL';
}

const BY_REASON: Readonly<Record<string, Hint>> = {
  unknown_connection: (ch) => `Use one of the connections this identity may use (error.connections), or list them with ${connections(ch)}.`,
  no_matching_profile: (ch) => `Your token's roles match no profile for this connection. ${connections(ch)} lists the connections you may use; for others ask an administrator for a role such as Query.Read.`,
  write_on_read_only_profile: (ch) => `Your profile on this connection is read-only (${connections(ch)} shows your access). Read instead, or ask for a token with a write role (e.g. Query.Write).`,
  ddl_requires_approval: () => 'Schema changes need a human approver; a profile with approvers holds the statement until one decides.',
  update_without_where: () => 'Add a WHERE clause that selects the rows you mean; without one, every row changes and a human must approve.',
  delete_without_where: () => 'Add a WHERE clause that selects the rows you mean; without one, every row is deleted and a human must approve.',
  replace_statement: () => 'Use INSERT for new rows or UPDATE … WHERE for existing ones; REPLACE deletes the rows it replaces, so a human must approve it.',
  estimated_rows_over_threshold: () => 'Narrow the WHERE clause or split the change into batches under the threshold; otherwise a human must approve.',
  affected_rows_over_threshold: (ch, ctx) => `The change was rolled back and is held for a human; follow it with ${status(ch, ctx)} instead of resubmitting.`,
  volatile_function: () => 'Remove the call or use a stable (non-volatile) function; volatile functions may change state and are not run on reads.',
  unknown_function: (ch, ctx) => `Check the function name (error.suggestions lists close names from the database); table and column names are in ${schema(ch, ctx)}.`,
  masked_column_in_predicate: (ch, ctx) => `Filter, join and sort on unmasked columns (e.g. the id) instead; ${schema(ch, ctx)} flags the masked columns.`,
  masked_column_in_fallible_expression: (ch, ctx) => `Select the masked column as it is (it comes back masked), or only through functions that cannot fail; ${schema(ch, ctx)} flags the masked columns.`,
  masked_column_in_write: (ch, ctx) => `Write values that do not come from masked columns; ${schema(ch, ctx)} flags the masked columns.`,
  masked_lineage_unknown: (ch, ctx) => `Name the tables and columns explicitly (no SELECT * over unknown sources, no user-defined functions); ${schema(ch, ctx)} lists them.`,
  transaction_control: () => 'Each request runs in its own transaction: send the statements one by one, without BEGIN/COMMIT/ROLLBACK.',
  session_state_change: () => 'Settings do not persist between requests: leave out SET/RESET and write the setting into the statement itself.',
  param_count_mismatch: (ch, _ctx, src) => {
    const marks = src.details.dialect === 'MySQL' ? '?' : '$1, $2 …';
    return ch === 'cli' ? `Give one --param per placeholder ${marks} in order (or --params-json).` : `Send one value in "params" per placeholder ${marks} in order.`;
  },
  ambiguous_number: () => "Write names that begin with a digit in backquotes, and numbers as plain decimals (1500), hexadecimal 0x1f or X'1f', bits b'101'.",
  result_shape_mismatch: () => 'Send the statement again once (the broker re-reads the schema); if it is refused again, name the columns explicitly instead of using *.',
  read_only_transaction: (ch) => `Reads run in a read-only transaction; writes need a write profile (${connections(ch)} shows your access).`,
};

const BY_CODE: Readonly<Record<string, Hint>> = {
  invalid_token: (ch) => (ch === 'cli' ? 'Get a token (`qb token` on the local broker) and pass it with --token or QB_TOKEN.' : 'Send Authorization: Bearer <access token> for the broker (see /api/.well-known/oauth-protected-resource).'),
  sql_parse_error: (_ch, _ctx, src) => `Fix the syntax at the position the message names; send exactly one ${dialectOf(src)} statement.`,
  multiple_statements: () => 'Send one statement per request: split the text and send each one on its own.',
  approval_required: () => 'This profile has no approvers configured: ask a human to run it, or narrow the statement so it needs no approval.',
  query_timeout: () => 'Narrow the statement (WHERE on indexed columns, LIMIT, fewer joins) and retry.',
  result_too_large: () => 'Select fewer columns or rows (LIMIT, maxRows).',
  rate_limited: () => 'Wait the Retry-After seconds before the next request.',
  dependency_unavailable: () => 'Nothing was executed; retry in a minute. If it persists, report the requestId to an operator.',
  internal_error: () => 'Nothing was returned; retry once, and report the requestId to an operator if it persists.',
  unsupported_media_type: () => 'Send the body as JSON with Content-Type: application/json.',
  not_found: (ch) => (ch === 'http' ? 'See /api/openapi.json for the routes.' : 'Check the id you were given.'),
  query_failed: (ch, ctx, src) => {
    const sqlstate = typeof src.details.sqlstate === 'string' ? src.details.sqlstate : '';
    if (sqlstate.startsWith('42')) return `Check table, column and function names and types with ${schema(ch, ctx)}.`;
    if (sqlstate.startsWith('22')) return `A value does not fit its type: check that each parameter matches the type of the column or cast it is compared with (${schema(ch, ctx)} lists the column types).`;
    if (sqlstate.startsWith('23')) return 'The change violates a constraint (unique, foreign key, not null, check): change the values.';
    if (sqlstate.startsWith('40')) return 'The server rolled the transaction back (serialization failure or deadlock): retrying may succeed.';
    return `Fix the statement; ${schema(ch, ctx)} lists tables and columns.`;
  },
};

/** The next step for this error on this channel, or undefined when the message already says it. */
export function hintFor(ch: Channel, src: HintSource, ctx: HintContext = {}): string | undefined {
  for (const r of src.reasons) {
    const byReason = BY_REASON[r.code];
    if (byReason) return byReason(ch, ctx, src);
  }
  const byCode = BY_CODE[src.code];
  return byCode ? byCode(ch, ctx, src) : undefined;
}
