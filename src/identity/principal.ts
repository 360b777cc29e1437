/** The verified caller: built only from a token whose signature, issuer and audience checked out. */
export interface Principal {
  /** Entra object id of the user or service principal (falls back to `sub`) */
  oid: string;
  sub: string;
  tid?: string;
  /** client application id (`azp` in v2 tokens, `appid` in v1) */
  appId?: string;
  name?: string;
  roles: string[];
  groups: string[];
  /** `app` for app-only tokens (the normal case for an agent), `user` for people */
  idtyp: 'app' | 'user';
  /** token expiry, seconds since the epoch */
  exp: number;
}

export function describePrincipal(p: Principal): string {
  return p.name ? `${p.name} (${p.oid})` : p.oid;
}
