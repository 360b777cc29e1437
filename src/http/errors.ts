import type { Context } from 'hono';
import { BrokerError } from '../errors.js';
import { RequestError } from '../broker/pipeline.js';
import { protectedResourceMetadataUrl } from './routes/well-known.js';

/** The error body CONTRACT.md promises: `{ error: { code, message, reasons? }, requestId }`. */
export function errorBody(err: BrokerError, requestId?: string): Record<string, unknown> {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.reasons.length) error.reasons = err.reasons;
  for (const [k, v] of Object.entries(err.details)) if (v !== undefined) error[k] = v;
  const body: Record<string, unknown> = { error };
  if (requestId) body.requestId = requestId;
  if (err.status === 403 && (err.code === 'policy_denied' || err.code === 'approval_required')) body.decision = 'denied';
  return body;
}

export function sendError(c: Context, e: unknown): Response {
  let err: BrokerError;
  let requestId: string | undefined;
  let sessionId: string | undefined;
  if (e instanceof RequestError) {
    err = e.error;
    requestId = e.requestId;
    sessionId = e.sessionId;
  } else if (e instanceof BrokerError) {
    err = e;
  } else {
    err = new BrokerError('internal_error', 'Something went wrong inside the broker; nothing was returned. Retry, and report the request id if it persists.');
  }
  const body = errorBody(err, requestId ?? (c.get('requestId' as never) as string | undefined));
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
