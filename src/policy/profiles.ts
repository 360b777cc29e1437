import { BrokerError } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { ClaimMatch, PolicyConfig, ProfileConfig } from './schema.js';

/** Any listed role, group or object id of the principal is enough. */
export function matchesClaims(principal: Principal, match: ClaimMatch | undefined): boolean {
  if (!match) return false;
  return (
    match.roles.some((r) => principal.roles.includes(r)) ||
    match.groups.some((g) => principal.groups.includes(g)) ||
    match.oids.includes(principal.oid)
  );
}

export interface ResolvedProfile {
  name: string;
  profile: ProfileConfig;
}

const RANK = { read: 0, write: 1, admin: 2 } as const;

/** All profiles the principal matches for `connection`, most capable first (declaration order breaks ties). */
export function profilesFor(policy: PolicyConfig, principal: Principal, connection: string): ResolvedProfile[] {
  return Object.entries(policy.profiles)
    .filter(([, p]) => p.connections.includes(connection) && matchesClaims(principal, p.match))
    .map(([name, profile]) => ({ name, profile }))
    .sort((a, b) => RANK[b.profile.access] - RANK[a.profile.access]);
}

/**
 * The connection profile this principal uses for `connection`. When several match, the most capable
 * wins: reads still run read-only, and writes still go through the decision rules.
 */
export function resolveProfile(policy: PolicyConfig, principal: Principal, connection: string): ResolvedProfile {
  if (!(connection in policy.connections)) {
    throw new BrokerError('policy_denied', `There is no connection named "${connection}".`, {
      reasons: [{ code: 'unknown_connection', message: `No connection "${connection}" is configured. Call GET /api/connections to list the ones you may use.` }],
    });
  }
  const [best] = profilesFor(policy, principal, connection);
  if (!best) {
    throw new BrokerError('policy_denied', `No profile grants this identity access to "${connection}".`, {
      reasons: [{ code: 'no_matching_profile', message: `Your token's roles and groups match no profile for connection "${connection}". Ask an administrator to assign an app role such as Query.Read.` }],
    });
  }
  return best;
}

export function isExemptFromMasking(policy: PolicyConfig, principal: Principal): boolean {
  return matchesClaims(principal, policy.masking.exempt);
}

export function isAuditor(policy: PolicyConfig, principal: Principal): boolean {
  return matchesClaims(principal, policy.auditors);
}
