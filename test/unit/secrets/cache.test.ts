import { describe, it, expect } from 'vitest';
import { createSingleFlightCache } from '../../../src/secrets/cache.js';

function manualClock() {
  let t = 0;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('single-flight TTL cache', () => {
  it('serves a value until its TTL ends and loads again after', async () => {
    const clock = manualClock();
    const cache = createSingleFlightCache<string>({ ttlMs: 100, clock });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('k', load)).toBe('v1');
    clock.advance(99);
    expect(await cache.get('k', load)).toBe('v1');
    clock.advance(1);
    expect(await cache.get('k', load)).toBe('v2');
  });

  it('never serves an expired value when the reload fails', async () => {
    const clock = manualClock();
    const cache = createSingleFlightCache<string>({ ttlMs: 100, clock });
    await cache.get('k', async () => 'old');
    clock.advance(100);
    await expect(cache.get('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(cache.get('k', async () => Promise.reject(new Error('still down')))).rejects.toThrow('still down');
  });

  it('shares one load among concurrent callers, and a failed load among them too', async () => {
    const cache = createSingleFlightCache<string>({ ttlMs: 100, clock: manualClock() });
    const gate = deferred<string>();
    let loads = 0;
    const load = () => (loads++, gate.promise);
    const all = Promise.allSettled([cache.get('k', load), cache.get('k', load), cache.get('k', load)]);
    gate.reject(new Error('down'));
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(loads).toBe(1);
    await expect(cache.get('k', async () => 'back')).resolves.toBe('back');
  });

  it('does not cache a load that was under way when invalidate() was called', async () => {
    const cache = createSingleFlightCache<string>({ ttlMs: 100, clock: manualClock() });
    const gate = deferred<string>();
    const stale = cache.get('k', () => gate.promise);
    cache.invalidate('k');
    const fresh = cache.get('k', async () => 'new');
    gate.resolve('old');
    expect(await stale).toBe('old');
    expect(await fresh).toBe('new');
    expect(await cache.get('k', async () => 'unexpected')).toBe('new');
  });
});
