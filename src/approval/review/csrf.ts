/**
 * CSRF protection of the review page's form, without server state or a shared key (so any
 * instance can check what another one issued): a random value in an HttpOnly SameSite=Strict
 * cookie, and in the form an HMAC of the approver's object id and the request id keyed by that
 * value. A cross-site page can neither read the cookie nor compute the field, and a field taken
 * from one approver's page is useless in another's session or for another request. On top, a
 * form post must come from this origin (Origin header, or Sec-Fetch-Site for browsers that omit it).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readCookie } from './approver-identity.js';

export const CSRF_COOKIE = 'qb_csrf';
export const CSRF_FIELD = 'csrf';
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export function newCsrfSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfSecretFrom(headers: Headers): string | undefined {
  const v = readCookie(headers, CSRF_COOKIE);
  return v !== undefined && COOKIE_VALUE.test(v) ? v : undefined;
}

export function csrfToken(secret: string, approverOid: string, requestId: string): string {
  return createHmac('sha256', secret).update(`${approverOid}\n${requestId}`).digest('base64url');
}

export function csrfTokenValid(secret: string | undefined, token: string | undefined, approverOid: string, requestId: string): boolean {
  if (!secret || !token) return false;
  const expected = Buffer.from(csrfToken(secret, approverOid, requestId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Set-Cookie for the secret: scoped to the approval routes, never readable by script. */
export function csrfCookie(secret: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${secret}; Path=/api/approvals; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=28800`;
}

/**
 * Whether a form post comes from a page of this broker: its Origin is the request's own origin
 * or the configured public one. Without Origin, only `Sec-Fetch-Site: same-origin` will do.
 */
export function sameOriginPost(headers: Headers, requestUrl: string, publicBaseUrl: string | undefined): boolean {
  const origin = headers.get('origin');
  if (origin === null) return headers.get('sec-fetch-site') === 'same-origin';
  const allowed = new Set([new URL(requestUrl).origin]);
  if (publicBaseUrl) allowed.add(new URL(publicBaseUrl).origin);
  return allowed.has(origin);
}
