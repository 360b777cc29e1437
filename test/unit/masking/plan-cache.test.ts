import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import { isBrokerError } from '../../../src/errors.js';
import type { Cell, ResultField } from '../../../src/db/types.js';
import { applyMasking, planMasking, prepareOrigins, type ColumnCatalog, type MaskingPolicyInput, type MaskPlan } from '../../../src/masking/index.js';
import { cachedPlanCount, PLAN_CACHE_ENTRIES } from '../../../src/masking/plan-cache.js';
import { DEMO_MASKING, staticCatalog } from './static-catalog.js';

const policy = (): MaskingPolicyInput => ({ ...DEMO_MASKING, rules: [...DEMO_MASKING.rules] });

const TEXT = 25;
const CUSTOMERS = 16001;
const SQL = 'select id, name, email, card_number, ssn from customers where id = $1';
const FIELDS: ResultField[] = ['id', 'name', 'email', 'card_number', 'ssn'].map((name, i) => ({ name, dataTypeID: TEXT, tableID: CUSTOMERS, columnID: i + 1 }));
const ROW = (): Cell[] => ['1', 'Ada', 'ada@example.com', '4111111111111111', '123-45-6789'];

beforeAll(async () => {
  await loadSqlParser();
});

async function maskWith(plan: MaskPlan, fields = FIELDS, rows: Cell[][] = [ROW()]) {
  await prepareOrigins(plan, fields);
  return applyMasking(plan, fields, rows);
}

async function refusalOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('masking plan cache', () => {
  it('serves a repeated statement without a catalog look-up, as a fresh plan that masks identically', async () => {
    const catalog = staticCatalog();
    const p = policy();
    const first = await planMasking(analyzeSql(SQL), p, catalog);
    const lookups = catalog.lookups;
    expect(lookups).toBeGreaterThan(0);
    const second = await planMasking(analyzeSql(SQL), p, catalog);
    expect(catalog.lookups, 'the second plan came from the cache').toBe(lookups);

    expect(second).not.toBe(first);
    expect(second.outputs).toEqual(first.outputs);
    const a = await maskWith(first);
    const b = await maskWith(second);
    expect(b).toEqual(a);
    expect(a.rows[0]).toEqual(['1', 'Ada', '***@example.com', '****1111', '[redacted]']);
    expect(a.columns.map((c) => c.masked)).toEqual([false, false, 'email', 'last4', 'redact']);
  });

  it('gives every request its own origins and type names', async () => {
    const catalog = staticCatalog();
    const first = await planMasking(analyzeSql(SQL), policy(), catalog);
    await prepareOrigins(first, FIELDS);
    expect(first.origins.size).toBe(FIELDS.length);
    const second = await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(second.origins).not.toBe(first.origins);
    expect(second.typeNames).not.toBe(first.typeNames);
    expect(second.origins.size, 'origins of another request must not leak into this plan').toBe(0);
  });

  it('recomputes the plan after catalog.invalidate()', async () => {
    const catalog = staticCatalog();
    await planMasking(analyzeSql(SQL), policy(), catalog);
    const lookups = catalog.lookups;
    catalog.invalidate();
    const again = await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(catalog.lookups).toBeGreaterThan(lookups);
    expect((await maskWith(again)).rows[0]).toEqual(['1', 'Ada', '***@example.com', '****1111', '[redacted]']);
  });

  it('does not keep a plan traced while the catalog changed', async () => {
    const base = staticCatalog();
    let invalidateDuringLookup = true;
    const catalog: ColumnCatalog = {
      ...base,
      get generation() {
        return base.generation;
      },
      invalidate: () => base.invalidate(),
      async relationsByName(names) {
        const found = await base.relationsByName(names);
        if (invalidateDuringLookup) base.invalidate(); // DDL landed while this plan was traced
        return found;
      },
    };
    await planMasking(analyzeSql(SQL), policy(), catalog);
    invalidateDuringLookup = false;
    const lookups = base.lookups;
    await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(base.lookups, 'the plan traced across an invalidation must not be served').toBeGreaterThan(lookups);
    const now = base.lookups;
    await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(base.lookups).toBe(now);
  });

  it('never shares a plan between exempt and non-exempt principals', async () => {
    const catalog = staticCatalog();
    const masked = await planMasking(analyzeSql(SQL), policy(), catalog);
    const exempt = await planMasking(analyzeSql(SQL), { ...policy(), exempt: true }, catalog);
    expect(exempt.exempt).toBe(true);
    expect((await maskWith(exempt)).rows[0]).toEqual(ROW());
    const maskedAgain = await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(maskedAgain.exempt).toBe(false);
    expect((await maskWith(maskedAgain)).rows[0]).toEqual((await maskWith(masked)).rows[0]);
    expect((await maskWith(maskedAgain)).rows[0]).not.toContain('123-45-6789');

    // The other order: an exempt plan first must not become the non-exempt one.
    const other = staticCatalog();
    await planMasking(analyzeSql(SQL), { ...policy(), exempt: true }, other);
    const afterExempt = await planMasking(analyzeSql(SQL), policy(), other);
    expect(afterExempt.exempt).toBe(false);
    expect((await maskWith(afterExempt)).rows[0]).toEqual(['1', 'Ada', '***@example.com', '****1111', '[redacted]']);
  });

  it('keys plans by the rules, also when a rules array is changed in place', async () => {
    const catalog = staticCatalog();
    const p = policy();
    const masked = await maskWith(await planMasking(analyzeSql(SQL), p, catalog));
    expect(masked.rows[0]![4]).toBe('[redacted]');

    const noSsnRule: MaskingPolicyInput = { ...p, rules: p.rules.filter((r) => r.column !== 'public.customers.ssn') };
    const clearSsn = await maskWith(await planMasking(analyzeSql(SQL), noSsnRule, catalog));
    expect(clearSsn.columns[4]!.masked).not.toBe('redact');

    // Same array object, new content: the plan must follow the content.
    p.rules[2] = { column: 'public.customers.ssn', with: 'null' };
    const nulled = await maskWith(await planMasking(analyzeSql(SQL), p, catalog));
    expect(nulled.columns[4]!.masked).toBe('null');
    expect(nulled.rows[0]![4]).toBeNull();
  });

  it('takes detectors and the hash key from the request, not from the cached plan', async () => {
    const catalog = staticCatalog();
    const withDetectors = await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(withDetectors.detectors).toEqual(['pan', 'email', 'ssn', 'secrets']);
    const hashKey = new Uint8Array(32).fill(7);
    const other = await planMasking(analyzeSql(SQL), { ...policy(), detectors: [], hashKey }, catalog);
    expect(other.detectors).toEqual([]);
    expect(other.hashKey).toBe(hashKey);
    const again = await planMasking(analyzeSql(SQL), policy(), catalog);
    expect(again.hashKey).toBeUndefined();
  });

  it('serves a statement only for the very parse tree it was traced from', async () => {
    const catalog = staticCatalog();
    const clear = analyzeSql('select id, name from customers');
    await planMasking(clear, policy(), catalog);
    // A different statement under the first one's sqlHash must not get the first one's plan.
    const forged = { ...analyzeSql('select id, ssn from customers'), sqlHash: clear.sqlHash };
    const plan = await planMasking(forged, policy(), catalog);
    const fields: ResultField[] = [
      { name: 'id', dataTypeID: TEXT, tableID: 0, columnID: 0 },
      { name: 'ssn', dataTypeID: TEXT, tableID: 0, columnID: 0 },
    ];
    const r = await maskWith(plan, fields, [['1', '123-45-6789']]);
    expect(r.rows[0]).toEqual(['1', '[redacted]']);
  });

  it('repeats a refusal for a repeated statement, each time as a new error', async () => {
    const catalog = staticCatalog();
    const sql = "select id from customers where ssn like '9%'";
    const first = await refusalOf(planMasking(analyzeSql(sql), policy(), catalog));
    const lookups = catalog.lookups;
    const second = await refusalOf(planMasking(analyzeSql(sql), policy(), catalog));
    expect(catalog.lookups).toBe(lookups);
    expect(isBrokerError(first) && first.code).toBe('policy_denied');
    expect(isBrokerError(second) && second.code).toBe('policy_denied');
    expect(second).not.toBe(first);
    if (!isBrokerError(first) || !isBrokerError(second)) throw new Error('expected refusals');
    expect(second.message).toBe(first.message);
    expect(second.reasons).toEqual(first.reasons);
    expect(second.reasons.map((r) => r.code)).toContain('masked_column_in_predicate');
    // Changing one caller's reasons does not change what the next caller gets.
    second.reasons[0]!.message = 'changed';
    const third = await refusalOf(planMasking(analyzeSql(sql), policy(), catalog));
    expect(isBrokerError(third) && third.reasons[0]!.message).toBe(first.reasons[0]!.message);
    // The same statement is fine for an exempt principal.
    await expect(planMasking(analyzeSql(sql), { ...policy(), exempt: true }, catalog)).resolves.toMatchObject({ exempt: true });
  });

  it('holds a bounded number of plans per catalog', async () => {
    const catalog = staticCatalog();
    const p = policy();
    for (let i = 0; i <= PLAN_CACHE_ENTRIES; i++) await planMasking(analyzeSql(`select id, ${i} as n from orders`), p, catalog);
    expect(cachedPlanCount(catalog)).toBe(PLAN_CACHE_ENTRIES);
    // The oldest was evicted, the newest kept.
    const lookups = catalog.lookups;
    await planMasking(analyzeSql(`select id, ${PLAN_CACHE_ENTRIES} as n from orders`), p, catalog);
    expect(catalog.lookups).toBe(lookups);
    await planMasking(analyzeSql('select id, 0 as n from orders'), p, catalog);
    expect(catalog.lookups).toBe(lookups + 1);
  });
});
