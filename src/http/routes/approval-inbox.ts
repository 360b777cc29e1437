/**
 * GET /api/approvals — the approver's inbox (approval/store/inbox.ts): HTML for a person (signed in as
 * for the review page: the dev sign-in locally, App Service Authentication in Azure), JSON for a
 * bearer token (CLI, API) or `Accept: application/json`. Lists only what the caller may decide.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { BrokerError } from '../../errors.js';
import type { Clock } from '../../broker/ports.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { resolveApprover, type ApproverIdentityOptions } from '../../approval/review/approver-identity.js';
import type { RequestStore } from '../../approval/store/request-store.js';
import { inboxOf, inboxWindowMs } from '../../approval/store/inbox.js';
import { renderInboxPage } from '../../approval/review/inbox-page.js';
import { PAGE_HEADERS, renderMessagePage } from '../../approval/review/page.js';
import { RateLimiter } from '../rate-limit.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { sendError } from '../errors.js';
import { errorResponse, json } from '../schemas.js';

const Who = z.object({ oid: z.string(), name: z.string().optional() });
const InboxEntry = z
  .object({
    requestId: z.string(),
    state: z.enum(['pending_approval', 'approved', 'rejected', 'expired', 'executed', 'failed']),
    requester: Who,
    connection: z.string(),
    profile: z.string(),
    statementKind: z.string().openapi({ description: 'the statement\'s command, e.g. DELETE, UPDATE, CREATE TABLE' }),
    estimatedRows: z.number().optional(),
    reason: z.string().optional().openapi({ description: 'the agent\'s justification' }),
    createdAt: z.string(),
    expiresAt: z.string(),
    decision: z.object({ outcome: z.enum(['approved', 'rejected']), approver: Who, time: z.string() }).optional(),
    reviewPath: z.string().openapi({ description: 'the review page, relative to the broker' }),
  })
  .openapi('ApprovalInboxEntry');
export const ApprovalInbox = z
  .object({
    pending: z.array(InboxEntry).openapi({ description: 'waiting for a decision, oldest first' }),
    recent: z.array(InboxEntry).openapi({ description: 'decided or expired in the last 24 hours, newest first' }),
  })
  .openapi('ApprovalInbox');

export interface InboxRouteDeps {
  policy: PolicyConfig;
  store: RequestStore;
  identity: ApproverIdentityOptions;
  clock: Clock;
  signInUrl: (next: string) => string;
}

function wantsJson(c: Context<HttpEnv>): boolean {
  const accept = c.req.header('accept') ?? '';
  if (/application\/json/i.test(accept)) return true;
  if (/text\/html/i.test(accept)) return false;
  return /^bearer /i.test(c.req.header('authorization') ?? '');
}

export function inboxRoutes(deps: InboxRouteDeps): (app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void {
  const limiter = new RateLimiter(deps.policy.limits.requestsPerMinute);
  return (app) => {
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/approvals',
        summary: 'The approver\'s inbox: requests you may decide (pending first, oldest first) and those settled in the last 24 hours',
        description: 'JSON with a bearer token (or Accept: application/json); an HTML page for a signed-in person. Lists only requests whose profile names you as an approver and that you did not ask for.',
        security: [{ bearer: [] }],
        responses: {
          200: { content: { 'application/json': { schema: ApprovalInbox }, 'text/html': { schema: z.string() } }, description: 'The inbox' },
          302: { description: 'A browser that is not signed in: to the sign-in page' },
          401: errorResponse('invalid_token'),
          503: errorResponse('dependency_unavailable'),
        },
      }),
      async (c) => {
        const asJson = wantsJson(c);
        const identity = await resolveApprover(c.req.raw.headers, deps.identity);
        if (!identity.ok) {
          if (asJson) return sendError(c, identity.error) as never;
          if (identity.code === 'untrusted_principal_header') return c.html(renderMessagePage('Refused', identity.error.message, 'err'), 401, PAGE_HEADERS) as never;
          return c.redirect(deps.signInUrl('/api/approvals'), 302) as never;
        }
        const principal = identity.principal;
        try {
          limiter.check(principal.oid);
          if (!deps.store.listChangedSince) throw new BrokerError('dependency_unavailable', 'This request store cannot list requests; open the review links from the notifications instead.');
          const now = deps.clock.now();
          const records = await deps.store.listChangedSince(new Date(now.getTime() - inboxWindowMs(deps.policy)));
          const inbox = inboxOf(deps.policy, principal, records, now);
          if (asJson) return c.json(inbox, 200) as never;
          const viewer = principal.name ? { oid: principal.oid, name: principal.name } : { oid: principal.oid };
          return c.html(renderInboxPage(inbox, viewer), 200, PAGE_HEADERS) as never;
        } catch (e) {
          if (asJson || !(e instanceof BrokerError)) return sendError(c, e) as never;
          return c.html(renderMessagePage('Unavailable', e.message, 'err'), e.status as 503, PAGE_HEADERS) as never;
        }
      },
    );
  };
}
