import { describe, it, expect } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { AZURE_POSTGRES_SCOPE, createEntraTokenSource } from '../../../src/secrets/entra-token.js';

const MINUTE = 60_000;

function manualClock() {
  let t = Date.parse('2030-01-01T00:00:00Z');
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms), get t() { return t; } };
}

/** A TokenCredential (the SDK's extension point) issuing tokens valid for an hour of the test clock. */
function identity(clock: ReturnType<typeof manualClock>) {
  const state = { calls: 0, scopes: [] as string[], failing: false, gate: undefined as Promise<void> | undefined };
  const credential: TokenCredential = {
    async getToken(scopes): Promise<AccessToken> {
      state.calls++;
      state.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
      if (state.gate) await state.gate;
      if (state.failing) throw new Error('IMDS said: secret-ish detail');
      return { token: `token-${state.calls}`, expiresOnTimestamp: clock.t + 60 * MINUTE };
    },
  };
  return { credential, state };
}

describe('Entra token source for Azure Database for PostgreSQL', () => {
  it('asks for the PostgreSQL scope and caches the token', async () => {
    const clock = manualClock();
    const { credential, state } = identity(clock);
    const token = createEntraTokenSource(credential, { clock });
    expect(await token()).toBe('token-1');
    expect(await token()).toBe('token-1');
    expect(state.scopes).toEqual([AZURE_POSTGRES_SCOPE]);
    expect(state.calls).toBe(1);
  });

  it('refreshes before expiry while the current token keeps serving', async () => {
    const clock = manualClock();
    const { credential, state } = identity(clock);
    const token = createEntraTokenSource(credential, { clock, refreshBeforeExpiryMs: 5 * MINUTE });
    await token();
    clock.advance(56 * MINUTE); // inside the refresh window
    expect(await token()).toBe('token-1'); // served at once, refresh started behind it
    await new Promise((r) => setImmediate(r));
    expect(await token()).toBe('token-2');
    expect(state.calls).toBe(2);
  });

  it('keeps a still-valid token when a refresh fails, and fails closed once it is about to expire', async () => {
    const clock = manualClock();
    const { credential, state } = identity(clock);
    const token = createEntraTokenSource(credential, { clock, minRemainingMs: 30_000 });
    await token();
    state.failing = true;
    clock.advance(58 * MINUTE);
    expect(await token()).toBe('token-1');
    clock.advance(2 * MINUTE - 30_000);
    const error = await token().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'dependency_unavailable' });
    expect(String((error as Error).message)).not.toContain('secret-ish');
  });

  it('shares one token request among concurrent callers', async () => {
    const clock = manualClock();
    const { credential, state } = identity(clock);
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const token = createEntraTokenSource(credential, { clock });
    const all = Promise.all([token(), token(), token()]);
    open();
    expect(await all).toEqual(['token-1', 'token-1', 'token-1']);
    expect(state.calls).toBe(1);
  });

  it('fetches a new token after invalidate()', async () => {
    const clock = manualClock();
    const { credential } = identity(clock);
    const token = createEntraTokenSource(credential, { clock });
    await token();
    token.invalidate();
    expect(await token()).toBe('token-2');
  });
});
