import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import { isBrokerError } from '../../../src/errors.js';
import type { Cell, DatabaseErrorInfo, Queryable, ResultField } from '../../../src/db/types.js';
import { applyMasking, createColumnCatalog, planMasking, prepareOrigins, sanitizeDatabaseError, type ColumnCatalog, type MaskingPolicyInput } from '../../../src/masking/index.js';
import { MASKED_CASES, MASKING_TEST_SETUP, REFUSED_CASES } from '../../unit/masking/evasion-cases.js';
import { DEMO_MASKING } from '../../unit/masking/static-catalog.js';
import { leaksIn, PLANTED } from './planted.js';

const POLICY: MaskingPolicyInput = DEMO_MASKING;

/** Cells as the server's text, exactly as the executor reads them. */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

let db: TestDatabase;
let agent: pg.Client;
let catalogClient: pg.Client;
let catalog: ColumnCatalog;

beforeAll(async () => {
  await loadSqlParser();
  db = await createDemoDatabase('qbmask');
  await db.query(MASKING_TEST_SETUP);
  // The agent's session runs as the read role; the catalog runs on the broker's login role, as in the pipeline.
  agent = new pg.Client({ connectionString: db.brokerUrl });
  await agent.connect();
  await agent.query('set role qb_agent_read');
  catalogClient = new pg.Client({ connectionString: db.brokerUrl });
  await catalogClient.connect();
  const q: Queryable = { query: async (text, values) => ({ rows: (await catalogClient.query(text, values)).rows }) };
  catalog = createColumnCatalog(q);
});

afterAll(async () => {
  await agent?.end();
  await catalogClient?.end();
  await db?.drop();
});

async function run(sql: string): Promise<{ fields: ResultField[]; rows: Cell[][] }> {
  const r = await agent.query<Cell[]>({ text: sql, rowMode: 'array', types: RAW_TEXT });
  return { fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID, columnID: f.columnID })), rows: r.rows };
}

async function maskedRun(sql: string, policy = POLICY) {
  const plan = await planMasking(analyzeSql(sql), policy, catalog);
  const { fields, rows } = await run(sql);
  await prepareOrigins(plan, fields);
  return applyMasking(plan, fields, rows);
}

describe('evasion queries on real PostgreSQL: no planted value comes back', () => {
  it.each(MASKED_CASES.map((c) => [c.why, c] as const))('%s', async (_why, c) => {
    if (!('masked' in c)) throw new Error('bad case');
    const result = await maskedRun(c.sql);
    expect(leaksIn(JSON.stringify(result)), c.sql).toEqual([]);
    result.columns.forEach((col, i) => expect(col.masked, `column ${i} (${col.name}) of: ${c.sql}`).toBe(c.masked[i] ?? false));
  });

  it.each(REFUSED_CASES.map((c) => [c.why, c] as const))('refuses %s before it runs', async (_why, c) => {
    if (!('refused' in c)) throw new Error('bad case');
    const error = await planMasking(analyzeSql(c.sql), POLICY, catalog).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBrokerError(error) && error.code, c.sql).toBe('policy_denied');
    expect(isBrokerError(error) ? error.reasons.map((r) => r.code) : []).toContain(c.refused);
    expect(leaksIn(JSON.stringify({ message: (error as Error).message, reasons: isBrokerError(error) ? error.reasons : [] }))).toEqual([]);
  });

  it('would have leaked without masking (the planted values are really there)', async () => {
    const { rows } = await run('select t::text, reverse(card_number), encode(convert_to(ssn, \'UTF8\'), \'hex\') from customers t');
    const raw = JSON.stringify(rows);
    expect(leaksIn(raw).length).toBeGreaterThanOrEqual(PLANTED.length);
  });
});

describe('an exempt principal sees values in clear', () => {
  it.each(['select * from customers', 'select row_to_json(t) from customers t', 'select * from customer_contacts'])('%s', async (sql) => {
    const result = await maskedRun(sql, { ...POLICY, exempt: true });
    const text = JSON.stringify(result);
    expect(text).toContain('ada@example.com');
    expect(result.columns.every((c) => c.masked === false)).toBe(true);
  });
});

describe('server origins', () => {
  it('gives a view column the view as origin, and masking maps it to the base column', async () => {
    const { fields } = await run('select contact from customer_contacts');
    const { rows } = await db.query<{ oid: string }>("select 'customer_contacts'::regclass::oid::text as oid");
    expect(String(fields[0]!.tableID)).toBe(rows[0]!.oid);
    const result = await maskedRun('select contact as c from customer_contacts');
    expect(result.columns[0]!.masked).toBe('email');
    expect(result.rows[0]![0]).toMatch(/^\*\*\*@example\./);
  });

  it('covers partitions with a rule on the partitioned parent', async () => {
    await db.query(`create table ledger (id int, secret text) partition by list (id);
      create table ledger_1 partition of ledger for values in (1);
      insert into ledger values (1, '4111111111111111');
      grant select on ledger, ledger_1 to qb_agent_read`);
    catalog.invalidate();
    const policy = { ...POLICY, rules: [{ column: 'public.ledger.secret', with: 'redact' as const }], detectors: [] };
    const result = await maskedRun('select secret as s from ledger_1', policy);
    expect(result.rows[0]![0]).toBe('[redacted]');
    await expect(planMasking(analyzeSql("select id from ledger_1 where secret like '4%'"), policy, catalog)).rejects.toThrow(/secret/);
  });

  it('picks up a new rule target after invalidate()', async () => {
    const policy = { ...POLICY, rules: [{ column: 'public.late.secret', with: 'redact' as const }], detectors: [] };
    const before = await planMasking(analyzeSql('select 1'), policy, catalog);
    expect(before.maskedInReach).toBe(false);
    await db.query("create table late (secret text); insert into late values ('s3cr3t-value'); grant select on late to qb_agent_read");
    catalog.invalidate();
    const result = await maskedRun('select secret from late', policy);
    expect(result.rows[0]![0]).toBe('[redacted]');
  });
});

describe('database errors', () => {
  async function errorOf(sql: string, client: { query(sql: string): Promise<unknown> } = agent): Promise<DatabaseErrorInfo> {
    try {
      await client.query(sql);
    } catch (e) {
      const d = e as pg.DatabaseError;
      const info: DatabaseErrorInfo = { message: d.message };
      if (d.code) info.sqlstate = d.code;
      if (d.detail) info.detail = d.detail;
      if (d.hint) info.hint = d.hint;
      return info;
    }
    throw new Error(`expected ${sql} to fail`);
  }

  it('never echoes the card from a failing cast', async () => {
    const raw = await errorOf('select card_number::int from customers');
    expect(leaksIn(JSON.stringify(raw)).length).toBeGreaterThan(0); // PostgreSQL does echo it
    const plan = await planMasking(analyzeSql("select card_number || '' from customers"), POLICY, catalog);
    expect(leaksIn(JSON.stringify(sanitizeDatabaseError(raw, plan)))).toEqual([]);
    expect(leaksIn(JSON.stringify(sanitizeDatabaseError(raw, undefined)))).toEqual([]);
  });

  it('drops a DETAIL that repeats row values', async () => {
    await db.query('create unique index customers_email_key on customers (email)');
    const sql = "insert into customers (name, email, card_number, ssn) values ('x', 'ada@example.com', '1', '1')";
    const raw = await errorOf(sql, { query: (s) => db.query(s) });
    expect(raw.detail).toContain('ada@example.com');
    const plan = await planMasking(analyzeSql(sql), POLICY, catalog);
    const clean = sanitizeDatabaseError(raw, plan);
    expect(leaksIn(JSON.stringify(clean))).toEqual([]);
    expect(clean.sqlstate).toBe('23505');
  });
});

describe('red-team findings on real PostgreSQL', () => {
  async function refusalCodes(sql: string): Promise<string[]> {
    return planMasking(analyzeSql(sql), POLICY, catalog).then(
      () => [],
      (e: unknown) => (isBrokerError(e) ? e.reasons.map((r) => r.code) : ['?']),
    );
  }

  it('F1: NULL vs "[redacted]" of a derived value no longer spells the card', async () => {
    const cols: string[] = [];
    for (let pos = 0; pos < 16; pos++) for (let d = 0; d < 10; d++) cols.push(`regexp_match(card_number, '^.{${pos}}${d}') as p${pos}_${d}`);
    const sql = `select ${cols.join(', ')} from customers where id = 1`;
    const spell = (row: Cell[]) => {
      let s = '';
      for (let pos = 0; pos < 16; pos++) for (let d = 0; d < 10; d++) if (row[pos * 10 + d] !== null) s += String(d);
      return s;
    };
    expect(spell((await run(sql)).rows[0]!)).toBe('4111111111111111'); // the attack works on raw rows
    // regexp_match is NULL exactly when the guess misses, which COALESCE or a strict function could
    // turn into an error: it may no longer take a masked value at all.
    expect(await refusalCodes(sql)).toContain('masked_column_in_fallible_expression');
  });

  it('F2: count of a derived value is masked, count(DISTINCT) over masked lineage is refused', async () => {
    const sql = 'select count(x) from (select substring(ssn from 1 for 6) x from customers where id = 1) s';
    expect((await run(sql)).rows[0]![0]).toBe('1');
    expect((await maskedRun(sql)).rows[0]![0]).toBe('[redacted]');
    expect(await refusalCodes("select count(distinct x) from (select ssn x from customers where id = 1 union all select '123-45-6789') s")).toContain('masked_column_in_predicate');
    expect((await maskedRun('select count(card_number), count(*) from customers')).rows[0]).toEqual(['5', '5']);
  });

  it('F3: an error that echoes a number computed from the value comes back as a fixed sentence', async () => {
    const raw = await agent.query("select get_bit('\\x00'::bytea, ascii(substr(ssn, 1, 1))) from customers where id = 1").then(
      () => undefined,
      (e: pg.DatabaseError) => ({ message: e.message, ...(e.code ? { sqlstate: e.code } : {}) }),
    );
    expect(raw?.message).toMatch(/index 49 out of valid range/); // '1' = 49: the server does echo it
    const plan = await planMasking(analyzeSql('select ssn from customers'), POLICY, catalog);
    const clean = sanitizeDatabaseError(raw!, plan);
    expect(clean.message).not.toMatch(/49|0\.\.7/);
    expect(clean.sqlstate).toBe(raw!.sqlstate);
    expect(await refusalCodes("select get_bit('\\x00'::bytea, ascii(substr(ssn, 1, 1))) from customers where id = 1")).toContain('masked_column_in_fallible_expression');
  });

  it('F4: whether an error comes back no longer depends on the value; both guesses are refused before they run', async () => {
    const probe = (t: number) => `select sqrt(ascii(substr(card_number, 1, 1)) - ${t}) from customers where id = 1`;
    const outcome = (sql: string) => agent.query(sql).then(() => 'ok', () => 'error');
    expect([await outcome(probe(52)), await outcome(probe(53))]).toEqual(['ok', 'error']); // the oracle is real
    expect(await refusalCodes(probe(52))).toContain('masked_column_in_fallible_expression');
    expect(await refusalCodes(probe(53))).toContain('masked_column_in_fallible_expression');
    expect(await refusalCodes('select (ascii(substr(card_number, 1, 1)) - 48) * 1000000000 from customers where id = 1')).toContain('masked_column_in_fallible_expression');
  });

  it('ordinary agent reads still run and come back masked', async () => {
    for (const sql of ['select id, name, email, card_number from customers', 'select upper(email) from customers', 'select count(*) from customers', 'select row_to_json(c) from customers c', "select o.id, o.amount_cents * 2 from orders o join customers c on c.id = o.customer_id where c.country = 'GB'"]) {
      const result = await maskedRun(sql);
      expect(result.rows.length, sql).toBeGreaterThan(0);
      expect(leaksIn(JSON.stringify(result)), sql).toEqual([]);
    }
  });
});
