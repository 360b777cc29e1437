/**
 * The byte cap on a result counts what the agent receives. Counted on the server's text, where
 * the cut falls would measure a masked value: next to a clear column that fills the cap, a derived
 * value one character longer or shorter decides whether the row comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const CAP = 200;
let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker({
    policyPatch: (p) => {
      p.profiles['agent-read'].maxResultBytes = CAP;
    },
  });
});

afterAll(async () => b?.close());

/** translate(card, d, '') drops the digit d: 15 characters when the card holds one d, 16 when none. */
const probe = (digit: string, fill: number) => `select translate(card_number, '${digit}', '') as t, repeat('x', ${fill}) as pad from customers where id = 1`;

describe('result byte cap', () => {
  it('the raw lengths differ with the masked value (premise)', async () => {
    const withFour = await b.db.query(`select length(translate(card_number, '4', '')) as n from customers where id = 1`);
    const withFive = await b.db.query(`select length(translate(card_number, '5', '')) as n from customers where id = 1`);
    expect([withFour.rows[0]!.n, withFive.rows[0]!.n]).toEqual([15, 16]);
  });

  it('gives the same answer whatever the masked value, because masked cells count at their masked size', async () => {
    // 184 + 15 = 199 fits the raw cap, 184 + 16 = 200 also fits, 185 + 16 = 201 would not: probe at the edge.
    for (const fill of [184, 185]) {
      const a = await b.query({ connection: 'sales', sql: probe('4', fill) });
      const c = await b.query({ connection: 'sales', sql: probe('5', fill) });
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      expect(c.status, JSON.stringify(c.body)).toBe(200);
      expect([a.body.rowCount, a.body.truncated]).toEqual([c.body.rowCount, c.body.truncated]);
      expect(a.body.columns[0].masked).not.toBe(false);
    }
  });

  it('still cuts a result over the cap and says so', async () => {
    const r = await b.query({ connection: 'sales', sql: `select repeat('x', 150) from customers` });
    expect(r.status).toBe(200);
    expect(r.body.truncated).toBe(true);
    expect(r.body.rowCount).toBe(1);
  });
});

describe('a single row over the limit', () => {
  it('ends that connection before the row is buffered, answers 422, and the next reads work', async () => {
    const big = await b.query({ connection: 'sales', sql: `select repeat('x', ${CAP + 200_000}) as big` });
    expect(big.status, JSON.stringify(big.body)).toBe(422);
    expect(big.body.error.code).toBe('query_failed');
    expect(big.body.error.message).toMatch(/larger than this profile allows/);
    for (let i = 0; i < 3; i++) {
      const next = await b.query({ connection: 'sales', sql: 'select id from customers order by id limit 2' });
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      expect(next.body.rows).toEqual([[1], [2]]);
    }
  });

  it('lets rows under the limit through on a connection the guard already watches', async () => {
    const r = await b.query({ connection: 'sales', sql: `select repeat('y', ${CAP - 10}) as fits` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows[0][0]).toHaveLength(CAP - 10);
  });
});
