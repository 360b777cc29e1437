/**
 * Who is deciding: an approver reaches the approval routes with a bearer token (CLI, API), the
 * local dev sign-in's session cookie, or, in Azure, the access token App Service Authentication
 * forwards after its sign-in (X-MS-TOKEN-AAD-ACCESS-TOKEN). Every one of them is a signed token
 * that the broker's own verifier checks (signature, issuer, audience, tenant, expiry).
 *
 * The unsigned X-MS-CLIENT-PRINCIPAL header is never an identity: nothing proves who wrote it
 * (a path App Service Authentication does not front, a misconfiguration, a proxy in between), and
 * the broker does not depend on the platform's token store being shared between instances either:
 * what counts is the signed token on the request in hand. Outside App Service with authentication
 * on, any platform header is refused outright, because a client wrote it.
 */
import { BrokerError } from '../../errors.js';
import type { IdentityVerifier } from '../../broker/ports.js';
import type { Principal } from '../../identity/principal.js';

/** Headers only App Service Authentication may set. */
export const PLATFORM_PRINCIPAL_HEADERS = [
  'x-ms-client-principal',
  'x-ms-client-principal-id',
  'x-ms-client-principal-name',
  'x-ms-client-principal-idp',
  'x-ms-token-aad-access-token',
  'x-ms-token-aad-id-token',
] as const;

/** The local dev sign-in's cookie: a dev-issuer access token, checked by the same verifier. */
export const SESSION_COOKIE = 'qb_approver_session';

export type PlatformPrincipalPolicy =
  /** local host: these headers never come from a platform */
  | 'refuse'
  /** Azure host: trusted when App Service Authentication runs in front of this app */
  | 'trust-on-app-service';

/** App Service sets WEBSITE_SITE_NAME on every app and WEBSITE_AUTH_ENABLED when authentication is on. */
export function platformAuthenticationActive(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.WEBSITE_SITE_NAME) && (env.WEBSITE_AUTH_ENABLED ?? '').toLowerCase() === 'true';
}

export type ApproverIdentity =
  | { ok: true; principal: Principal; via: 'bearer' | 'session' | 'platform' }
  | {
      ok: false;
      error: BrokerError;
      /** stable code for the audit record */
      code: 'unauthenticated' | 'invalid_token' | 'untrusted_principal_header';
      /** the identity a refused request claimed, for the record (never trusted) */
      claimed?: string;
    };

export interface ApproverIdentityOptions {
  verifier: IdentityVerifier;
  platform: PlatformPrincipalPolicy;
  /** when set, a platform principal must belong to this tenant */
  tenant?: string;
  env?: NodeJS.ProcessEnv;
}

interface ClientPrincipal {
  auth_typ?: string;
  claims?: { typ?: unknown; val?: unknown }[];
  name_typ?: string;
  role_typ?: string;
}

const OID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const TID_CLAIM = 'http://schemas.microsoft.com/identity/claims/tenantid';

/** X-MS-CLIENT-PRINCIPAL (base64 JSON with mapped claim names) → Principal; undefined when unusable. */
export function principalFromClientPrincipal(header: string): Principal | undefined {
  let parsed: ClientPrincipal;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ClientPrincipal;
  } catch {
    return undefined;
  }
  const claims = (parsed.claims ?? []).filter((c): c is { typ: string; val: string } => typeof c.typ === 'string' && typeof c.val === 'string');
  const all = (...types: string[]) => claims.filter((c) => types.includes(c.typ)).map((c) => c.val);
  const one = (...types: string[]) => all(...types)[0];
  const oid = one(OID_CLAIM, 'oid');
  if (!oid) return undefined;
  const principal: Principal = {
    oid,
    sub: one('http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier', 'sub') ?? oid,
    roles: all(parsed.role_typ ?? 'roles', 'roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'),
    groups: all('groups'),
    idtyp: 'user',
    exp: 0,
  };
  const tid = one(TID_CLAIM, 'tid');
  const name = one('name', parsed.name_typ ?? 'name', 'preferred_username');
  if (tid) principal.tid = tid;
  if (name) principal.name = name;
  principal.roles = [...new Set(principal.roles)];
  return principal;
}

function claimedBy(headers: Headers): string | undefined {
  const id = headers.get('x-ms-client-principal-id') ?? headers.get('x-ms-client-principal-name');
  if (id) return id.slice(0, 128);
  const encoded = headers.get('x-ms-client-principal');
  return encoded ? principalFromClientPrincipal(encoded)?.oid.slice(0, 128) : undefined;
}

export function readCookie(headers: Headers, name: string): string | undefined {
  const raw = headers.get('cookie');
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const unauthenticated = (message: string): ApproverIdentity => ({ ok: false, code: 'unauthenticated', error: new BrokerError('invalid_token', message) });

/** Resolve the approver of one request; never throws for an identity problem, returns it. */
export async function resolveApprover(headers: Headers, options: ApproverIdentityOptions): Promise<ApproverIdentity> {
  const platformTrusted = options.platform === 'trust-on-app-service' && platformAuthenticationActive(options.env);
  const platformHeaders = PLATFORM_PRINCIPAL_HEADERS.filter((h) => headers.has(h));
  if (platformHeaders.length > 0 && !platformTrusted) {
    const claimed = claimedBy(headers);
    return {
      ok: false,
      code: 'untrusted_principal_header',
      error: new BrokerError('invalid_token', `The request carries ${platformHeaders.join(', ')}, which only App Service Authentication may set, and this broker does not run behind it. The request was refused and recorded.`),
      ...(claimed ? { claimed } : {}),
    };
  }

  const verify = async (authorization: string, via: 'bearer' | 'session' | 'platform'): Promise<ApproverIdentity> => {
    try {
      return { ok: true, via, principal: await options.verifier.verify(authorization) };
    } catch (e) {
      const error = e instanceof BrokerError ? e : new BrokerError('invalid_token', 'The token could not be verified.');
      return { ok: false, code: 'invalid_token', error };
    }
  };

  const authorization = headers.get('authorization');
  if (authorization) return verify(authorization, 'bearer');

  if (platformTrusted) {
    // Only the signed access token counts, verified like any bearer token.
    const accessToken = headers.get('x-ms-token-aad-access-token');
    if (accessToken) return verify(`Bearer ${accessToken}`, 'platform');
    if (headers.has('x-ms-client-principal') || headers.has('x-ms-client-principal-id')) {
      const claimed = claimedBy(headers);
      return {
        ok: false,
        code: 'untrusted_principal_header',
        error: new BrokerError(
          'invalid_token',
          'The sign-in reached the broker without a signed access token (only the unsigned principal header), and the broker accepts signed tokens only. Sign in again at /.auth/login/aad, or approve with `qb approve` (a bearer token).',
        ),
        ...(claimed ? { claimed } : {}),
      };
    }
  }

  const session = readCookie(headers, SESSION_COOKIE);
  if (session) return verify(`Bearer ${session}`, 'session');
  return unauthenticated('Sign in as an approver, or send `Authorization: Bearer <access token>`.');
}
