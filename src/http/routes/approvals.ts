/**
 * The approval page and the decision endpoint.
 *
 *   GET  /api/approvals/{requestId}   server-rendered review page for a signed-in approver
 *   POST /api/approvals/{requestId}   JSON with a bearer token (CLI, API), or the page's form
 *
 * These routes authenticate for themselves (bearer token, the local dev sign-in's cookie, or App
 * Service Authentication in Azure: see src/approval/review/approver-identity.ts). A credential the
 * browser sends on its own (cookie, platform session) is accepted only for a form post from this
 * origin carrying the CSRF token the page issued to that approver; JSON needs a bearer token.
 * Every decision attempt on an existing request, granted or refused, lands in its audit chain
 * (refusals of callers without a verified identity are throttled, and counted in the next recorded one).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { BrokerError } from '../../errors.js';
import type { Clock } from '../../broker/ports.js';
import type { PolicyConfig } from '../../policy/schema.js';
import type { Principal } from '../../identity/principal.js';
import type { DevIssuer } from '../../identity/dev-issuer.js';
import type { Logger } from '../../log.js';
import { actorFromPrincipal } from '../../audit/events.js';
import { resolveApprover, SESSION_COOKIE, type ApproverIdentity, type ApproverIdentityOptions } from '../../approval/review/approver-identity.js';
import { csrfCookie, csrfSecretFrom, csrfToken, csrfTokenValid, newCsrfSecret, sameOriginPost } from '../../approval/review/csrf.js';
import { refusal, unverifiedActor, type ApprovalDecisions, type AttemptOrigin, type DecisionInput } from '../../approval/workflow/decide.js';
import { PAGE_HEADERS, renderDevSignInPage, renderMessagePage, renderReviewPage } from '../../approval/review/page.js';
import { requestView, viewerRole } from '../../approval/review/view.js';
import type { ApprovalRequestRecord } from '../../approval/types.js';
import type { ImpactPreview } from '../../approval/review/impact.js';
import { RateLimiter } from '../rate-limit.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { sendError } from '../errors.js';
import { errorResponse, json } from '../schemas.js';
import { RequestIdParam, RequestStatus } from './requests.js';

const SqlHash = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');

/** How long the approver's confirmation page waits for the outcome of an approved statement. */
const OUTCOME_WAIT_MS = 5_000;
const OUTCOME_POLL_MS = 250;
export const DecisionBody = z
  .object({
    decision: z.enum(['approve', 'reject']),
    sqlHash: SqlHash.openapi({ description: 'the sqlHash of the statement you reviewed (from the 202 or GET /api/requests/{id})' }),
    comment: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('ApprovalDecision');

export const DecisionForm = z
  .object({
    decision: z.enum(['approve', 'reject']),
    sqlHash: SqlHash,
    comment: z.string().max(1000).optional(),
    csrf: z.string().max(200).optional(),
  })
  .openapi('ApprovalDecisionForm');

const Html = z.string().openapi({ description: 'HTML' });
const html = (description: string) => ({ content: { 'text/html': { schema: Html } }, description });

export interface ApprovalRouteDeps {
  policy: PolicyConfig;
  decisions: ApprovalDecisions;
  identity: ApproverIdentityOptions;
  clock: Clock;
  log: Logger;
  /** where a browser without a session signs in; `next` is the page to return to */
  signInUrl: (next: string) => string;
  /** the broker's public URL (QB_PUBLIC_BASE_URL), accepted as a form's Origin besides the request's own */
  publicBaseUrl?: string;
  /** the impact preview of a pending UPDATE/DELETE for this approver (approval/review/impact.ts) */
  impact?: (record: ApprovalRequestRecord, approver: Principal) => Promise<ImpactPreview | undefined>;
}

type Ctx = Context<HttpEnv>;

function htmlResponse(c: Ctx, body: string, status: number, extraHeaders: Record<string, string> = {}): Response {
  return c.html(body, status as 200, { ...PAGE_HEADERS, ...extraHeaders });
}

function isSecure(c: Ctx): boolean {
  return new URL(c.req.url).protocol === 'https:';
}

/**
 * The caller's address as the host saw the socket (@hono/node-server passes the Node request as
 * `env.incoming`). Headers such as x-forwarded-for are written by the caller, so they are not used;
 * where the host gives no socket (Azure Functions) the refusals are throttled per request only.
 */
function attemptOrigin(c: Ctx): AttemptOrigin {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined;
  const address = env?.incoming?.socket?.remoteAddress;
  return typeof address === 'string' && address !== '' ? { clientAddress: address } : {};
}

function pathOf(requestId: string): string {
  return `/api/approvals/${requestId}`;
}

export function approvalRoutes(deps: ApprovalRouteDeps): (app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void {
  const limiter = new RateLimiter(deps.policy.limits.requestsPerMinute);

  /** Identity of this request, rate-limited per identity like every other route. */
  async function identify(c: Ctx): Promise<ApproverIdentity> {
    const identity = await resolveApprover(c.req.raw.headers, deps.identity);
    if (identity.ok) limiter.check(identity.principal.oid);
    return identity;
  }

  async function loadOr404(requestId: string): Promise<ApprovalRequestRecord | undefined> {
    try {
      return await deps.decisions.load(requestId);
    } catch (e) {
      if (e instanceof BrokerError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  /** The approver's confirmation: the outcome when the statement finishes within a few seconds. */
  async function approvedOutcome(requestId: string): Promise<string> {
    for (let waited = 0; waited < OUTCOME_WAIT_MS; waited += OUTCOME_POLL_MS) {
      await new Promise((r) => setTimeout(r, OUTCOME_POLL_MS));
      const r = await loadOr404(requestId).catch(() => undefined);
      if (r?.state === 'executed' && r.result) return `Approved and executed: ${r.result.rowCount} ${r.result.rowCount === 1 ? 'row' : 'rows'}.`;
      if (r?.state === 'failed') return `Approved, but the statement failed${r.error ? `: ${r.error.code}: ${r.error.message}` : '.'}`;
    }
    return 'Approved: the statement is running; the request page shows its outcome once it is known.';
  }

  const page = (c: Ctx, title: string, error: BrokerError): Response =>
    htmlResponse(c, renderMessagePage(title, error.message, error.status === 409 ? 'warn' : 'err', { href: c.req.path, text: 'Back to the request' }), error.status);

  return (app) => {
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/approvals/{requestId}',
        summary: 'Review page of a held request (HTML), for a signed-in approver',
        security: [{ bearer: [] }],
        request: { params: RequestIdParam, query: z.object({ decision: z.enum(['approve', 'reject']).optional() }) },
        responses: {
          200: html('The review page, with the approve/reject form when you may decide'),
          302: { description: 'Not signed in: to the sign-in page' },
          401: html('A principal header this broker does not trust'),
          404: html('No such request, or not yours to see'),
        },
      }),
      async (c) => {
        const { requestId } = c.req.valid('param');
        const { decision: preselect } = c.req.valid('query');
        const identity = await identify(c);
        if (!identity.ok) {
          if (identity.code === 'untrusted_principal_header') {
            const record = await loadOr404(requestId);
            if (record) await deps.decisions.refuse(record, unverifiedActor(identity.claimed), refusal('invalid_token', 'untrusted_principal_header', identity.error.message), attemptOrigin(c));
            return htmlResponse(c, renderMessagePage('Refused', identity.error.message, 'err'), 401) as never;
          }
          const next = c.req.url.slice(new URL(c.req.url).origin.length);
          return c.redirect(deps.signInUrl(next), 302) as never;
        }
        const principal = identity.principal;
        const record = await loadOr404(requestId);
        const role = record ? viewerRole(deps.policy, principal, record) : undefined;
        if (!record || !role) return htmlResponse(c, renderMessagePage('Not found', 'No such request, or it is not yours to see.', 'err'), 404) as never;

        const view = requestView(record, role, deps.clock.now());
        const viewer = principal.name ? { oid: principal.oid, name: principal.name } : { oid: principal.oid };
        let notice: string | undefined;
        if (role === 'requester') notice = 'You asked for this statement; someone else must approve it.';
        else if (role !== 'approver') notice = 'You may see this request but you are not one of its approvers.';
        else if (view.state !== 'pending_approval') notice = `This request is ${view.state}; there is nothing left to decide.`;

        const headers: Record<string, string> = {};
        let form: Parameters<typeof renderReviewPage>[0]['form'];
        if (notice === undefined) {
          let secret = csrfSecretFrom(c.req.raw.headers);
          if (!secret) {
            secret = newCsrfSecret();
            headers['Set-Cookie'] = csrfCookie(secret, isSecure(c));
          }
          form = { action: pathOf(requestId), csrfToken: csrfToken(secret, principal.oid, requestId), ...(preselect ? { preselect } : {}) };
        }
        const impact = role === 'approver' && view.state === 'pending_approval' && deps.impact ? await deps.impact(record, principal) : undefined;
        return htmlResponse(c, renderReviewPage({ view, viewer, ...(form ? { form } : {}), ...(notice ? { notice } : {}), ...(impact ? { impact } : {}) }), 200, headers) as never;
      },
    );

    app.openapi(
      createRoute({
        method: 'post',
        path: '/api/approvals/{requestId}',
        summary: 'Approve or reject a held request',
        description:
          'JSON with a bearer token, or the review page\'s form (CSRF-protected). 403: not an approver, or self-approval. 409: wrong sqlHash, already decided, or expired. Every attempt is recorded.',
        security: [{ bearer: [] }],
        request: {
          params: RequestIdParam,
          body: {
            content: { 'application/json': { schema: DecisionBody }, 'application/x-www-form-urlencoded': { schema: DecisionForm } },
            required: false,
          },
        },
        responses: {
          200: json(RequestStatus, 'Decided: the new state'),
          400: errorResponse('invalid_request'),
          401: errorResponse('invalid_token (including a principal header this broker does not trust)'),
          403: errorResponse('not_an_approver, self_approval, or a cross-site form post'),
          404: errorResponse('No such request'),
          409: errorResponse('sql_hash_mismatch, already_decided or expired'),
          503: errorResponse('dependency_unavailable'),
        },
      }),
      async (c) => {
        const { requestId } = c.req.valid('param');
        const contentType = c.req.header('content-type') ?? '';
        const isForm = /^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(contentType);
        const isJson = /^application\/(.+\+)?json/i.test(contentType);
        const fail = (e: BrokerError): Response => (isForm ? page(c, 'Not applied', e) : sendError(c, e));
        if (!isForm && !isJson) return fail(new BrokerError('invalid_request', 'Send the decision as JSON (with a bearer token) or from the review page.')) as never;

        const record = await loadOr404(requestId);
        if (!record) return fail(new BrokerError('not_found', 'No such request.')) as never;

        const identity = await identify(c);
        if (!identity.ok) {
          const code = identity.code === 'untrusted_principal_header' ? 'untrusted_principal_header' : 'unauthenticated';
          const error = await deps.decisions.refuse(record, unverifiedActor(identity.claimed), refusal('invalid_token', code, identity.error.message), attemptOrigin(c));
          return fail(error) as never;
        }
        const principal: Principal = identity.principal;
        const actor = actorFromPrincipal(principal);

        let input: DecisionInput;
        if (isForm) {
          // Typed by hand: the route's two body schemas are merged in the inferred type.
          const form = c.req.valid('form') as z.infer<typeof DecisionForm>;
          // Credentials the browser attaches by itself need proof that this approver's page sent the form.
          if (identity.via !== 'bearer') {
            if (!sameOriginPost(c.req.raw.headers, c.req.url, deps.publicBaseUrl)) {
              return fail(await deps.decisions.refuse(record, actor, refusal('forbidden', 'cross_site_request', 'The form was not sent from this broker\'s review page. Open the review page and decide there.'))) as never;
            }
            if (!csrfTokenValid(csrfSecretFrom(c.req.raw.headers), form.csrf, principal.oid, requestId)) {
              return fail(await deps.decisions.refuse(record, actor, refusal('forbidden', 'csrf_token_invalid', 'The form\'s anti-forgery token is missing or not yours. Reload the review page and decide again.'))) as never;
            }
          }
          input = { decision: form.decision, sqlHash: form.sqlHash, ...(form.comment ? { comment: form.comment } : {}) };
        } else {
          if (identity.via !== 'bearer') {
            return fail(
              await deps.decisions.refuse(record, actor, refusal('forbidden', 'bearer_token_required', 'A JSON decision needs `Authorization: Bearer <access token>`; browsers use the review page\'s form.')),
            ) as never;
          }
          const body = c.req.valid('json');
          input = { decision: body.decision, sqlHash: body.sqlHash, ...(body.comment ? { comment: body.comment } : {}) };
        }

        let decided: ApprovalRequestRecord;
        try {
          decided = await deps.decisions.decide(record, principal, input);
        } catch (e) {
          if (e instanceof BrokerError) return fail(e) as never;
          throw e;
        }
        const role = viewerRole(deps.policy, principal, decided) ?? 'approver';
        const view = requestView(decided, role, deps.clock.now());
        if (isForm) {
          const done = decided.state === 'approved' ? await approvedOutcome(requestId) : 'Rejected: the statement will not run.';
          return htmlResponse(c, renderMessagePage('Decision recorded', done, decided.state === 'approved' ? 'ok' : 'warn', { href: pathOf(requestId), text: 'See the request' }), 200) as never;
        }
        return c.json(view, 200);
      },
    );
  };
}

export interface DevSignInDeps {
  devIssuer: DevIssuer;
  /** lifetime of the dev session; default 8 hours */
  sessionSeconds?: number;
}

/** Only a review page may be the target of the sign-in's redirect. */
const NEXT = /^\/api\/approvals\/r_[A-Za-z0-9_-]{8,64}(\?decision=(approve|reject))?$/;

/**
 * Local host only: a small sign-in page that asks the dev issuer for an approver's token and keeps
 * it in an HttpOnly cookie, so a browser can use the review page without Entra ID.
 */
export function devSignInRoutes(deps: DevSignInDeps): (app: BrokerApp, auth: MiddlewareHandler<HttpEnv>) => void {
  const sessionSeconds = deps.sessionSeconds ?? 8 * 3600;
  const SignInForm = z.object({
    sub: z.string().min(1).max(128).regex(/^[A-Za-z0-9._@-]+$/),
    name: z.string().max(256).optional(),
    roles: z.string().max(512).optional(),
    next: z.string().max(300).optional(),
  });
  return (app) => {
    app.openapi(
      createRoute({
        method: 'get',
        path: '/api/dev/sign-in',
        summary: 'Local host only: dev sign-in page for approvers',
        request: { query: z.object({ next: z.string().max(300).optional() }) },
        responses: { 200: html('The sign-in form') },
      }),
      (c) => {
        const next = c.req.valid('query').next ?? '';
        return htmlResponse(c, renderDevSignInPage({ action: '/api/dev/sign-in', next: NEXT.test(next) ? next : '' }), 200) as never;
      },
    );

    app.openapi(
      createRoute({
        method: 'post',
        path: '/api/dev/sign-in',
        summary: 'Local host only: sign in with a dev token (HttpOnly cookie)',
        request: { body: { content: { 'application/x-www-form-urlencoded': { schema: SignInForm } }, required: true } },
        responses: { 303: { description: 'Signed in: back to the review page' }, 403: html('A cross-site sign-in') },
      }),
      async (c) => {
        // Login CSRF: only this page may sign a browser in.
        if (!sameOriginPost(c.req.raw.headers, c.req.url, undefined)) {
          return htmlResponse(c, renderMessagePage('Refused', 'Sign in from the sign-in page of this broker.', 'err'), 403) as never;
        }
        const form = c.req.valid('form');
        const roles = (form.roles ?? '')
          .split(',')
          .map((r) => r.trim())
          .filter((r) => /^[A-Za-z0-9._-]{1,128}$/.test(r))
          .slice(0, 20);
        const token = await deps.devIssuer.issue({ sub: form.sub, roles, idtyp: 'user', expiresInSeconds: sessionSeconds, ...(form.name ? { name: form.name } : {}) });
        const secure = new URL(c.req.url).protocol === 'https:';
        const next = form.next && NEXT.test(form.next) ? form.next : '/api/dev/sign-in';
        c.header('Set-Cookie', `${SESSION_COOKIE}=${token}; Path=/api; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}; Max-Age=${sessionSeconds}`);
        return c.redirect(next, 303) as never;
      },
    );
  };
}
