/**
 * The analyzer lexes SQL as PostgreSQL does with standard_conforming_strings = on (the default
 * since 9.1). A database or role configured with it off lexes backslashes in '…' differently, so
 * one statement for the analyzer can be several for the server. The broker must run every
 * statement with the server lexing as the analyzer does: standard_conforming_strings forced on for
 * its sessions, and the extended query protocol (which refuses more than one statement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';

/** One UPDATE for the analyzer; with standard_conforming_strings off: UPDATE; DELETE FROM orders; comment. */
const SMUGGLED = "update customers set name = concat('a\\', ') where id = 1; delete from orders where id > 0; --') where id = 1";

let broker: TestBroker;

beforeAll(async () => {
  await loadSqlParser();
  broker = await startTestBroker();
  // An operator's legacy setting, picked up by every new session of this database.
  await broker.db.query(`alter database ${pg.escapeIdentifier(broker.db.name)} set standard_conforming_strings = off`);
}, 60_000);

afterAll(async () => {
  await broker?.close();
});

async function orderCount(): Promise<number> {
  return Number((await broker.db.query<{ n: string }>('select count(*)::text as n from orders')).rows[0]!.n);
}

describe('the server lexes statements exactly as the analyzer does', () => {
  it('the analyzer refuses a standard string with a backslash before a quote', () => {
    expect(() => analyzeSql(SMUGGLED)).toThrow(expect.objectContaining({ code: 'sql_parse_error', details: { ambiguousBackslash: true } }));
  });

  it('a statement that splits differently without standard_conforming_strings cannot delete other rows', async () => {
    const before = await orderCount();
    expect(before).toBe(50);
    const res = await broker.query({ connection: 'sales', sql: SMUGGLED }, ['Query.Write']);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('sql_parse_error');
    expect(await orderCount()).toBe(before);
    expect((await broker.db.query('select name from customers where id = 1')).rows).toEqual([{ name: 'Ada Lovelace' }]);
  });

  it('the unambiguous spellings of the same value still work, whatever the server setting', async () => {
    // E'…' and parameters mean the same in both modes.
    const escaped = await broker.query({ connection: 'sales', sql: "select E'it\\'s' as s, $1::text as p", params: ["it's"] });
    expect(escaped.status, JSON.stringify(escaped.body)).toBe(200);
    expect(escaped.body.rows).toEqual([["it's", "it's"]]);
    // A backslash not followed by a quote ends the literal at the same place in both modes.
    const like = await broker.query({ connection: 'sales', sql: "select count(*) from customers where name like '%\\_%'" });
    expect(like.status, JSON.stringify(like.body)).toBe(200);
  });
});
