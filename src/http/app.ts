import type { IncomingMessage } from 'node:http';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { Context, MiddlewareHandler } from 'hono';
import { BrokerError } from '../errors.js';
import type { IdentityVerifier } from '../broker/ports.js';
import type { Broker } from '../broker/pipeline.js';
import type { PolicyConfig } from '../policy/schema.js';
import type { Principal } from '../identity/principal.js';
import type { DevIssuer } from '../identity/dev-issuer.js';
import type { Logger } from '../log.js';
import { sendError, unsupportedBodyType, validationError } from './errors.js';
import { RateLimiter } from './rate-limit.js';
import { QueryBody, QueryResult, PendingApproval, Health, DevTokenBody, DevToken, Jwks, json, queryErrorResponses } from './schemas.js';

export interface HttpEnv {
  Variables: { principal: Principal; requestId?: string };
}

export type BrokerApp = OpenAPIHono<HttpEnv>;

/** A group of routes the composition root mounts (`auth`: the bearer authentication middleware). */
export type RouteGroup = (app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void;

export interface AppDeps {
  broker: Broker;
  policy: PolicyConfig;
  verifier: IdentityVerifier;
  log: Logger;
  /** dependency name → "ok" | "unavailable", for GET /api/health (no secrets) */
  health: () => Promise<Record<string, string>>;
  /** GET /api/health?deep=1 for operators/auditors (src/doctor/deep-health.ts); absent: plain health */
  deepHealth?: (authorization: string | undefined) => Promise<{ httpStatus: 200 | 503; body: unknown }>;
  /** local host only: the dev issuer's token and JWKS routes */
  devIssuer?: DevIssuer;
  /** more route groups (requests, approvals, sessions, connections, MCP) */
  routes?: RouteGroup[];
}

// RFC 9728 metadata must be readable without a token: it says how to get one.
const PUBLIC_PATHS = new Set(['/api/health', '/api/openapi.json', '/api/.well-known/oauth-protected-resource']);

/**
 * A request header. Served by @hono/node-server, read from Node's own parsed headers: asking the
 * Fetch `Request` for one builds a `Headers` object from every raw header first, on each request.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming?.headers) {
    const v = incoming.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }
  return c.req.header(name);
}

const QUERY_FIELDS = Object.keys(QueryBody.shape);

/** The JSON body checked by `schema`: 415 for another Content-Type, invalid_request with what to fix otherwise. */
async function readJsonBody<T extends z.ZodType>(c: Context, schema: T, known: readonly string[]): Promise<z.output<T>> {
  const refused = unsupportedBodyType(requestHeader(c, 'content-type'));
  if (refused) throw refused;
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new BrokerError('invalid_request', 'The request body is not valid JSON. Send a JSON object with Content-Type: application/json.');
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw validationError(result.error.issues, known);
  return result.data;
}

export function createApp(deps: AppDeps): BrokerApp {
  const { broker } = deps;
  const { policy } = deps;
  const limiter = new RateLimiter(policy.limits.requestsPerMinute);

  const app = new OpenAPIHono<HttpEnv>({
    defaultHook: (result, c) => (result.success ? undefined : sendError(c, validationError(result.error.issues, c.req.path === '/api/query' ? QUERY_FIELDS : []))),
  });

  app.onError((err, c) => {
    // Hono's validator reports unparseable JSON as an HTTPException with status 400.
    if (!(err instanceof BrokerError) && 'status' in err && (err as { status: number }).status === 400) {
      return sendError(c, new BrokerError('invalid_request', 'The request body is not valid JSON. Send a JSON object with Content-Type: application/json.'));
    }
    return sendError(c, err, deps.log);
  });
  app.notFound((c) => sendError(c, new BrokerError('not_found', `No route ${c.req.method} ${c.req.path}. See /api/openapi.json.`)));

  const tooLarge = new BrokerError('request_too_large', `The request body is over ${policy.limits.maxBodyBytes} bytes. Send a shorter statement.`);
  // The refusal leaves before the rest of the body has arrived: the connection closes after it
  // (RFC 9112 §9.6), or a client reusing it would send its next request into the unread body.
  const refuseTooLarge = (c: Context) => {
    c.header('Connection', 'close');
    return sendError(c, tooLarge);
  };
  const limitStream = bodyLimit({ maxSize: policy.limits.maxBodyBytes, onError: refuseTooLarge });

  const auth: MiddlewareHandler<HttpEnv> = async (c, next) => {
    const principal = await deps.verifier.verify(requestHeader(c, 'authorization'));
    limiter.check(principal.oid);
    c.set('principal', principal);
    await next();
  };

  // One middleware for every /api route (each layer of middleware costs a closure and a promise per
  // request): the body size limit, then authentication.
  app.use('/api/*', async (c, next) => {
    // A declared length is checked without touching the body stream (which is costly on Node);
    // bodies without one (chunked) are counted as they stream.
    const declared = requestHeader(c, 'content-length');
    const counted = declared === undefined || !/^\d+$/.test(declared);
    if (!counted && Number(declared) > policy.limits.maxBodyBytes) return refuseTooLarge(c);
    const path = c.req.path;
    // The approval page and its form authenticate for themselves (bearer token, the dev sign-in
    // cookie locally, App Service Authentication in Azure) and record refused attempts.
    const open = PUBLIC_PATHS.has(path) || path.startsWith('/api/dev/') || path.startsWith('/api/approvals/') || path === '/api/approvals' || c.req.method === 'OPTIONS';
    if (counted) return limitStream(c, open ? next : async () => void (await auth(c, next)));
    return open ? next() : auth(c, next);
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/health',
      summary: 'Liveness and dependencies',
      responses: { 200: json(Health, 'The broker is up; dependencies listed'), 503: json(Health, 'A dependency is unavailable') },
    }),
    async (c) => {
      if (deps.deepHealth && c.req.query('deep') !== undefined) {
        const deep = await deps.deepHealth(c.req.header('authorization'));
        return c.json(deep.body as never, deep.httpStatus);
      }
      const dependencies = await deps.health();
      const ok = Object.values(dependencies).every((v) => v === 'ok');
      return c.json({ status: ok ? ('ok' as const) : ('degraded' as const), dependencies }, ok ? 200 : 503);
    },
  );

  // Documented like every route, but served by a plain handler: the body is parsed once and checked
  // by the same schema once, with no validator middleware in between (the hot path of the broker).
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/api/query',
      summary: 'Run one SQL statement through policy, masking and audit',
      security: [{ bearer: [] }],
      request: { body: { content: { 'application/json': { schema: QueryBody } }, required: true } },
      responses: {
        200: json(QueryResult, 'Allowed and executed, or a dry run (decision allowed or would_need_approval, executed false)'),
        202: json(PendingApproval, 'A human must approve first; poll statusUrl, hand approvalUrl to a human'),
        ...queryErrorResponses,
      },
    }),
  );
  app.post('/api/query', async (c) => {
    const body = await readJsonBody(c, QueryBody, QUERY_FIELDS);
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
      return c.json(out, 202);
    }
    return c.json(outcome, 200);
  });

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
