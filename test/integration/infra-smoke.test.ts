import { describe, it, expect, afterAll } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../helpers/db.js';

describe('test infrastructure', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => db?.drop());

  it('seeds a demo database the broker role can read only through its agent roles', async () => {
    db = await createDemoDatabase();
    const { rows } = await db.query<{ n: string }>('select count(*)::text as n from customers');
    expect(rows[0]?.n).toBe('5');
    const broker = new pg.Client({ connectionString: db.brokerUrl });
    await broker.connect();
    try {
      await expect(broker.query('select * from customers')).rejects.toThrow(/permission denied/);
      await broker.query('set role qb_agent_read');
      const r = await broker.query('select count(*)::int as n from customers');
      expect(r.rows[0].n).toBe(5);
    } finally {
      await broker.end();
    }
  });
});
