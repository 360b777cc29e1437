import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import { BrokerError } from '../errors.js';
import type { IdentityVerifier } from '../broker/ports.js';
import type { Broker } from '../broker/pipeline.js';
import type { Principal } from '../identity/principal.js';
import type { DevIssuer } from '../identity/dev-issuer.js';
import type { Logger } from '../log.js';
import { sendError } from './errors.js';
import { RateLimiter } from './rate-limit.js';
import { QueryBody, QueryResult, PendingApproval, Health, DevTokenBody, DevToken, Jwks, json, errorResponse } from './schemas.js';

export interface HttpEnv {
  Variables: { principal: Principal; requestId?: string };
}

export type BrokerApp = OpenAPIHono<HttpEnv>;

export interface AppDeps {
  broker: Broker;
  verifier: IdentityVerifier;
  log: Logger;
  /** dependency name → "ok" | "unavailable", for GET /api/health (no secrets) */
  health: () => Promise<Record<string, string>>;
  /** local host only: the dev issuer's token and JWKS routes */
  devIssuer?: DevIssuer;
  /** more route groups (requests, approvals, sessions, connections, MCP) */
  routes?: ((app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void)[];
}

// RFC 9728 metadata must be readable without a token: it says how to get one.
const PUBLIC_PATHS = new Set(['/api/health', '/api/openapi.json', '/api/.well-known/oauth-protected-resource']);

export function createApp(deps: AppDeps): BrokerApp {
  const { broker } = deps;
  const policy = broker.deps.policy;
  const limiter = new RateLimiter(policy.limits.requestsPerMinute);

  const app = new OpenAPIHono<HttpEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue?.path.length ? issue.path.join('.') : 'body';
        return sendError(c, new BrokerError('invalid_request', `Invalid ${where}: ${issue?.message ?? 'bad value'}. See /api/openapi.json for the request schema.`));
      }
      return undefined;
    },
  });

  app.onError((err, c) => {
    // Hono's validator reports unparseable JSON as an HTTPException with status 400.
    if (!(err instanceof BrokerError) && 'status' in err && (err as { status: number }).status === 400) {
      return sendError(c, new BrokerError('invalid_request', 'The request body is not valid JSON. Send a JSON object with Content-Type: application/json.'));
    }
    if (!(err instanceof BrokerError)) deps.log.error('unhandled error', { error: err.name, path: c.req.path });
    return sendError(c, err);
  });
  app.notFound((c) => sendError(c, new BrokerError('not_found', `No route ${c.req.method} ${c.req.path}. See /api/openapi.json.`)));

  const tooLarge = new BrokerError('request_too_large', `The request body is over ${policy.limits.maxBodyBytes} bytes. Send a shorter statement.`);
  const limitStream = bodyLimit({ maxSize: policy.limits.maxBodyBytes, onError: (c) => sendError(c, tooLarge) });
  app.use('/api/*', async (c, next) => {
    // A declared length is checked without touching the body stream (which is costly on Node);
    // bodies without one (chunked) are counted as they stream.
    const declared = c.req.header('content-length');
    if (declared !== undefined && /^\d+$/.test(declared)) {
      if (Number(declared) > policy.limits.maxBodyBytes) return sendError(c, tooLarge);
      return next();
    }
    return limitStream(c, next);
  });

  const auth: MiddlewareHandler<HttpEnv> = async (c, next) => {
    const principal = await deps.verifier.verify(c.req.header('authorization'));
    limiter.check(principal.oid);
    c.set('principal', principal);
    await next();
  };

  app.use('/api/*', async (c, next) => {
    // The approval page and its form authenticate for themselves (bearer token, the dev sign-in
    // cookie locally, App Service Authentication in Azure) and record refused attempts.
    if (PUBLIC_PATHS.has(c.req.path) || c.req.path.startsWith('/api/dev/') || c.req.path.startsWith('/api/approvals/') || c.req.path === '/api/approvals') return next();
    if (c.req.method === 'OPTIONS') return next();
    return auth(c, next);
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/health',
      summary: 'Liveness and dependencies',
      responses: { 200: json(Health, 'The broker is up; dependencies listed'), 503: json(Health, 'A dependency is unavailable') },
    }),
    async (c) => {
      const dependencies = await deps.health();
      const ok = Object.values(dependencies).every((v) => v === 'ok');
      return c.json({ status: ok ? ('ok' as const) : ('degraded' as const), dependencies }, ok ? 200 : 503);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/query',
      summary: 'Run one SQL statement through policy, masking and audit',
      security: [{ bearer: [] }],
      request: { body: { content: { 'application/json': { schema: QueryBody } }, required: true } },
      responses: {
        200: json(QueryResult, 'Allowed and executed (or a dry run)'),
        202: json(PendingApproval, 'A human must approve first; poll statusUrl'),
        400: errorResponse('invalid_request, sql_parse_error or multiple_statements'),
        401: errorResponse('invalid_token'),
        403: errorResponse('Policy refuses it (decision denied, with reasons)'),
        413: errorResponse('request_too_large'),
        429: errorResponse('rate_limited'),
        503: errorResponse('dependency_unavailable; nothing was executed'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const req = { connection: body.connection, sql: body.sql, params: body.params, dryRun: body.dryRun } as Parameters<Broker['query']>[1];
      if (body.sessionId !== undefined) req.sessionId = body.sessionId;
      if (body.maxRows !== undefined) req.maxRows = body.maxRows;
      if (body.reason !== undefined) req.reason = body.reason;
      const outcome = await broker.query(principal, req, c.req.raw.signal);
      if (outcome.decision === 'pending_approval') {
        const statusUrl = `/api/requests/${outcome.requestId}`;
        c.header('Location', statusUrl);
        const out: Record<string, unknown> = { ...outcome, statusUrl };
        if (!outcome.expiresAt) delete out.expiresAt;
        return c.json(out as never, 202);
      }
      return c.json(outcome as never, 200);
    },
  );

  if (deps.devIssuer) {
    const issuer = deps.devIssuer;
    app.openapi(
      createRoute({
        method: 'post',
        path: '/api/dev/token',
        summary: 'Local host only: a token from the dev issuer',
        request: { body: { content: { 'application/json': { schema: DevTokenBody } }, required: true } },
        responses: { 200: json(DevToken, 'A signed access token') },
      }),
      async (c) => {
        const body = c.req.valid('json');
        return c.json({ token: await issuer.issue(body) }, 200);
      },
    );
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/dev/jwks',
        summary: "Local host only: the dev issuer's public keys (JWKS)",
        responses: { 200: json(Jwks, 'The JSON Web Key Set the verifier checks dev tokens with') },
      }),
      (c) => c.json(issuer.jwks() as never, 200),
    );
  }

  for (const register of deps.routes ?? []) register(app, auth);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Query Broker', version: '0.1.0', description: 'A policy, masking and audit control point between AI agents and PostgreSQL.' },
  });
  return app;
}
