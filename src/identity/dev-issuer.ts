import { SignJWT, generateKeyPair, exportJWK, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Tenant id the dev issuer puts in its tokens. */
export const DEV_TENANT = '00000000-0000-0000-0000-00000000dead';

export const DevTokenRequest = z
  .object({
    sub: z.string().min(1).max(128),
    name: z.string().max(256).optional(),
    roles: z.array(z.string().min(1).max(128)).max(50).default([]),
    groups: z.array(z.string().min(1).max(128)).max(50).default([]),
    oid: z.string().min(1).max(128).optional(),
    /** `app` (an agent's app-only token, the default) or `user` (a person) */
    idtyp: z.enum(['app', 'user']).default('app'),
    expiresInSeconds: z.number().int().positive().max(24 * 3600).default(3600),
  })
  .strict();
export type DevTokenRequest = z.input<typeof DevTokenRequest>;

export interface DevIssuer {
  issuer: string;
  jwks(): { keys: JWK[] };
  issue(request: DevTokenRequest): Promise<string>;
}

/**
 * A local token issuer for `npm start` and tests: signs RS256 tokens with a key pair made at start
 * and publishes its JWKS, so the broker checks them with the very verifier it uses for Entra ID.
 * Never wired in Azure.
 */
export async function createDevIssuer(options: { issuer: string; audience: string }): Promise<DevIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    issuer: options.issuer,
    jwks: () => ({ keys: [publicJwk] }),
    async issue(request) {
      const r = DevTokenRequest.parse(request);
      const oid = r.oid ?? `dev-${r.sub}`;
      const claims: Record<string, unknown> = { oid, tid: DEV_TENANT, roles: r.roles, groups: r.groups, idtyp: r.idtyp, azp: `dev-app-${r.sub}` };
      if (r.name) claims.name = r.name;
      if (r.idtyp === 'user') claims.scp = 'access_as_user';
      return await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(r.sub)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime(`${r.expiresInSeconds}s`)
        .setJti(randomUUID())
        .sign(privateKey);
    },
  };
}
