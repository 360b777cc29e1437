import type { Context } from 'hono';
import { BrokerError } from '../errors.js';
import { RequestError } from '../broker/types.js';
import { newRequestId } from '../broker/ids.js';
import type { Logger } from '../log.js';
import { protectedResourceMetadataUrl } from './resource-metadata.js';
import { hintFor, type Channel, type HintContext } from './hints.js';

/** The error body CONTRACT.md promises: `{ error: { code, message, reasons? }, requestId }`. */
export function errorBody(err: BrokerError, requestId?: string, channel: Channel = 'http', ctx: HintContext = {}): Record<string, unknown> {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.reasons.length) error.reasons = err.reasons;
  for (const [k, v] of Object.entries(err.details)) if (v !== undefined) error[k] = v;
  const hint = hintFor(channel, err, requestId === undefined ? ctx : { requestId, ...ctx });
  if (hint !== undefined) error.hint = hint;
  const body: Record<string, unknown> = { error };
  if (requestId) body.requestId = requestId;
  if (err.status === 403 && (err.code === 'policy_denied' || err.code === 'approval_required')) body.decision = 'denied';
  return body;
}

/** What a thrown value means for the caller: the error, and the ids it belongs to. */
export function describeFailure(e: unknown): { err: BrokerError; requestId?: string; sessionId?: string; cause?: unknown } {
  if (e instanceof RequestError) return { err: e.error, requestId: e.requestId, sessionId: e.sessionId, cause: e.error.cause };
  if (e instanceof BrokerError) return { err: e, cause: e.cause };
  return {
    err: new BrokerError('internal_error', 'Something went wrong inside the broker; nothing was returned. Retry, and report the request id if it persists.'),
    cause: e,
  };
}

/**
 * One log line per answered failure. Refusals are the broker working as intended (info, or warn for
 * policy refusals); only the broker's own failures (5xx) are errors. Fields are codes and ids, never
 * SQL text or values; a cause is named by its class and code only.
 */
export function logFailure(log: Logger, err: BrokerError, fields: { requestId: string | undefined; path: string; cause?: unknown }): void {
  const line: Record<string, unknown> = { requestId: fields.requestId, code: err.code, status: err.status, path: fields.path };
  const reasons = err.reasons.map((r) => r.code);
  if (reasons.length) line.reasons = reasons;
  const cause = fields.cause;
  if (cause instanceof Error) {
    line.cause = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') line.causeCode = code;
  }
  if (err.status >= 500) log.error('request failed', line);
  else if (err.status === 403) log.warn('request refused', line);
  else log.info('request refused', line);
}

export function sendError(c: Context, e: unknown, log?: Logger): Response {
  const failure = describeFailure(e);
  const { err, sessionId } = failure;
  // Every 5xx carries a request id the operator log also has, so a report can be traced.
  const requestId = failure.requestId ?? (c.get('requestId' as never) as string | undefined) ?? (err.status >= 500 ? newRequestId() : undefined);
  if (log) logFailure(log, err, { requestId, path: c.req.path, cause: failure.cause });
  const body = errorBody(err, requestId);
  if (sessionId) body.sessionId = sessionId;
  const headers: Record<string, string> = {};
  if (err.code === 'invalid_token') {
    // RFC 9728 §5.1: tell OAuth clients (MCP clients among them) where to learn how to get a token.
    headers['WWW-Authenticate'] = `Bearer error="invalid_token", error_description="${err.message.replace(/["\\]/g, '')}", resource_metadata="${protectedResourceMetadataUrl(c.req.url)}"`;
  }
  if (err.code === 'rate_limited' && typeof err.details.retryAfterSeconds === 'number') {
    headers['Retry-After'] = String(err.details.retryAfterSeconds);
  }
  return c.json(body, err.status as 400, headers);
}

/** Why a body of this Content-Type is not accepted (415 with what to send), or undefined for JSON. */
export function unsupportedBodyType(contentType: string | undefined): BrokerError | undefined {
  if (contentType === 'application/json') return undefined;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(type)) return undefined;
  return new BrokerError('unsupported_media_type', `The body must be JSON sent with the header Content-Type: application/json (got ${type ? JSON.stringify(type) : 'no Content-Type'}). Send e.g. {"connection":"sales","sql":"select 1"}.`);
}

/** Body fields agents often send under another name, and the field they meant. */
const FIELD_ALIASES: Readonly<Record<string, string>> = {
  query: 'sql',
  statement: 'sql',
  text: 'sql',
  db: 'connection',
  database: 'connection',
  conn: 'connection',
  parameters: 'params',
  args: 'params',
  values: 'params',
  bind: 'params',
  limit: 'maxRows',
  max_rows: 'maxRows',
  dry_run: 'dryRun',
  session: 'sessionId',
  session_id: 'sessionId',
};

/** The known field an unknown one most likely meant, if any. */
export function meantField(unknown: string, known: readonly string[]): string | undefined {
  const alias = FIELD_ALIASES[unknown] ?? FIELD_ALIASES[unknown.toLowerCase()];
  if (alias && known.includes(alias)) return alias;
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  return known.find((k) => norm(k) === norm(unknown));
}

interface ValidationIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

/** A request that failed schema validation, as one `invalid_request` that says what to change. */
export function validationError(issues: readonly ValidationIssue[], known: readonly string[]): BrokerError {
  const unrecognized = issues.find((i) => i.code === 'unrecognized_keys');
  if (unrecognized?.keys?.length) {
    const parts = unrecognized.keys.map((k) => {
      const meant = meantField(k, known);
      return meant ? `"${k}" (did you mean "${meant}"?)` : `"${k}"`;
    });
    return new BrokerError('invalid_request', `Unknown field${parts.length > 1 ? 's' : ''} ${parts.join(', ')}. The fields are: ${known.join(', ')}.`, {
      details: { unknownFields: unrecognized.keys },
    });
  }
  const issue = issues[0];
  const where = issue?.path.length ? issue.path.map(String).join('.') : 'body';
  return new BrokerError('invalid_request', `Invalid ${where}: ${issue?.message ?? 'bad value'}. See /api/openapi.json for the request schema.`);
}
