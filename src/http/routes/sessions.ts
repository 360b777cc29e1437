/**
 * The auditors' read side of the session record: a session's timeline, the verification of its
 * hash chain, and the list of sessions by day and identity. Auditors only (`policy.auditors`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { BrokerError } from '../../errors.js';
import type { AuditLog } from '../../broker/ports.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { Principal } from '../../identity/principal.js';
import { isAuditor } from '../../policy/profiles.js';
import type { Logger } from '../../log.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { errorResponse, json } from '../schemas.js';

export const AuditRecordSchema = z
  .object({
    v: z.literal(1),
    sessionId: z.string(),
    seq: z.number().int().openapi({ description: '0-based position in the session chain' }),
    time: z.string(),
    type: z.string().openapi({ example: 'decision' }),
    requestId: z.string(),
    actor: z.object({ oid: z.string(), tid: z.string().optional(), appId: z.string().optional(), name: z.string().optional() }),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi('AuditRecord');

export const SessionTimeline = z.object({ sessionId: z.string(), events: z.array(AuditRecordSchema) }).openapi('SessionTimeline');

export const SessionVerification = z
  .object({
    valid: z.boolean(),
    events: z.number().int(),
    firstBadSeq: z.number().int().nullable().openapi({ description: 'The first event whose hash or link does not check out; null when valid' }),
  })
  .openapi('SessionVerification');

export const SessionList = z
  .object({ sessions: z.array(z.object({ sessionId: z.string(), ownerOid: z.string(), day: z.string(), path: z.string() })) })
  .openapi('SessionList');

const SessionParam = z.object({
  sessionId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/)
    .openapi({ param: { name: 'sessionId', in: 'path' }, example: 's_3q2Yk1vVJ6Yw8t8n0eXbZA' }),
});

const ListQuery = z.object({
  day: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
    .optional()
    .openapi({ param: { name: 'day', in: 'query' }, description: 'UTC day the session started', example: '2025-01-31' }),
  oid: z.string().min(1).max(128).optional().openapi({ param: { name: 'oid', in: 'query' }, description: 'Only sessions owned by this identity (object id)' }),
});

export interface SessionRouteDeps {
  policy: PolicyConfig;
  audit: AuditLog;
  log: Logger;
}

export function registerSessionRoutes(app: BrokerApp, _auth: MiddlewareHandler<HttpEnv>, deps: SessionRouteDeps): void {
  const { policy, audit, log } = deps;

  /** Only auditors read the record; every read is logged with who read what. */
  const auditorOnly = (principal: Principal, what: string): void => {
    if (!isAuditor(policy, principal)) {
      throw new BrokerError('forbidden', 'Reading recorded sessions needs the auditor role (policy `auditors`). Ask an administrator for it.');
    }
    log.info('audit record read', { oid: principal.oid, what });
  };

  const common = {
    400: errorResponse('invalid_request: malformed parameter'),
    401: errorResponse('invalid_token'),
    403: errorResponse('forbidden: not an auditor'),
    429: errorResponse('rate_limited'),
    503: errorResponse('dependency_unavailable: the audit store cannot be reached'),
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/sessions',
      summary: 'Recorded sessions, by day and identity (auditors)',
      security: [{ bearer: [] }],
      request: { query: ListQuery },
      responses: { 200: json(SessionList, 'Matching sessions'), ...common },
    }),
    async (c) => {
      const q = c.req.valid('query');
      auditorOnly(c.get('principal'), `list day=${q.day ?? '*'} oid=${q.oid ?? '*'}`);
      const filter: { day?: string; oid?: string } = {};
      if (q.day !== undefined) filter.day = q.day;
      if (q.oid !== undefined) filter.oid = q.oid;
      return c.json({ sessions: await audit.list(filter) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/sessions/{sessionId}',
      summary: "A session's recorded timeline (auditors)",
      security: [{ bearer: [] }],
      request: { params: SessionParam },
      responses: { 200: json(SessionTimeline, 'Every event of the session, in chain order'), 404: errorResponse('not_found: no such session'), ...common },
    }),
    async (c) => {
      const { sessionId } = c.req.valid('param');
      auditorOnly(c.get('principal'), `session ${sessionId}`);
      return c.json({ sessionId, events: await audit.read(sessionId) } as never, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/sessions/{sessionId}/verify',
      summary: "Recompute a session's hash chain (auditors)",
      security: [{ bearer: [] }],
      request: { params: SessionParam },
      responses: { 200: json(SessionVerification, 'Whether the record is intact, and where it breaks'), 404: errorResponse('not_found: no such session'), ...common },
    }),
    async (c) => {
      const { sessionId } = c.req.valid('param');
      auditorOnly(c.get('principal'), `verify ${sessionId}`);
      const r = await audit.verify(sessionId);
      return c.json({ valid: r.valid, events: r.events, firstBadSeq: r.firstBadSeq }, 200);
    },
  );
}
