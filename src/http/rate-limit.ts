import { BrokerError } from '../errors.js';

/**
 * A fixed-window counter per identity, per instance. Enough to stop a runaway agent loop; a fleet-wide
 * limit belongs in front of the Function App (API Management), documented in README.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  check(key: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= 60_000) {
      if (this.windows.size > 50_000) this.windows.clear();
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > this.perMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((w.start + 60_000 - t) / 1000));
      throw new BrokerError('rate_limited', `Too many requests for this identity (limit ${this.perMinute} a minute). Wait ${retryAfterSeconds} s and retry.`, {
        details: { retryAfterSeconds },
      });
    }
  }
}
