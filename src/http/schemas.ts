import { z } from '@hono/zod-openapi';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string(),
      reasons: z.array(z.object({ code: z.string(), message: z.string() })).optional(),
      hint: z.string().optional().openapi({ description: 'the next step, naming the route to call' }),
      sqlstate: z.string().optional().openapi({ description: 'query_failed, query_timeout: the PostgreSQL SQLSTATE' }),
    }).passthrough(),
    requestId: z.string().optional(),
    decision: z.literal('denied').optional(),
  })
  .openapi('Error');

export const Reason = z.object({ code: z.string(), message: z.string() }).openapi('Reason');

export const QueryBody = z
  .object({
    connection: z.string().min(1).max(128).openapi({ example: 'sales' }),
    sql: z.string().min(1).openapi({ example: 'select id, email from customers where id = $1' }),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).max(1000).default([]).openapi({ example: [1] }),
    sessionId: z.string().min(8).max(64).regex(/^[A-Za-z0-9_-]+$/).optional(),
    maxRows: z.number().int().positive().max(1_000_000).optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(2000).optional(),
  })
  .strict()
  .openapi('QueryRequest');

export const Column = z.object({ name: z.string(), type: z.string(), masked: z.union([z.literal(false), z.string()]) }).openapi('Column');

export const QueryResult = z
  .object({
    requestId: z.string().optional().openapi({ description: 'absent for decision would_need_approval: a dry run creates no request' }),
    sessionId: z.string(),
    decision: z.enum(['allowed', 'would_need_approval']),
    executed: z.boolean(),
    sqlHash: z.string().optional(),
    columns: z.array(Column).optional(),
    rows: z.array(z.array(z.unknown())).optional(),
    rowCount: z.number().int().optional(),
    truncated: z.boolean().optional(),
    durationMs: z.number().optional(),
    reasons: z.array(Reason).optional(),
    estimatedRows: z.number().optional(),
    statementKind: z.string().optional(),
  })
  .openapi('QueryResult');

export const PendingApproval = z
  .object({
    requestId: z.string(),
    sessionId: z.string(),
    decision: z.literal('pending_approval'),
    sqlHash: z.string(),
    reasons: z.array(Reason),
    statusUrl: z.string(),
    approvalUrl: z.string().optional().openapi({ description: 'the review page on the broker\'s public URL: hand it to a human approver' }),
    expiresAt: z.string().optional(),
    estimatedRows: z.number().optional(),
  })
  .openapi('PendingApproval');

export const Health = z.object({ status: z.enum(['ok', 'degraded']), dependencies: z.record(z.string(), z.string()) }).openapi('Health');

export const DevTokenBody = z
  .object({
    sub: z.string().min(1).max(128),
    name: z.string().max(256).optional(),
    roles: z.array(z.string()).max(50).default([]),
    groups: z.array(z.string()).max(50).default([]),
    oid: z.string().max(128).optional(),
    idtyp: z.enum(['app', 'user']).default('app'),
    expiresInSeconds: z.number().int().positive().max(86400).default(3600),
  })
  .strict()
  .openapi('DevTokenRequest');

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
export const errorResponse = (description: string) => json(ErrorBody, description);

export const DevToken = z.object({ token: z.string() }).openapi('DevToken');

export const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi('Jwks');

/** Every error status POST /api/query answers (README's error table), with the error body. */
export const queryErrorResponses = {
  400: errorResponse('invalid_request (bad JSON, unknown or missing field, wrong param count, NUL in the SQL), sql_parse_error or multiple_statements'),
  401: errorResponse('invalid_token'),
  403: errorResponse('policy_denied or approval_required (decision denied, with reasons), forbidden (another identity\'s session)'),
  408: errorResponse('query_timeout: the statement ran past the profile\'s time limit and was cancelled'),
  413: errorResponse('request_too_large or sql_too_long'),
  415: errorResponse('unsupported_media_type: the body must be sent with Content-Type: application/json'),
  422: errorResponse('query_failed: the database refused the statement (SQLSTATE in words), or result_too_large'),
  429: errorResponse('rate_limited, with Retry-After'),
  500: errorResponse('internal_error, with a requestId the operator log also has'),
  503: errorResponse('dependency_unavailable; nothing was executed'),
} as const;
