import { jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BrokerError } from '../errors.js';
import type { IdentityVerifier } from '../broker/ports.js';
import type { Principal } from './principal.js';

export interface TokenVerifierOptions {
  /** exact expected `aud`: one value or any of a list */
  audience: string | string[];
  /** exact accepted `iss` values (Entra v1 and v2 forms for one tenant, or the dev issuer) */
  issuers: string[];
  /** where signing keys come from: a remote JWKS (Entra, the local dev issuer) */
  keys: JWTVerifyGetKey;
  /** when set, `tid` must equal it */
  tenant?: string;
  /** allowed clock skew for exp/nbf, seconds */
  clockToleranceSec?: number;
  /** tokens longer than this are refused before any parsing */
  maxTokenLength?: number;
  /** verified tokens kept until they expire (bounded) */
  cacheSize?: number;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

function invalid(message: string, cause?: unknown): BrokerError {
  return new BrokerError('invalid_token', message, { cause });
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Claims → Principal. Entra v1 uses `appid`, v2 `azp`; `idtyp=app` marks app-only tokens. */
export function principalFromClaims(claims: JWTPayload): Principal {
  const sub = str(claims.sub);
  if (!sub) throw invalid('The token has no subject. Request a new access token for this API.');
  const oid = str(claims.oid) ?? sub;
  const idtyp = claims.idtyp === 'app' || (claims.idtyp === undefined && claims.scp === undefined) ? 'app' : 'user';
  const principal: Principal = {
    oid,
    sub,
    roles: stringArray(claims.roles),
    groups: stringArray(claims.groups),
    idtyp,
    exp: typeof claims.exp === 'number' ? claims.exp : 0,
  };
  const tid = str(claims.tid);
  const appId = str(claims.azp) ?? str(claims.appid);
  const name = str(claims.name) ?? str(claims.app_displayname) ?? str(claims.preferred_username);
  if (tid) principal.tid = tid;
  if (appId) principal.appId = appId;
  if (name) principal.name = name;
  return principal;
}

function messageFor(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'The token has expired. Request a new access token and retry.';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return 'The token was issued for another audience. Request a token for this broker\'s audience.';
    if (e.claim === 'iss') return 'The token comes from an issuer this broker does not trust. Use a token from the configured tenant.';
    if (e.claim === 'nbf') return 'The token is not valid yet. Check the clock and retry.';
    return `The token's "${e.claim}" claim is not acceptable. Request a new access token for this API.`;
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is not signed with RS256. Request an access token from Entra ID.';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature does not verify. Request a new access token.';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'The token was signed with an unknown key. Request a new access token.';
  if (e instanceof joseErrors.JWKSTimeout || (e instanceof Error && /fetch|ECONNREFUSED|network/i.test(e.message))) {
    return 'The signing keys could not be fetched. Retry in a moment.';
  }
  return 'The bearer token is malformed or not acceptable. Send `Authorization: Bearer <access token>`.';
}

/**
 * Verifies Entra ID (or dev issuer) access tokens: RS256 only, exact issuer and audience, exp/nbf with
 * small skew. Key selection uses only the JWKS given here; `jku`, `x5u` and `jwk` headers are ignored.
 */
export function createTokenVerifier(options: TokenVerifierOptions): IdentityVerifier {
  const maxLen = options.maxTokenLength ?? 16 * 1024;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, Principal>();

  return {
    async verify(authorization) {
      if (!authorization) throw invalid('No bearer token. Send `Authorization: Bearer <Entra ID access token>`.');
      // Keyed by the whole header, which was checked as `Bearer <JWT>` before its entry was made: a
      // repeated token costs one map look-up, without the header's pattern match or any hashing.
      const key = authorization;
      const cached = cache.get(key);
      if (cached) {
        if (cached.exp > Date.now() / 1000) return cached;
        cache.delete(key);
      }
      if (authorization.length > maxLen + 7) throw invalid('The bearer token is too large.');
      const m = BEARER.exec(authorization);
      if (!m?.[1]) throw invalid('The Authorization header is not a bearer JWT. Send `Authorization: Bearer <access token>`.');
      const token = m[1];

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, options.keys, {
          algorithms: ['RS256'],
          issuer: options.issuers,
          audience: options.audience,
          clockTolerance: options.clockToleranceSec ?? 60,
          requiredClaims: ['exp', 'iss', 'aud', 'sub'],
          maxTokenAge: '24h',
        }));
      } catch (e) {
        throw invalid(messageFor(e), e);
      }
      if (options.tenant && payload.tid !== options.tenant) {
        throw invalid('The token belongs to another tenant. Use a token from the configured tenant.');
      }
      const principal = principalFromClaims(payload);
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(key, principal);
      return principal;
    },
  };
}

/** The issuers Entra ID uses for one tenant: v2.0 and v1 forms. */
export function entraIssuers(tenant: string): string[] {
  return [`https://login.microsoftonline.com/${tenant}/v2.0`, `https://sts.windows.net/${tenant}/`];
}

export function entraJwksUrl(tenant: string): URL {
  return new URL(`https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`);
}
