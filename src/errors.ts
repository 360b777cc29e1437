/**
 * Every failure the broker reports carries a stable snake_case `code` that is exactly the code
 * CONTRACT.md promises on the wire, so agents and tests branch on codes, never on message text.
 */
export interface Reason {
  /** stable snake_case code, e.g. `write_on_read_only_profile` */
  code: string;
  /** one sentence a person or a model can act on */
  message: string;
}

export type ErrorCode =
  | 'invalid_request'
  | 'sql_parse_error'
  | 'multiple_statements'
  | 'sql_too_long'
  | 'invalid_token'
  | 'forbidden'
  | 'policy_denied'
  | 'approval_required'
  | 'not_found'
  | 'conflict'
  | 'request_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'dependency_unavailable'
  | 'query_failed'
  | 'query_timeout'
  | 'result_too_large'
  | 'internal_error';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  sql_parse_error: 400,
  multiple_statements: 400,
  sql_too_long: 413,
  invalid_token: 401,
  forbidden: 403,
  policy_denied: 403,
  approval_required: 403,
  not_found: 404,
  conflict: 409,
  request_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  dependency_unavailable: 503,
  query_failed: 422,
  query_timeout: 408,
  result_too_large: 422,
  internal_error: 500,
};

export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly reasons: Reason[];
  /** extra fields merged into the error body (e.g. `approvalRequired`) */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { reasons?: Reason[]; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerError';
    this.code = code;
    this.status = STATUS[code];
    this.reasons = options.reasons ?? [];
    this.details = options.details ?? {};
  }
}

export function isBrokerError(e: unknown): e is BrokerError {
  return e instanceof BrokerError;
}
