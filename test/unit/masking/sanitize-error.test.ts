import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import { planMasking, sanitizeDatabaseError, type MaskingPolicyInput } from '../../../src/masking/index.js';
import { staticCatalog } from './static-catalog.js';

const POLICY: MaskingPolicyInput = {
  rules: [{ column: 'public.customers.card_number', with: 'last4' }],
  detectors: ['pan', 'email', 'ssn', 'secrets'],
  exempt: false,
};

beforeAll(async () => {
  await loadSqlParser();
});

const castError = { sqlstate: '22P02', message: 'invalid input syntax for type integer: "4111111111111111"', detail: 'Failing row contains (1, 4111111111111111).', hint: 'value 4111111111111111' };

describe('sanitizeDatabaseError', () => {
  it('names the SQLSTATE in words, never the server text, when a masked column is in reach, and says which', async () => {
    const plan = await planMasking(analyzeSql('select card_number || \'\' from customers'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError(castError, plan);
    expect(JSON.stringify(out)).not.toContain('4111');
    expect(out).toEqual({
      sqlstate: '22P02',
      message: expect.stringMatching(/^The statement failed: invalid input: .*\(SQLSTATE 22P02\)\. The server's message is withheld because masked columns are within reach of the statement \(public\.customers\.card_number\)/),
    });
  });

  it('does not echo numbers computed from a masked value (get_bit index, make_date day)', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), POLICY, staticCatalog());
    const errors = [
      { sqlstate: '2202E', message: 'index 49 out of valid range, 0..7' },
      { sqlstate: '22008', message: 'date field value out of range: 2000-01-52' },
      { sqlstate: '22003', message: 'integer out of range' },
    ];
    const outs = errors.map((e) => sanitizeDatabaseError(e, plan));
    for (const out of outs) {
      expect(out.message).not.toMatch(/49|52|0\.\.7|integer out of range|index|field value/);
      expect(Object.keys(out).sort()).toEqual(['message', 'sqlstate']);
    }
    // The words come from the SQLSTATE alone: the same code gives the same sentence, whatever the value.
    expect(sanitizeDatabaseError({ sqlstate: '2202E', message: 'index 3 out of valid range, 0..7' }, plan).message).toBe(outs[0]!.message);
  });

  it('keeps the SQLSTATE and says what kind of failure it was for other classes', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), POLICY, staticCatalog());
    // A quoted name the agent did not write could come from a value: withheld.
    expect(sanitizeDatabaseError({ sqlstate: '42703', message: 'column "x4111" does not exist', hint: 'Perhaps "card_number"' }, plan, 'select card_number from customers')).toEqual({
      sqlstate: '42703',
      message: expect.stringMatching(/undefined column: .*\(SQLSTATE 42703\)\. The server's message is withheld/),
    });
    expect(sanitizeDatabaseError({ sqlstate: '57014', message: 'canceling statement due to statement timeout' }, plan).message).toMatch(/cancelled.*57014/);
    expect(sanitizeDatabaseError({ sqlstate: 'XX000', message: 'something 123' }, plan).message).toMatch(/^The statement failed: an error \(SQLSTATE XX000\)/);
    expect(sanitizeDatabaseError({ message: 'no code 42' }, undefined)).toEqual({ message: expect.stringMatching(/SQLSTATE unknown/) });
  });

  it('returns a "does not exist" message when every name it quotes is in the agent\'s own SQL', async () => {
    const sql = 'select card_number, amount from customers';
    const plan = await planMasking(analyzeSql(sql), POLICY, staticCatalog());
    const hint = 'Perhaps you meant to reference the column "customers.name".';
    expect(sanitizeDatabaseError({ sqlstate: '42703', message: 'column "amount" does not exist', hint, detail: 'x' }, plan, sql)).toEqual({ sqlstate: '42703', message: 'column "amount" does not exist', hint });
    expect(sanitizeDatabaseError({ sqlstate: '42P01', message: 'relation "nonexistent" does not exist' }, plan, 'select * from nonexistent').message).toBe('relation "nonexistent" does not exist');
    // a name that is only part of a longer word of the SQL is not the agent's
    expect(sanitizeDatabaseError({ sqlstate: '42703', message: 'column "amo" does not exist' }, plan, sql).message).toMatch(/withheld/);
    // a hint that is not the catalog suggestion is dropped
    expect(sanitizeDatabaseError({ sqlstate: '42703', message: 'column "amount" does not exist', hint: 'value 4111' }, plan, sql).hint).toBeUndefined();
  });

  it('is strict without a plan (when in doubt, drop the detail)', () => {
    const out = sanitizeDatabaseError({ message: 'duplicate key value violates unique constraint "x"', detail: 'Key (email)=(ada@example.com) already exists.' }, undefined);
    expect(out.detail).toBeUndefined();
    expect(JSON.stringify(out)).not.toContain('ada@');
  });

  it('keeps a harmless message readable when nothing masked is in reach, but still runs the detectors', async () => {
    const plan = await planMasking(analyzeSql('select amount_cents from orders'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError({ message: 'column "amount" does not exist', hint: 'Perhaps you meant "amount_cents"; ask ada@example.com' }, plan);
    expect(out.message).toBe('column "amount" does not exist');
    expect(out.hint).toBe('Perhaps you meant "amount_cents"; ask ***@example.com');
  });

  it('removes hex bytes and long digit runs', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError({ sqlstate: '22021', message: 'invalid byte sequence for encoding "UTF8": 0x34313131 near 41111111' }, plan);
    expect(out.message).not.toMatch(/3431|4111/);
  });

  it('leaves errors alone for an exempt principal', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), { ...POLICY, exempt: true }, staticCatalog());
    expect(sanitizeDatabaseError(castError, plan)).toBe(castError);
  });
});
