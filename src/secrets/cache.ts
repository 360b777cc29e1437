import type { Clock } from '../broker/ports.js';

/**
 * A small in-memory cache for secrets: a value is served for `ttlMs` after it was loaded and
 * never after, and concurrent misses for one key share a single load (single flight), so a burst
 * of new database connections costs one Key Vault request, not one each.
 */
export interface SingleFlightCache<V> {
  /** The cached value, or the result of `load()` (shared with every caller waiting for the same key). */
  get(key: string, load: () => Promise<V>): Promise<V>;
  /** Forget the value; a load already under way is not cached when it lands. */
  invalidate(key: string): void;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export function createSingleFlightCache<V>(options: { ttlMs: number; clock: Clock }): SingleFlightCache<V> {
  const { ttlMs, clock } = options;
  const entries = new Map<string, Entry<V>>();
  const loading = new Map<string, Promise<V>>();
  // Bumped by invalidate() so a load that started before it cannot re-populate the cache.
  const generations = new Map<string, number>();

  return {
    get(key, load) {
      const hit = entries.get(key);
      if (hit !== undefined) {
        if (clock.now().getTime() < hit.expiresAt) return Promise.resolve(hit.value);
        // Expired: never served again, whether or not the reload below succeeds (fail closed).
        entries.delete(key);
      }
      const pending = loading.get(key);
      if (pending !== undefined) return pending;

      const generation = generations.get(key) ?? 0;
      const flight: Promise<V> = load()
        .then((value) => {
          if ((generations.get(key) ?? 0) === generation) {
            entries.set(key, { value, expiresAt: clock.now().getTime() + ttlMs });
          }
          return value;
        })
        .finally(() => {
          if (loading.get(key) === flight) loading.delete(key);
        });
      loading.set(key, flight);
      return flight;
    },
    invalidate(key) {
      entries.delete(key);
      loading.delete(key);
      generations.set(key, (generations.get(key) ?? 0) + 1);
    },
  };
}
