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
  it('drops quoted values, DETAIL and HINT when a masked column is in reach', async () => {
    const plan = await planMasking(analyzeSql('select card_number || \'\' from customers'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError(castError, plan);
    expect(JSON.stringify(out)).not.toContain('4111');
    expect(out).toEqual({ sqlstate: '22P02', message: 'invalid input syntax for type integer: "…"' });
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

  it('removes hex bytes and long digit runs that are not quoted', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), POLICY, staticCatalog());
    const out = sanitizeDatabaseError({ message: 'invalid byte sequence for encoding "UTF8": 0x34313131 near 41111111' }, plan);
    expect(out.message).not.toMatch(/3431|4111/);
  });

  it('leaves errors alone for an exempt principal', async () => {
    const plan = await planMasking(analyzeSql('select card_number from customers'), { ...POLICY, exempt: true }, staticCatalog());
    expect(sanitizeDatabaseError(castError, plan)).toBe(castError);
  });
});
