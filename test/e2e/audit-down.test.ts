import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let azurite: LocalAzurite;
let b: TestBroker;

beforeAll(async () => {
  azurite = await startAzurite();
  b = await startTestBroker({ blobConnectionString: azurite.connectionString });
});
afterAll(async () => {
  await b?.close();
  await azurite?.stop();
});

describe('the audit store is down: fail closed', () => {
  it('works while the store is up, then refuses reads and writes with 503 and changes nothing', async () => {
    const sessionId = 's_audit_down_test';
    const ok = await b.query({ connection: 'sales', sql: 'select count(*) from orders', sessionId }, ['Query.Write']);
    expect(ok.status).toBe(200);
    const countBefore = (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]?.n;

    await azurite.stop();

    const insert = await b.query({ connection: 'sales', sql: 'insert into orders (customer_id, amount_cents) values (1, 4242)', sessionId }, ['Query.Write']);
    expect(insert.status).toBe(503);
    expect(insert.body.error.code).toBe('dependency_unavailable');
    expect((await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]?.n).toBe(countBefore);
    expect((await b.db.query('select 1 from orders where amount_cents = 4242')).rowCount).toBe(0);

    const read = await b.query({ connection: 'sales', sql: 'select id, name, card_number from customers' }, ['Query.Read', 'PII.Read']);
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('dependency_unavailable');
    expect(JSON.stringify(read.body)).not.toContain('Ada Lovelace');
    expect(JSON.stringify(read.body)).not.toContain('4111111111111111');

    const health = await b.fetch('/api/health');
    expect(health.status).toBe(503);
  });
});
