/**
 * A masked column of array type: how long the array is varies with the value, and a
 * multidimensional ARRAY[...], an array `||` or an array_agg of arrays fails when sub-arrays differ
 * in length. On such a column those would be an error/no-error oracle on its length; on a masked
 * scalar they stay allowed (the shape is fixed by the statement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startTestBroker({
    policyPatch: (p) => {
      p.masking.rules.push({ column: 'public.rt_tags.tags', with: 'redact' });
    },
  });
  await b.db.query(`
    create table public.rt_tags (id int primary key, tags text[]);
    insert into public.rt_tags values (1, ARRAY['secret-a', 'secret-b', 'secret-c']);
    grant select on public.rt_tags to qb_agent_read;
  `);
});

afterAll(async () => b?.close());

describe('masked array columns', () => {
  it('the length oracle works on the raw server (premise)', async () => {
    const ok = await b.db.query("select ARRAY[tags, ARRAY['x', 'y', 'z']] from rt_tags where id = 1");
    expect(ok.rows).toHaveLength(1);
    await expect(b.db.query("select ARRAY[tags, ARRAY['x', 'y']] from rt_tags where id = 1")).rejects.toThrow(/dimensions/);
  });

  it('refuses array constructors, || and array_agg over a masked array column', async () => {
    for (const sql of [
      "select ARRAY[tags, ARRAY['x', 'y']] from rt_tags where id = 1",
      "select tags || ARRAY[ARRAY['x', 'y']] from rt_tags where id = 1",
      "select array_agg(x) from (select tags from rt_tags union all select ARRAY['x', 'y']) v(x)",
    ]) {
      const r = await b.query({ connection: 'sales', sql });
      expect(r.status, `${sql}: ${JSON.stringify(r.body)}`).toBe(403);
      expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('masked_column_in_fallible_expression');
      expect(JSON.stringify(r.body)).not.toContain('secret-');
    }
  });

  it('still masks the column itself, and a masked scalar in ARRAY[...] stays allowed', async () => {
    const plain = await b.query({ connection: 'sales', sql: 'select tags from rt_tags' });
    expect(plain.status).toBe(200);
    expect(plain.body.columns[0].masked).toBe('redact');
    expect(JSON.stringify(plain.body)).not.toContain('secret-');
    const scalar = await b.query({ connection: 'sales', sql: 'select ARRAY[card_number] from customers where id = 1' });
    expect(scalar.status, JSON.stringify(scalar.body)).toBe(200);
    expect(scalar.body.columns[0].masked).not.toBe(false);
  });
});
