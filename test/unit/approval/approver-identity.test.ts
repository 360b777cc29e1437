import { describe, it, expect } from 'vitest';
import { BrokerError } from '../../../src/errors.js';
import type { IdentityVerifier } from '../../../src/broker/ports.js';
import type { Principal } from '../../../src/identity/principal.js';
import { platformAuthenticationActive, principalFromClientPrincipal, resolveApprover } from '../../../src/approval/review/approver-identity.js';
import { createLocalJWKSet } from 'jose';
import { createDevIssuer } from '../../../src/identity/dev-issuer.js';
import { createTokenVerifier } from '../../../src/identity/verify.js';
import { csrfToken, csrfTokenValid, sameOriginPost } from '../../../src/approval/review/csrf.js';

const TENANT = '11111111-2222-3333-4444-555555555555';

/** Accepts exactly one token string; anything else is invalid (stands in for the JWT verifier). */
const verifier: IdentityVerifier = {
  async verify(authorization) {
    if (authorization === 'Bearer good-token') return { oid: 'bearer-oid', sub: 'b', roles: ['Query.Approve'], groups: [], idtyp: 'user', exp: 0 } satisfies Principal;
    throw new BrokerError('invalid_token', 'bad token');
  },
};

function clientPrincipal(claims: Record<string, string | string[]>): string {
  const list = Object.entries(claims).flatMap(([typ, v]) => (Array.isArray(v) ? v : [v]).map((val) => ({ typ, val })));
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: list, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}

const approverHeader = clientPrincipal({
  'http://schemas.microsoft.com/identity/claims/objectidentifier': 'platform-oid',
  'http://schemas.microsoft.com/identity/claims/tenantid': TENANT,
  name: 'Pat Approver',
  roles: ['Query.Approve', 'Other'],
});
const azureEnv = { WEBSITE_SITE_NAME: 'func-qb', WEBSITE_AUTH_ENABLED: 'True' };

describe('approver identity', () => {
  it('reads App Service Authentication\'s client principal (mapped claim names)', () => {
    expect(principalFromClientPrincipal(approverHeader)).toMatchObject({ oid: 'platform-oid', tid: TENANT, name: 'Pat Approver', roles: ['Query.Approve', 'Other'], idtyp: 'user' });
    expect(principalFromClientPrincipal('not base64 json')).toBeUndefined();
  });

  it('never takes the unsigned principal header as the approver, even on App Service with authentication on', async () => {
    expect(platformAuthenticationActive(azureEnv)).toBe(true);
    expect(platformAuthenticationActive({ WEBSITE_SITE_NAME: 'func-qb' })).toBe(false);
    expect(platformAuthenticationActive({ WEBSITE_AUTH_ENABLED: 'true' })).toBe(false);
    const headers = new Headers({ 'x-ms-client-principal': approverHeader, 'x-ms-client-principal-id': 'platform-oid' });
    const r = await resolveApprover(headers, { verifier, platform: 'trust-on-app-service', tenant: TENANT, env: azureEnv });
    expect(r).toMatchObject({ ok: false, code: 'untrusted_principal_header', claimed: 'platform-oid' });
    expect(r.ok ? '' : r.error.message).toContain('qb approve');
  });

  it('on App Service takes the forwarded access token only when its signature verifies (real verifier)', async () => {
    const issuer = await createDevIssuer({ issuer: 'https://issuer.test/qb', audience: 'api://qb-test' });
    const forger = await createDevIssuer({ issuer: 'https://issuer.test/qb', audience: 'api://qb-test' });
    const real = createTokenVerifier({ audience: 'api://qb-test', issuers: [issuer.issuer], keys: createLocalJWKSet(issuer.jwks()) });
    const options = { verifier: real, platform: 'trust-on-app-service' as const, env: azureEnv };
    const good = await issuer.issue({ sub: 'pat', idtyp: 'user', roles: ['Query.Approve'] });
    const ok = await resolveApprover(new Headers({ 'x-ms-token-aad-access-token': good, 'x-ms-client-principal': approverHeader }), options);
    expect(ok).toMatchObject({ ok: true, via: 'platform', principal: { oid: 'dev-pat', roles: ['Query.Approve'] } });
    // Same claims, signed with another key: refused, and the principal header beside it changes nothing.
    const forged = await forger.issue({ sub: 'pat', idtyp: 'user', roles: ['Query.Approve'] });
    const refused = await resolveApprover(new Headers({ 'x-ms-token-aad-access-token': forged, 'x-ms-client-principal': approverHeader }), options);
    expect(refused).toMatchObject({ ok: false, code: 'invalid_token' });
    const unsigned = `${good.split('.').slice(0, 2).join('.')}.`;
    expect(await resolveApprover(new Headers({ 'x-ms-token-aad-access-token': unsigned }), options)).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('refuses a principal header outside Azure, even next to a valid bearer token, and says who it claimed', async () => {
    const headers = new Headers({ 'x-ms-client-principal': approverHeader, authorization: 'Bearer good-token' });
    for (const options of [
      { verifier, platform: 'refuse' as const },
      { verifier, platform: 'trust-on-app-service' as const, env: {} },
    ]) {
      const r = await resolveApprover(headers, options);
      expect(r).toMatchObject({ ok: false, code: 'untrusted_principal_header', claimed: 'platform-oid' });
    }
    const idOnly = await resolveApprover(new Headers({ 'x-ms-client-principal-id': 'someone' }), { verifier, platform: 'refuse' });
    expect(idOnly).toMatchObject({ ok: false, code: 'untrusted_principal_header', claimed: 'someone' });
  });

  it('verifies bearer tokens and the session cookie with the same verifier', async () => {
    expect(await resolveApprover(new Headers({ authorization: 'Bearer good-token' }), { verifier, platform: 'refuse' })).toMatchObject({ ok: true, via: 'bearer' });
    expect(await resolveApprover(new Headers({ cookie: 'a=b; qb_approver_session=good-token' }), { verifier, platform: 'refuse' })).toMatchObject({ ok: true, via: 'session' });
    expect(await resolveApprover(new Headers({ cookie: 'qb_approver_session=forged' }), { verifier, platform: 'refuse' })).toMatchObject({ ok: false, code: 'invalid_token' });
    expect(await resolveApprover(new Headers(), { verifier, platform: 'refuse' })).toMatchObject({ ok: false, code: 'unauthenticated' });
  });
});

describe('CSRF token and origin check', () => {
  const secret = 'x'.repeat(43);
  it('accepts only the token made for this approver and this request', () => {
    const token = csrfToken(secret, 'approver-1', 'r_aaaaaaaaaa');
    expect(csrfTokenValid(secret, token, 'approver-1', 'r_aaaaaaaaaa')).toBe(true);
    expect(csrfTokenValid(secret, token, 'approver-2', 'r_aaaaaaaaaa')).toBe(false);
    expect(csrfTokenValid(secret, token, 'approver-1', 'r_bbbbbbbbbb')).toBe(false);
    expect(csrfTokenValid('y'.repeat(43), token, 'approver-1', 'r_aaaaaaaaaa')).toBe(false);
    expect(csrfTokenValid(undefined, token, 'approver-1', 'r_aaaaaaaaaa')).toBe(false);
    expect(csrfTokenValid(secret, undefined, 'approver-1', 'r_aaaaaaaaaa')).toBe(false);
  });

  it('accepts a form post only from this origin (or the public URL)', () => {
    const url = 'http://127.0.0.1:7071/api/approvals/r_aaaaaaaaaa';
    expect(sameOriginPost(new Headers({ origin: 'http://127.0.0.1:7071' }), url, undefined)).toBe(true);
    expect(sameOriginPost(new Headers({ origin: 'http://localhost:7071' }), url, undefined)).toBe(false);
    expect(sameOriginPost(new Headers({ origin: 'https://qb.example.net' }), url, 'https://qb.example.net/')).toBe(true);
    expect(sameOriginPost(new Headers({ origin: 'null' }), url, undefined)).toBe(false);
    expect(sameOriginPost(new Headers(), url, undefined)).toBe(false);
    expect(sameOriginPost(new Headers({ 'sec-fetch-site': 'same-origin' }), url, undefined)).toBe(true);
  });
});
