import { describe, it, expect } from 'vitest';
import { RefusalThrottle } from '../../../src/approval/workflow/refusal-throttle.js';

function throttle(perRequest = 3, perAddress = 5) {
  let t = 1_000_000;
  const th = new RefusalThrottle({ perRequest, perAddress, windowMs: 60_000, now: () => t });
  return { th, advance: (ms: number) => void (t += ms) };
}

describe('RefusalThrottle', () => {
  it('records the first refusals of a request in a window, counts the rest, and reports the count with the next recorded one', () => {
    const { th, advance } = throttle(3);
    const first = Array.from({ length: 10 }, () => th.admit('r_aaaaaaaaaa'));
    expect(first.filter((a) => a.record)).toHaveLength(3);
    // Exactly one "first suppressed" signal, for the 4th.
    expect(first.map((a) => (!a.record && a.first ? 1 : 0))).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    // Another request has its own bucket.
    expect(th.admit('r_bbbbbbbbbb')).toEqual({ record: true, suppressed: 0 });
    advance(59_999);
    expect(th.admit('r_aaaaaaaaaa').record).toBe(false);
    advance(1);
    // New window: recorded again, carrying the 8 that were not.
    expect(th.admit('r_aaaaaaaaaa')).toEqual({ record: true, suppressed: 8 });
    expect(th.admit('r_aaaaaaaaaa')).toEqual({ record: true, suppressed: 0 });
  });

  it('limits one client address across requests, and leaves other addresses alone', () => {
    const { th } = throttle(3, 5);
    const recorded = ['r_1111111111', 'r_2222222222', 'r_3333333333', 'r_4444444444']
      .flatMap((id) => [th.admit(id, '10.0.0.1'), th.admit(id, '10.0.0.1')])
      .filter((a) => a.record);
    expect(recorded).toHaveLength(5);
    // The request's own bucket still admits a caller from elsewhere.
    expect(th.admit('r_4444444444', '10.0.0.2')).toEqual({ record: true, suppressed: 2 });
  });

  it('without an address, only the per-request bucket applies', () => {
    const { th } = throttle(2, 1);
    expect([th.admit('r_1111111111'), th.admit('r_1111111111'), th.admit('r_1111111111')].map((a) => a.record)).toEqual([true, true, false]);
  });
});
