import type { AccessToken, TokenCredential } from '@azure/identity';
import { BrokerError } from '../errors.js';
import { systemClock, type Clock } from '../broker/ports.js';

/** Scope of Azure Database for PostgreSQL: the token is the password of the Entra-mapped role. */
export const AZURE_POSTGRES_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/** A function that returns a currently valid token; `invalidate()` makes the next call fetch a new one. */
export interface EntraTokenSource {
  (): Promise<string>;
  invalidate(): void;
}

export interface EntraTokenSourceOptions {
  scope?: string;
  /** fetch a new token this long before the current one expires; default 5 minutes */
  refreshBeforeExpiryMs?: number;
  /** never hand out a token with less life left than this (a login takes time); default 30 s */
  minRemainingMs?: number;
  /** budget for one token request; default 10 s */
  timeoutMs?: number;
  clock?: Clock;
}

/**
 * Tokens of the broker's managed identity for the PostgreSQL scope, cached and refreshed before
 * expiry. Once a token is due for refresh, callers still get it while a single background refresh
 * runs; a failed refresh is retried on the next call, and only a token about to expire is refused
 * (fail closed with `dependency_unavailable`).
 */
export function createEntraTokenSource(credential: TokenCredential, options: EntraTokenSourceOptions = {}): EntraTokenSource {
  const scope = options.scope ?? AZURE_POSTGRES_SCOPE;
  const refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 5 * 60_000;
  const minRemainingMs = options.minRemainingMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;

  let current: { token: string; refreshAt: number; usableUntil: number } | undefined;
  let refreshing: Promise<string> | undefined;
  let generation = 0;

  function refresh(): Promise<string> {
    if (refreshing !== undefined) return refreshing;
    const startedIn = generation;
    const flight = fetchToken()
      .then((access) => {
        const usableUntil = access.expiresOnTimestamp - minRemainingMs;
        const refreshAt = Math.min(access.refreshAfterTimestamp ?? Infinity, access.expiresOnTimestamp - refreshBeforeExpiryMs);
        if (startedIn === generation) current = { token: access.token, refreshAt, usableUntil };
        return access.token;
      })
      .finally(() => {
        if (refreshing === flight) refreshing = undefined;
      });
    refreshing = flight;
    return flight;
  }

  async function fetchToken(): Promise<AccessToken> {
    let access: AccessToken | null;
    try {
      access = await credential.getToken(scope, { abortSignal: AbortSignal.timeout(timeoutMs) });
    } catch {
      // The credential's error may describe the identity endpoint's reply; keep it out of ours.
      throw unavailable();
    }
    if (access === null || access.token === '') throw unavailable();
    return access;
  }

  const source = (async () => {
    const now = clock.now().getTime();
    if (current !== undefined && now < current.usableUntil) {
      // Refresh ahead of expiry; the current token still serves meanwhile.
      if (now >= current.refreshAt) refresh().catch(() => {});
      return current.token;
    }
    current = undefined;
    return refresh();
  }) as EntraTokenSource;
  source.invalidate = () => {
    current = undefined;
    refreshing = undefined;
    generation += 1;
  };
  return source;
}

function unavailable(): BrokerError {
  return new BrokerError(
    'dependency_unavailable',
    'The broker could not get an Entra ID token for Azure Database for PostgreSQL from its managed identity; try again later.',
  );
}
