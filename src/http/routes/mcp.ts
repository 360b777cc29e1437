/**
 * `POST /api/mcp`: the broker as a Model Context Protocol server (Streamable HTTP, stateless: a
 * fresh server and transport per HTTP request, JSON responses). The bearer token was verified by
 * the app's `/api/*` middleware like for every other route; the tools call the very functions the
 * REST routes call (`Broker.query`, connection and schema discovery, the request status route),
 * so an agent meets one policy, one masking and one audit record whichever door it uses.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BrokerError } from '../../errors.js';
import type { Broker } from '../../broker/pipeline.js';
import type { QueryRequest } from '../../broker/types.js';
import type { Principal } from '../../identity/principal.js';
import type { Logger } from '../../log.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { describeFailure, errorBody, logFailure } from '../errors.js';
import { newRequestId } from '../../broker/ids.js';
import { QueryBody, errorResponse } from '../schemas.js';
import { listConnectionsFor, type SchemaDiscovery } from './connections.js';

export const MCP_PATH = '/api/mcp';

export interface McpRouteDeps {
  broker: Broker;
  policy: PolicyConfig;
  schema: SchemaDiscovery;
  log: Logger;
  /** the status of a request held for approval (routes/requests.ts `requestStatusOf`); absent without an approval workflow */
  requestStatus?: (principal: Principal, requestId: string) => Promise<unknown>;
  /** reported to MCP clients as the server version */
  version?: string;
}

const INSTRUCTIONS = `Query Broker gives you governed access to PostgreSQL and MySQL databases (list_connections shows each connection's engine). Every statement is checked by policy, sensitive columns come back masked, and everything is recorded for auditors.
Workflow: list_connections → describe_schema (table and column names, which columns are masked) → run_query (one statement per call in the connection's dialect, values as params: $1, $2 … on PostgreSQL, ? on MySQL).
A refusal is an error result with error.code, error.reasons[].code and a hint: change the statement as the reasons say rather than retrying it unchanged.
Writes that need a human return decision "pending_approval" with a requestId and an approvalUrl to give to a human: do not resubmit; poll get_request_status until the state is final.
Pass the sessionId from your first run_query to later calls so one task stays one recorded session.`;

/** What a model should do next after each kind of refusal. Reason messages say why; this says how to recover. */
const RECOVERY: Partial<Record<string, string>> = {
  policy_denied:
    'The policy refused this statement; each entry of error.reasons says why. Change the statement to avoid those reasons (for example read instead of write, add a WHERE clause, leave masked columns out of WHERE/JOIN/ORDER BY/GROUP BY, drop volatile functions), or ask a human for a profile that allows it. Retrying it unchanged will be refused again.',
  approval_required:
    'This statement needs a human approval, which this deployment cannot request. Ask a human to run it, or use a statement that needs no approval (a bounded write with a WHERE clause).',
  sql_parse_error: 'The SQL is not valid in the connection\'s dialect (error.dialect: PostgreSQL or MySQL). Fix the syntax (error.message points at it) and call run_query again.',
  multiple_statements: 'Send exactly one statement per run_query call: split the text and call run_query once per statement.',
  sql_too_long: 'The statement is over the length limit. Shorten it, or pass long values as params.',
  invalid_request: 'An argument is missing or has the wrong type. Fix the arguments as error.message says and call again.',
  query_failed: 'The database rejected the statement. Check table and column names and types with describe_schema, fix the statement and call again.',
  query_timeout: 'The statement ran past the time limit and was cancelled. Narrow it (WHERE on indexed columns, LIMIT, fewer joins) and call again.',
  result_too_large: 'The result is over the size limit. Select fewer columns or rows (LIMIT, maxRows) and call again.',
  rate_limited: 'Too many requests for this identity. Wait error.retryAfterSeconds seconds before the next call.',
  dependency_unavailable: 'A dependency of the broker (database, audit store, secrets) is unavailable; nothing was executed. Retry in a minute.',
  forbidden: 'This identity may not do that. Ask a human for the needed role.',
  not_found: 'Nothing by that id is visible to this identity. Check the id you were given.',
  conflict: 'The request is no longer in a state that allows this.',
  internal_error: 'The broker failed unexpectedly; nothing was returned. Retry once; if it persists, report the requestId to a human.',
};

/** Next step for each state of a request that waited for approval. */
const STATUS_NEXT: Record<string, string> = {
  pending_approval: 'Waiting for a human. Call get_request_status again in 15–60 seconds; do not resubmit the statement.',
  approved: 'Approved and executing. Call get_request_status again in a few seconds for the result.',
  executed: 'Final: the statement ran; `result` holds what it returned (masked).',
  rejected: 'Final: a human rejected it. Do not resubmit it unchanged; reconsider the change or ask the approver why.',
  expired: 'Final: nobody decided before it expired. Submit it again with run_query only if it is still needed.',
  failed: 'Final: the statement failed when it ran; see the error.',
};

function toolResult(body: Record<string, unknown>, isError = false): CallToolResult {
  const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(body) }], structuredContent: body };
  if (isError) result.isError = true;
  return result;
}

/** A refusal or failure as a tool error: the same body as the REST API, plus a recovery hint. */
function toolError(e: unknown, log: Logger, connection?: string): CallToolResult {
  const failure = describeFailure(e);
  const requestId = failure.requestId ?? (failure.err.status >= 500 ? newRequestId() : undefined);
  logFailure(log, failure.err, { requestId, path: MCP_PATH, cause: failure.cause });
  const body = errorBody(failure.err, requestId, 'mcp', connection === undefined ? {} : { connection });
  if (failure.sessionId) body.sessionId = failure.sessionId;
  const error = body.error as { code: string; hint?: string };
  // One hint per reason code where there is one; else the recovery step for the error code.
  const hint = error.hint ?? RECOVERY[error.code];
  if (hint) body.hint = hint;
  return toolResult(body, true);
}

const RequestIdArg = z
  .string()
  .regex(/^[A-Za-z0-9_-]{3,64}$/, 'a request id as run_query returned it, e.g. r_…')
  .describe('The requestId that run_query returned with decision "pending_approval".');

interface ToolContext {
  principal: Principal;
  signal: AbortSignal;
}

/** One MCP server for one HTTP request of one verified principal. */
function buildServer(deps: McpRouteDeps, ctx: ToolContext): McpServer {
  const { broker, schema, log } = deps;
  const server = new McpServer({ name: 'query-broker', title: 'Query Broker', version: deps.version ?? '0.1.0' }, { instructions: INSTRUCTIONS });

  server.registerTool(
    'list_connections',
    {
      title: 'List connections',
      description:
        'List the databases (connections) you may query through Query Broker. Call this first. ' +
        'Returns {connections:[{name, engine, access, profile, maxRows, statementTimeoutMs, approval, maskingExempt}]}: `access` is read, write or admin; ' +
        '`approval` is null when writes that need a human are refused outright. Use a `name` as `connection` in describe_schema and run_query. ' +
        'An empty list means your identity matches no profile: ask a human to grant you an app role such as Query.Read.',
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async () => toolResult({ connections: listConnectionsFor(deps.policy, ctx.principal) }),
  );

  server.registerTool(
    'describe_schema',
    {
      title: 'Describe a connection’s tables',
      description:
        'Show the tables and views you may read on one connection: columns with types and nullability, primary keys, row estimates, and `masked` ' +
        '(false, or the masker applied to that column in your results, e.g. last4, email, redact). Call it before writing SQL so names are right. ' +
        'Masked columns return masked values, and may not be used in WHERE, JOIN, ORDER BY or GROUP BY (refused as masked_column_in_predicate) ' +
          'nor inside arithmetic, casts or other expressions that can fail on their value (refused as masked_column_in_fallible_expression); ' +
        '`detectors` also mask card numbers, emails and similar values found in any text column. Pass `table` (and `schema`) to describe one table only.',
      inputSchema: {
        connection: z.string().min(1).max(128).describe('Connection name from list_connections, e.g. "sales".'),
        schema: z.string().min(1).max(128).optional().describe('Only tables in this schema, e.g. "public".'),
        table: z.string().min(1).max(128).optional().describe('Only tables of this name, e.g. "customers".'),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      try {
        const filter: { schema?: string; table?: string } = {};
        if (args.schema !== undefined) filter.schema = args.schema;
        if (args.table !== undefined) filter.table = args.table;
        return toolResult(await schema.describe(ctx.principal, args.connection, filter));
      } catch (e) {
        return toolError(e, log, args.connection);
      }
    },
  );

  server.registerTool(
    'run_query',
    {
      title: 'Run one SQL statement',
      description:
        'Run exactly one SQL statement on a connection, in its engine’s dialect (PostgreSQL or MySQL, as list_connections says), through the broker’s policy, masking and audit. Put values in `params` as placeholders instead of literals: $1, $2 … on PostgreSQL, ? on MySQL. ' +
        'Allowed: returns {decision:"allowed", columns:[{name, type, masked}], rows, rowCount, truncated, requestId, sessionId}; a column whose `masked` is not false carries masked values, never the real ones; ' +
        '`truncated: true` means more rows exist (narrow with WHERE/LIMIT, or raise maxRows up to the connection’s maxRows). Reads run in a read-only transaction. ' +
        'Needs a human (schema changes, TRUNCATE, UPDATE/DELETE without WHERE or over the row threshold): returns {decision:"pending_approval", requestId, sqlHash, reasons, expiresAt, approvalUrl}; give approvalUrl (the review page) to a human, do not resubmit, poll get_request_status with the requestId. ' +
        'Refused: an error result with error.code (policy_denied, sql_parse_error, multiple_statements, query_failed, …), error.reasons[].code (write_on_read_only_profile, masked_column_in_predicate, masked_column_in_fallible_expression, volatile_function, …) and a `hint`; change the statement accordingly, do not retry it unchanged. ' +
        'dryRun:true checks whether a statement would be allowed without running it: decision "allowed" or "would_need_approval" (with reasons and estimatedRows; no request is created), or the refusal. Pass the sessionId of your first call on later calls to keep one recorded session per task.',
      inputSchema: {
        connection: QueryBody.shape.connection.describe('Connection name from list_connections, e.g. "sales".'),
        sql: QueryBody.shape.sql.describe('Exactly one statement in the connection’s dialect, with placeholders for values: PostgreSQL "select id, email from customers where id = $1", MySQL "select id, email from customers where id = ?".'),
        params: QueryBody.shape.params.describe('Values for the placeholders ($1, $2 … or ?) in order (strings, numbers, booleans or null).'),
        sessionId: QueryBody.shape.sessionId.describe('The sessionId returned by an earlier run_query, to record this call in the same session.'),
        maxRows: QueryBody.shape.maxRows.describe('Return at most this many rows (capped by the connection’s maxRows).'),
        dryRun: QueryBody.shape.dryRun.describe('true: only decide (allowed, would_need_approval or refused); nothing runs and no request is created.'),
        reason: QueryBody.shape.reason.describe('Why you run this, in one sentence; shown to approvers and auditors.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      const req: QueryRequest = { connection: args.connection, sql: args.sql, params: args.params, dryRun: args.dryRun };
      if (args.sessionId !== undefined) req.sessionId = args.sessionId;
      if (args.maxRows !== undefined) req.maxRows = args.maxRows;
      if (args.reason !== undefined) req.reason = args.reason;
      try {
        const outcome = await broker.query(ctx.principal, req, AbortSignal.any([ctx.signal, extra.signal]));
        if (outcome.decision === 'pending_approval') {
          const body: Record<string, unknown> = { ...outcome, statusUrl: `/api/requests/${outcome.requestId}`, next: STATUS_NEXT.pending_approval };
          if (!outcome.expiresAt) delete body.expiresAt;
          return toolResult(body);
        }
        return toolResult({ ...outcome });
      } catch (e) {
        return toolError(e, log, args.connection);
      }
    },
  );

  server.registerTool(
    'get_request_status',
    {
      title: 'Check a request waiting for approval',
      description:
        'Check a statement that run_query left pending human approval. Returns {requestId, state, sqlHash, sql, reasons, expiresAt, result?, next}: ' +
        'state pending_approval (poll again in 15–60 seconds), approved (executing; poll again shortly), executed (`result` holds the masked rows or the affected row count), ' +
        'or rejected, expired, failed (final: stop polling). `next` says what to do. Only the requester, approvers and auditors may read a request.',
      inputSchema: { requestId: RequestIdArg },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      try {
        return await requestStatus(deps, ctx, args.requestId);
      } catch (e) {
        return toolError(e, log);
      }
    },
  );

  return server;
}

/**
 * The status of a request, by the same function as REST's `GET /api/requests/{id}`: the same
 * authorization (requester, approvers, auditors) and the same body.
 */
async function requestStatus(deps: McpRouteDeps, ctx: ToolContext, requestId: string): Promise<CallToolResult> {
  if (!deps.requestStatus) {
    throw new BrokerError('dependency_unavailable', 'This deployment does not serve request status (no approval workflow is configured).');
  }
  const body = (await deps.requestStatus(ctx.principal, requestId)) as Record<string, unknown>;
  const next = typeof body.state === 'string' ? STATUS_NEXT[body.state] : undefined;
  return toolResult(next ? { ...body, next } : body);
}

// ---------------------------------------------------------------------------------------------
// Route

/** One JSON-RPC message or a batch; the transport checks the details and answers JSON-RPC errors. */
const JsonRpcMessage = z.looseObject({ jsonrpc: z.literal('2.0'), method: z.string().optional(), id: z.union([z.string(), z.number(), z.null()]).optional() });
const JsonRpcBody = z.union([JsonRpcMessage, z.array(JsonRpcMessage)]).openapi('JsonRpcMessage', { description: 'A JSON-RPC 2.0 message (or a batch) of the Model Context Protocol' });
const JsonRpcReply = z.looseObject({ jsonrpc: z.literal('2.0') }).openapi('JsonRpcReply');

const mcpDescription =
  'Model Context Protocol, Streamable HTTP transport, stateless (no Mcp-Session-Id): send `Accept: application/json, text/event-stream`; answers are JSON. ' +
  'Tools: list_connections, describe_schema, run_query, get_request_status. Without a valid token: 401 with ' +
  '`WWW-Authenticate: Bearer resource_metadata="…/api/.well-known/oauth-protected-resource"`.';

function methodNotAllowed(): Response {
  return new Response(
    JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless; send JSON-RPC messages with POST.' }, id: null }),
    { status: 405, headers: { Allow: 'POST', 'Content-Type': 'application/json' } },
  );
}

export function registerMcpRoutes(app: BrokerApp, _auth: MiddlewareHandler<HttpEnv>, deps: McpRouteDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: MCP_PATH,
      summary: 'Model Context Protocol endpoint (tools for agents)',
      description: mcpDescription,
      security: [{ bearer: [] }],
      request: { body: { content: { 'application/json': { schema: JsonRpcBody } }, required: true } },
      responses: {
        200: { content: { 'application/json': { schema: JsonRpcReply } }, description: 'The JSON-RPC response(s)' },
        202: { description: 'Notifications or responses accepted' },
        400: errorResponse('invalid_request (not JSON), or a JSON-RPC error for a malformed message'),
        401: errorResponse('invalid_token, with WWW-Authenticate naming the protected resource metadata'),
        406: { content: { 'application/json': { schema: JsonRpcReply } }, description: 'The client does not accept application/json and text/event-stream' },
        413: errorResponse('request_too_large'),
        429: errorResponse('rate_limited'),
      },
    }),
    // No Origin check (the spec's DNS-rebinding guard for local servers): this endpoint honours
    // only an Authorization header, never a cookie, so a rebound page has no credential to ride.
    async (c) => {
      const principal = c.get('principal');
      const signal = c.req.raw.signal;
      const server = buildServer(deps, { principal, signal });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      try {
        // The body was read and checked by the route's validator; hand it over as parsed.
        return await transport.handleRequest(c.req.raw, { parsedBody: c.req.valid('json') });
      } finally {
        await server.close();
      }
    },
  );

  for (const method of ['get', 'delete'] as const) {
    app.openapi(
      createRoute({
        method,
        path: MCP_PATH,
        summary: 'Not used: the MCP endpoint is stateless (no server-sent stream, no session to delete)',
        security: [{ bearer: [] }],
        responses: { 401: errorResponse('invalid_token'), 405: { description: 'Method not allowed; use POST' } },
      }),
      () => methodNotAllowed(),
    );
  }
}
