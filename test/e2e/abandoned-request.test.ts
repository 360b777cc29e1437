import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;
beforeAll(async () => {
  // A generous statement timeout, so only the abandoned request can stop the statement early.
  b = await startTestBroker({ policyPatch: (p) => (p.profiles['agent-read'].statementTimeoutMs = 120_000) });
});
afterAll(async () => b?.close());

const LONG = 'select count(*) from generate_series(1, 2000000000) a';

async function running(): Promise<number> {
  const r = await b.db.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where state = 'active' and query like 'select count(*) from generate_series(1, 2000000000)%'");
  return r.rows[0]?.n ?? 0;
}

describe('an abandoned HTTP request', () => {
  it('cancels its statement in the database', async () => {
    const token = await b.token({ sub: 'agent-1', roles: ['Query.Read'] });
    const controller = new AbortController();
    const pending = fetch(`${b.url}/api/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ connection: 'sales', sql: LONG }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    for (let i = 0; i < 100 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(1);
    controller.abort();
    await pending;
    for (let i = 0; i < 100 && (await running()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(0);
  });
});
