import { describe, it, expect, beforeAll } from 'vitest';
import { SignJWT, generateKeyPair, exportJWK, createLocalJWKSet, type JWK } from 'jose';
import { createTokenVerifier } from '../../../src/identity/verify.js';
import { audiencesOf, primaryAudience } from '../../../src/identity/audience.js';
import { validatePolicy } from '../../../src/policy/load.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP_ID = '5b1c3d2e-1111-4222-8333-944455556666';
const URI = 'api://query-broker-dev';
const ISSUER = `https://sts.windows.net/${TENANT}/`;

const basePolicy = {
  tenant: TENANT,
  connections: { sales: { host: 'db.example.com', database: 'sales', credentials: { keyVaultSecret: 'sales-agent' } } },
  profiles: { read: { match: { roles: ['Query.Read'] }, connections: ['sales'], access: 'read' } },
};

describe('the policy audience: one value or a list', () => {
  it('keeps the string form, accepts a list, refuses an empty list or an empty value', () => {
    expect(validatePolicy({ ...basePolicy, audience: URI }).audience).toBe(URI);
    expect(validatePolicy({ ...basePolicy, audience: [URI, APP_ID] }).audience).toEqual([URI, APP_ID]);
    expect(() => validatePolicy({ ...basePolicy, audience: [] })).toThrow(/audience/);
    expect(() => validatePolicy({ ...basePolicy, audience: [''] })).toThrow(/audience/);
    expect(audiencesOf([URI, APP_ID, URI])).toEqual([URI, APP_ID]);
    expect(primaryAudience([URI, APP_ID])).toBe(URI);
    expect(primaryAudience(URI)).toBe(URI);
  });
});

describe('the verifier accepts the identifier URI and the application id GUID', () => {
  let sign: (aud: string) => Promise<string>;
  let jwks: { keys: JWK[] };

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] };
    sign = (aud) =>
      new SignJWT({ tid: TENANT, roles: ['Query.Read'], appid: 'agent-app', idtyp: 'app', oid: 'agent-oid' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(aud)
        .setSubject('agent-oid')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
  });

  it('a `{appId}/.default` token (aud = GUID) and an `api://…/.default` token both verify; another audience does not', async () => {
    const policy = validatePolicy({ ...basePolicy, audience: [URI, APP_ID] });
    const verifier = createTokenVerifier({ audience: audiencesOf(policy.audience), issuers: [ISSUER], tenant: TENANT, keys: createLocalJWKSet(jwks) });
    await expect(verifier.verify(`Bearer ${await sign(URI)}`)).resolves.toMatchObject({ oid: 'agent-oid', roles: ['Query.Read'] });
    await expect(verifier.verify(`Bearer ${await sign(APP_ID)}`)).resolves.toMatchObject({ oid: 'agent-oid' });
    await expect(verifier.verify(`Bearer ${await sign('api://someone-else')}`)).rejects.toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/audience/) });
  });

  it('with the string form only that audience verifies (a GUID token is refused)', async () => {
    const policy = validatePolicy({ ...basePolicy, audience: URI });
    const verifier = createTokenVerifier({ audience: audiencesOf(policy.audience), issuers: [ISSUER], tenant: TENANT, keys: createLocalJWKSet(jwks) });
    await expect(verifier.verify(`Bearer ${await sign(URI)}`)).resolves.toMatchObject({ oid: 'agent-oid' });
    await expect(verifier.verify(`Bearer ${await sign(APP_ID)}`)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
