/**
 * A MySQL connection (`engine: mysql`) through the real broker on a real socket, against a private
 * MariaDB: reads masked by origin, refusals that change nothing, writes held for a human, the
 * schema listing. The red team (mysql-redteam.test.ts) goes through the attacks one by one.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../helpers/mariadb.js';
import { createDemoRoles } from '../helpers/mysql-roles.js';

const SSN = '123-45-6789';
const CARD = '4111111111111111';
const EMAIL = 'ada@example.com';

describe.skipIf(mysqlUnavailable() !== undefined)('MySQL connection through the broker', () => {
  let my: TestMysql;
  let b: TestBroker;
  const env = `QB_TEST_MYSQL_${randomBytes(4).toString('hex').toUpperCase()}`;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    // The demo profiles' dbRoles: each statement runs with SET ROLE.
    await createDemoRoles(my);
    await my.rootQuery(`CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100), ssn VARCHAR(11), card_number VARCHAR(19))`);
    await my.rootQuery(`INSERT INTO customers VALUES (1, 'Ada', ?, ?, ?), (2, 'Alan', 'alan@example.org', '234-56-7890', '5500005555555559')`, [EMAIL, SSN, CARD]);
    process.env[env] = my.url;
    b = await startTestBroker({
      policyPatch: (p) => {
        p.connections.shop = { engine: 'mysql', credentials: { env } };
        for (const profile of Object.values(p.profiles) as { connections: string[] }[]) profile.connections.push('shop');
        p.masking.rules.push(
          { column: `${my.database}.customers.ssn`, with: 'redact' },
          { column: `${my.database}.customers.card_number`, with: 'last4' },
          { column: `${my.database}.customers.email`, with: 'email' },
          { column: `${my.database}.notes.ssn`, with: 'redact' },
        );
      },
    });
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await my?.stop();
    delete process.env[env];
  });

  const count = async () => Number((await my.rootQuery<{ n: number }>('SELECT COUNT(*) AS n FROM customers'))[0]!.n);

  it('reads through the broker with columns masked by origin, whatever their alias', async () => {
    const r = await b.query({ connection: 'shop', sql: 'SELECT id, ssn AS x, card_number AS y, email FROM customers ORDER BY id' });
    expect(r.status).toBe(200);
    expect(r.body.columns.map((c: { masked: unknown }) => c.masked)).toEqual([false, 'redact', 'last4', 'email']);
    expect(r.body.rows[0][2]).toMatch(/1111$/);
    const text = JSON.stringify(r.body) + b.logs.join('\n');
    for (const planted of [SSN, CARD, EMAIL]) expect(text).not.toContain(planted);
  });

  it('refuses stacked statements and executable comments, and nothing changes', async () => {
    const before = await count();
    for (const sql of ['SELECT 1; DELETE FROM customers', 'SELECT 1 /*!50000 , (SELECT COUNT(*) FROM customers) */']) {
      const r = await b.query({ connection: 'shop', sql }, ['Query.Write']);
      expect(r.status).toBe(400);
    }
    expect(await count()).toBe(before);
  });

  it('says which dialect a statement it cannot read must be written in, and which placeholders count', async () => {
    const parse = await b.query({ connection: 'shop', sql: 'SELECT id FROM customers WHERE' });
    expect(parse.status).toBe(400);
    expect(parse.body.error.code).toBe('sql_parse_error');
    expect(parse.body.error.dialect).toBe('MySQL');
    expect(parse.body.error.hint).toMatch(/exactly one MySQL statement/);
    // PostgreSQL's $1 is a column name to MySQL, not a placeholder: the agent learns to write ? instead.
    const dollar = await b.query({ connection: 'shop', sql: 'SELECT id FROM customers WHERE id = $1', params: [1] });
    expect(dollar.status).toBe(400);
    expect(dollar.body.error.reasons.map((r: { code: string }) => r.code)).toEqual(['param_count_mismatch']);
    expect(dollar.body.error.dialect).toBe('MySQL');
    expect(dollar.body.error.hint).toMatch(/per placeholder \? in order/);
  });

  it('refuses a write on a read profile, and holds a DELETE without WHERE for a human', async () => {
    const before = await count();
    const refused = await b.query({ connection: 'shop', sql: 'DELETE FROM customers WHERE id = 2' });
    expect(refused.status).toBe(403);
    const held = await b.query({ connection: 'shop', sql: 'DELETE FROM customers' }, ['Query.Write']);
    expect(held.status).toBe(202);
    expect(held.body.decision).toBe('pending_approval');
    expect(await count()).toBe(before);
  });

  it('runs a small write on a write profile', async () => {
    const r = await b.query({ connection: 'shop', sql: 'UPDATE customers SET name = ? WHERE id = ?', params: ['Alan T', 2] }, ['Query.Write']);
    expect(r.status).toBe(200);
    expect(r.body.rowCount).toBe(1);
    expect((await my.rootQuery<{ name: string }>('SELECT name FROM customers WHERE id = 2'))[0]!.name).toBe('Alan T');
  });

  it('refuses a result whose columns are not the ones it analysed, records it, and masks the new column on the retry', async () => {
    const PLANTED = 'planted-note-7f3a9c';
    await my.rootQuery(`CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(50))`);
    await my.rootQuery(`INSERT INTO notes VALUES (1, 'hello')`);
    const sessionId = `shape-${randomBytes(4).toString('hex')}`;
    const first = await b.query({ connection: 'shop', sql: 'SELECT * FROM notes', sessionId });
    expect(first.status).toBe(200);
    expect(first.body.columns).toHaveLength(2);

    // The table changes behind the broker's catalog: SELECT * now returns a column the analysis never saw,
    // and that column is one a rule masks.
    await my.rootQuery(`ALTER TABLE notes ADD COLUMN ssn VARCHAR(30) NOT NULL DEFAULT '${PLANTED}'`);
    const stale = await b.query({ connection: 'shop', sql: 'SELECT * FROM notes', sessionId });
    expect(stale.status).toBe(422);
    expect(stale.body.error.code).toBe('query_failed');
    expect(stale.body.error.reasons.map((r: { code: string }) => r.code)).toEqual(['result_shape_mismatch']);
    expect(stale.body.error.hint).toMatch(/again/);
    expect(JSON.stringify(stale.body)).not.toContain(PLANTED);

    // The catalog was read again: the retry sees three columns and masks the new one.
    const retry = await b.query({ connection: 'shop', sql: 'SELECT * FROM notes', sessionId });
    expect(retry.status).toBe(200);
    expect(retry.body.columns.map((c: { name: string; masked: unknown }) => [c.name, c.masked])).toEqual([
      ['id', false],
      ['body', false],
      ['ssn', 'redact'],
    ]);
    expect(JSON.stringify(retry.body) + b.logs.join('\n')).not.toContain(PLANTED);

    // The refused result is on the session's record, as a failure of that request.
    const res = await b.fetch(`/api/sessions/${sessionId}`, { headers: { authorization: `Bearer ${await b.token({ sub: 'auditor', roles: ['Audit.Read'] })}` } });
    const events = ((await res.json()) as { events: { type: string; requestId?: string; data: Record<string, unknown> }[] }).events;
    const failed = events.filter((e) => e.requestId === stale.body.requestId && e.type === 'failed');
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(PLANTED);
  });

  it('lists the tables with their masked columns', async () => {
    const res = await b.fetch('/api/connections/shop/schema', { headers: { authorization: `Bearer ${await b.token({ sub: 'agent-1', roles: ['Query.Read'] })}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tables: { name: string; columns: { name: string; masked: unknown }[] }[] };
    const customers = body.tables.find((t) => t.name === 'customers')!;
    expect(Object.fromEntries(customers.columns.map((c) => [c.name, c.masked]))).toEqual({ id: false, name: false, email: 'email', ssn: 'redact', card_number: 'last4' });
  });
});
