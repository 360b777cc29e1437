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
  it('returns a fixed sentence per SQLSTATE class, never the server text, when a masked column is in reach', async () => {
    const plan = await planMasking(analyzeSql('select card_number || \'\' from customers'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError(castError, plan);
    expect(JSON.stringify(out)).not.toContain('4111');
    expect(out).toEqual({
      sqlstate: '22P02',
      message: expect.stringMatching(/^The statement failed on a value derived from a masked column \(SQLSTATE 22P02\); masked values cannot be used in expressions that can fail\./),
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
      expect(out.message).not.toMatch(/49|52|0\.\.7|out of range/);
      expect(Object.keys(out).sort()).toEqual(['message', 'sqlstate']);
    }
    // Same class, same sentence apart from the code: the message text carries nothing from the value.
    expect(outs[0]!.message.replace(/\(SQLSTATE \w+\)/, '')).toBe(outs[1]!.message.replace(/\(SQLSTATE \w+\)/, ''));
  });

  it('keeps the SQLSTATE and says what kind of failure it was for other classes', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), POLICY, staticCatalog());
    expect(sanitizeDatabaseError({ sqlstate: '42703', message: 'column "x4111" does not exist', hint: 'Perhaps "card_number"' }, plan)).toEqual({
      sqlstate: '42703',
      message: expect.stringMatching(/syntax error, names something that does not exist.*\(SQLSTATE 42703\)/),
    });
    expect(sanitizeDatabaseError({ sqlstate: '57014', message: 'canceling statement due to statement timeout' }, plan).message).toMatch(/cancelled.*57014/);
    expect(sanitizeDatabaseError({ sqlstate: 'XX000', message: 'something 123' }, plan).message).toMatch(/^The statement failed \(SQLSTATE XX000\)/);
    expect(sanitizeDatabaseError({ message: 'no code 42' }, undefined)).toEqual({ message: expect.stringMatching(/SQLSTATE unknown/) });
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
