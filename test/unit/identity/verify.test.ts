import { describe, it, expect, beforeAll } from 'vitest';
import { SignJWT, generateKeyPair, exportJWK, createLocalJWKSet, type JWK } from 'jose';
import { createTokenVerifier, entraIssuers } from '../../../src/identity/verify.js';
import { BrokerError } from '../../../src/errors.js';
import type { IdentityVerifier } from '../../../src/broker/ports.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const AUD = 'api://query-broker';
const [V2, V1] = entraIssuers(TENANT) as [string, string];

let signing: CryptoKey;
let other: CryptoKey;
let verifier: IdentityVerifier;
let jwk: JWK;

async function token(claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: string | number; nbf?: string | number; key?: CryptoKey; kid?: string; header?: Record<string, unknown> } = {}): Promise<string> {
  const jwt = new SignJWT({ tid: TENANT, oid: 'agent-oid', roles: ['Query.Read'], idtyp: 'app', azp: 'app-1', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1', ...opts.header })
    .setIssuer(opts.iss ?? V2)
    .setAudience(opts.aud ?? AUD)
    .setSubject('agent-sub')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '10m');
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return await jwt.sign(opts.key ?? signing);
}

async function rejects(header: string | undefined): Promise<BrokerError> {
  const e = await verifier.verify(header).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BrokerError);
  expect((e as BrokerError).code).toBe('invalid_token');
  return e as BrokerError;
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signing = pair.privateKey;
  other = (await generateKeyPair('RS256')).privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
  verifier = createTokenVerifier({ audience: AUD, issuers: [V2, V1], tenant: TENANT, keys: createLocalJWKSet({ keys: [jwk] }) });
});

describe('token verification', () => {
  it('accepts an app-only Entra v2 token and maps its claims to a principal', async () => {
    const p = await verifier.verify(`Bearer ${await token({ name: 'Devin' })}`);
    expect(p).toMatchObject({ oid: 'agent-oid', tid: TENANT, appId: 'app-1', roles: ['Query.Read'], idtyp: 'app', name: 'Devin' });
  });

  it('accepts the v1 issuer form of the same tenant with appid', async () => {
    const p = await verifier.verify(`Bearer ${await token({ azp: undefined, appid: 'app-v1' }, { iss: V1 })}`);
    expect(p.appId).toBe('app-v1');
  });

  it('refuses a missing header, a non-bearer scheme and garbage', async () => {
    await rejects(undefined);
    await rejects('Basic dXNlcjpwYXNz');
    await rejects('Bearer not-a-jwt');
  });

  it('refuses an expired token, even within the cache', async () => {
    const e = await rejects(`Bearer ${await token({}, { exp: Math.floor(Date.now() / 1000) - 3600 })}`);
    expect(e.message).toMatch(/expired/);
  });

  it('refuses a token that is not valid yet', async () => {
    await rejects(`Bearer ${await token({}, { nbf: Math.floor(Date.now() / 1000) + 3600 })}`);
  });

  it('refuses the wrong audience, the wrong issuer and another tenant', async () => {
    expect((await rejects(`Bearer ${await token({}, { aud: 'api://other' })}`)).message).toMatch(/audience/);
    await rejects(`Bearer ${await token({}, { iss: 'https://login.microsoftonline.com/evil/v2.0' })}`);
    await rejects(`Bearer ${await token({ tid: '99999999-2222-3333-4444-555555555555' })}`);
  });

  it('refuses a token signed by another key, even with a matching kid', async () => {
    await rejects(`Bearer ${await token({}, { key: other })}`);
  });

  it('refuses alg=none and HS256 tokens (algorithm pinned to RS256)', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ iss: V2, aud: AUD, sub: 'x', tid: TENANT, exp: now + 600 });
    await rejects(`Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
    const hs = await new SignJWT({ tid: TENANT }).setProtectedHeader({ alg: 'HS256' }).setIssuer(V2).setAudience(AUD).setSubject('x').setExpirationTime('5m').sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough!!'));
    await rejects(`Bearer ${hs}`);
  });

  it('ignores an embedded jwk header: a self-signed token with its own key is refused', async () => {
    const attacker = await generateKeyPair('RS256', { extractable: true });
    const ownJwk = await exportJWK(attacker.publicKey);
    await rejects(`Bearer ${await token({}, { key: attacker.privateKey, kid: 'k1', header: { jwk: ownJwk, jku: 'http://127.0.0.1:1/keys' } })}`);
  });

  it('refuses oversized tokens before parsing', async () => {
    await rejects(`Bearer ${'a'.repeat(20_000)}.${'b'.repeat(10)}.c`);
  });
});
