/**
 * How many refused decision attempts from callers without a verified identity get their own audit
 * event. Those callers are not counted by the per-identity rate limit, and each refusal is appended
 * to the requester's session chain: unthrottled, anyone who learns a request id could flood it.
 *
 * Fixed one-minute windows, per instance: at most `perRequest` recorded refusals per request id
 * and at most `perAddress` per client address (when the host tells us the socket's address; a
 * header such as x-forwarded-for is the caller's to write, so it is never used). Refusals beyond
 * that are counted, not recorded; the next refusal of that request that is recorded carries the
 * count as `suppressed`. Every caller is still answered with its refusal.
 */

export interface RefusalThrottleOptions {
  /** recorded refusals per request id per window; default 5 */
  perRequest?: number;
  /** recorded refusals per client address per window, across requests; default 30 */
  perAddress?: number;
  windowMs?: number;
  now?: () => number;
}

export type RefusalAdmission =
  /** record it; `suppressed` refusals of this request were not recorded since the last one that was */
  | { record: true; suppressed: number }
  /** do not record it; `first` is true for the first one not recorded since the last that was */
  | { record: false; first: boolean };

interface Window {
  start: number;
  count: number;
}

/** Bounds the maps: an attacker inventing keys must not grow memory without limit. */
const MAX_KEYS = 50_000;

export class RefusalThrottle {
  private readonly perRequest: number;
  private readonly perAddress: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private readonly suppressed = new Map<string, number>();

  constructor(options: RefusalThrottleOptions = {}) {
    this.perRequest = options.perRequest ?? 5;
    this.perAddress = options.perAddress ?? 30;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  admit(requestId: string, clientAddress?: string): RefusalAdmission {
    const t = this.now();
    const byRequest = this.current(`request:${requestId}`, t);
    const byAddress = clientAddress ? this.current(`address:${clientAddress}`, t) : undefined;
    if (byRequest.count < this.perRequest && (!byAddress || byAddress.count < this.perAddress)) {
      byRequest.count++;
      if (byAddress) byAddress.count++;
      const suppressed = this.suppressed.get(requestId) ?? 0;
      this.suppressed.delete(requestId);
      return { record: true, suppressed };
    }
    if (this.suppressed.size > MAX_KEYS) this.suppressed.clear();
    const before = this.suppressed.get(requestId) ?? 0;
    this.suppressed.set(requestId, before + 1);
    return { record: false, first: before === 0 };
  }

  private current(key: string, t: number): Window {
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      if (this.windows.size > MAX_KEYS) this.windows.clear();
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    return w;
  }
}
