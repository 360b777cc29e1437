/**
 * GET /api/requests/{requestId}: the status an agent polls after a 202, with the masked result
 * once the approved statement ran. Visible to the requester, the approvers of its profile and
 * auditors; everyone else gets 404, so request ids cannot be probed.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { BrokerError } from '../../errors.js';
import type { Clock } from '../../broker/ports.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { Principal } from '../../identity/principal.js';
import type { RequestStore } from '../../approval/store/request-store.js';
import { requestView, viewerRole } from '../../approval/review/view.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { sendError } from '../errors.js';
import { Column, Reason, errorResponse, json } from '../schemas.js';

export const RequestIdParam = z.object({
  requestId: z
    .string()
    .regex(/^r_[A-Za-z0-9_-]{8,64}$/)
    .openapi({ param: { name: 'requestId', in: 'path' }, example: 'r_3q2b5dK0m9WzC1xYv4uTsg' }),
});

const Who = z.object({ oid: z.string(), name: z.string().optional() });

export const RequestStatus = z
  .object({
    requestId: z.string(),
    sessionId: z.string(),
    state: z.enum(['pending_approval', 'approved', 'rejected', 'expired', 'executed', 'failed']),
    sqlHash: z.string(),
    sql: z.string(),
    params: z.array(z.unknown()).optional().openapi({ description: 'bound parameters (requester and approvers only)' }),
    paramCount: z.number().int(),
    reasons: z.array(Reason),
    connection: z.string(),
    profile: z.string(),
    requester: Who,
    estimatedRows: z.number().optional(),
    reason: z.string().optional(),
    createdAt: z.string(),
    expiresAt: z.string(),
    approvalUrl: z.string().optional().openapi({ description: 'the review page on the broker\'s public URL, to hand to a human approver' }),
    decision: z
      .object({ outcome: z.enum(['approved', 'rejected']), approver: Who, time: z.string(), comment: z.string().optional() })
      .optional(),
    result: z
      .object({
        columns: z.array(Column),
        rows: z.array(z.array(z.unknown())),
        rowCount: z.number().int(),
        truncated: z.boolean(),
        durationMs: z.number(),
        rowsWithheld: z.string().optional().openapi({ description: 'why the rows are not included (they could not be masked for every viewer)' }),
      })
      .optional()
      .openapi({ description: 'the result when state is executed, masked as for a caller not exempt from masking (whoever asked)' }),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .openapi('RequestStatus');

export interface RequestRouteDeps {
  policy: PolicyConfig;
  store: RequestStore;
  clock: Clock;
  /** the review page of a request on the public URL (`approvalUrl` in the status) */
  reviewUrl?: (requestId: string) => string;
}

/**
 * The status of a request as its requester, an approver or an auditor may see it (REST and the MCP
 * tool answer with this); `not_found` for anyone else, so a request's existence is not revealed.
 */
export async function requestStatusOf(deps: RequestRouteDeps, principal: Principal, requestId: string): Promise<z.infer<typeof RequestStatus>> {
  const stored = await deps.store.get(requestId);
  const role = stored ? viewerRole(deps.policy, principal, stored.record) : undefined;
  if (!stored || !role) throw new BrokerError('not_found', 'No such request, or it is not yours to see.');
  const view = requestView(stored.record, role, deps.clock.now());
  return deps.reviewUrl ? { ...view, approvalUrl: deps.reviewUrl(requestId) } : view;
}

/** Runs the app's bearer authentication unless an earlier middleware already did. */
export function ensureAuthenticated(auth: MiddlewareHandler<HttpEnv>): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    if (c.get('principal')) return next();
    return auth(c, next);
  };
}

export function requestRoutes(deps: RequestRouteDeps): (app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void {
  return (app, auth) => {
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/requests/{requestId}',
        summary: 'Status of a request held for approval (and its masked result once executed)',
        security: [{ bearer: [] }],
        middleware: [ensureAuthenticated(auth)] as const,
        request: { params: RequestIdParam },
        responses: {
          200: json(RequestStatus, 'The request and its state'),
          401: errorResponse('invalid_token'),
          404: errorResponse('No such request, or not yours to see'),
          503: errorResponse('dependency_unavailable'),
        },
      }),
      async (c) => {
        const { requestId } = c.req.valid('param');
        try {
          return c.json(await requestStatusOf(deps, c.get('principal'), requestId), 200);
        } catch (e) {
          return sendError(c, e) as never;
        }
      },
    );
  };
}
