/**
 * The evasion queries through the broker's HTTP API on real PostgreSQL: the planted cards, e-mails
 * and SSNs (nor their reversed or hex forms) appear nowhere in a response, in the broker's log
 * output, or in the audit record; a principal exempt from masking sees them in clear.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { MASKED_CASES, MASKING_TEST_SETUP, REFUSED_CASES } from '../../unit/masking/evasion-cases.js';
import { leaksIn, PLANTED_CARDS, PLANTED_EMAILS, PLANTED_SSNS } from './planted.js';

let b: TestBroker;
const sessions = new Set<string>();

beforeAll(async () => {
  b = await startTestBroker();
  await b.db.query(MASKING_TEST_SETUP);
});

afterAll(async () => b?.close());

async function ask(sql: string, roles?: string[]) {
  const r = await b.query({ connection: 'sales', sql }, roles);
  const sessionId = (r.body as { sessionId?: string } | undefined)?.sessionId;
  if (sessionId) sessions.add(sessionId);
  return r;
}

describe('through POST /api/query, no planted value comes back', () => {
  it.each(MASKED_CASES.map((c) => [c.why, c] as const))('%s', async (_why, c) => {
    if (!('masked' in c)) throw new Error('bad case');
    const r = await ask(c.sql);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(leaksIn(JSON.stringify(r.body)), c.sql).toEqual([]);
    const columns = r.body.columns as { name: string; masked: string | false }[];
    columns.forEach((col, i) => expect(col.masked, `column ${i} (${col.name}) of: ${c.sql}`).toBe(c.masked[i] ?? false));
  });

  it.each(REFUSED_CASES.map((c) => [c.why, c] as const))('refuses %s', async (_why, c) => {
    if (!('refused' in c)) throw new Error('bad case');
    const r = await ask(c.sql);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('policy_denied');
    // A read profile may be refused a write for that reason first; reads must name the inference.
    if (c.refused === 'masked_column_in_predicate' && !/^\s*(update|insert|delete)/i.test(c.sql)) {
      expect(r.body.error.reasons.map((x: { code: string }) => x.code)).toContain('masked_column_in_predicate');
    }
    expect(leaksIn(JSON.stringify(r.body)), c.sql).toEqual([]);
  });

  it('sanitizes a database error that would quote a masked value', async () => {
    // timezone() names the bad zone in its error; the plan allows the call (its result is masked).
    const raw = await b.db.query('select timezone(ssn, now()) from customers').then(
      () => '',
      (e: Error) => e.message,
    );
    expect(raw).toContain('123-45-6789');
    const r = await ask('select timezone(ssn, now()) from customers');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(leaksIn(JSON.stringify(r.body))).toEqual([]);
  });

  it('refuses the classic cast error before it runs', async () => {
    const r = await ask('select card_number::int from customers');
    expect(r.status).toBe(403);
    expect(leaksIn(JSON.stringify(r.body))).toEqual([]);
  });

  it('keeps every planted value out of the log output and the audit record', async () => {
    expect(b.logs.length).toBeGreaterThan(0);
    expect(leaksIn(b.logs.join('\n'))).toEqual([]);
    expect(sessions.size).toBeGreaterThan(0);
    const records = [];
    for (const s of sessions) records.push(...(await b.audit.read(s)));
    expect(records.length).toBeGreaterThan(0);
    // The agent's own SQL text is recorded verbatim (approvals bind to it); some cases quote a planted
    // value as a literal, which is the agent's text and not data read from the database.
    const withoutSql = records.map((r) => ({ ...r, data: { ...r.data, sql: undefined } }));
    expect(leaksIn(JSON.stringify(withoutSql))).toEqual([]);
    expect(records.some((r) => r.type === 'executed')).toBe(true);
  });
});

describe('an identity exempt from masking', () => {
  it('sees the planted values in clear', async () => {
    const r = await ask('select email, card_number, ssn from customers order by id', ['Query.Read', 'PII.Read']);
    expect(r.status).toBe(200);
    expect(r.body.rows).toEqual(PLANTED_EMAILS.map((e, i) => [e, PLANTED_CARDS[i], PLANTED_SSNS[i]]));
    expect(r.body.columns.every((c: { masked: unknown }) => c.masked === false)).toBe(true);
  });

  it.each(['select row_to_json(t) from customers t', 'select * from customer_contacts', "select id from customers where ssn like '1%'"])('may run %s unmasked', async (sql) => {
    const r = await ask(sql, ['Query.Read', 'PII.Read']);
    expect(r.status).toBe(200);
    if (!sql.includes('where')) expect(JSON.stringify(r.body)).toContain('ada@example.com');
  });
});
