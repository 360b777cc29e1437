/**
 * The MySQL lexer's claims checked against a real server: where statements end, how many `?`
 * placeholders a statement has, and that what the lexer refuses really runs differently on the
 * server than a naive reader (or node-sql-parser) thinks, on the private MariaDB of test/helpers/mariadb.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { scanMysql } from '../../../src/engine/mysql/lexer.js';
import { isBrokerError } from '../../../src/errors.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';

let my: TestMysql | undefined;
let options: mysql.ConnectionOptions;

beforeAll(async () => {
  if (mysqlUnavailable() !== undefined) return;
  my = (await startTestMysql())!;
  options = { uri: my.url };
}, 60_000);

afterAll(async () => {
  await my?.stop();
});

async function withConnection<T>(multipleStatements: boolean, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ ...options, multipleStatements });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function lexerStatements(sql: string): number {
  try {
    scanMysql(sql);
    return 1;
  } catch (e) {
    if (isBrokerError(e) && e.code === 'multiple_statements') return Number(e.details['statements']);
    throw e;
  }
}

describe.skipIf(mysqlUnavailable() !== undefined)('the MySQL lexer agrees with the server', () => {
  const STACKED = [
    'select 1',
    'select 1;',
    'select 1; -- trailing',
    "select 'a;b'",
    'select "a;b"; select 2',
    "select 'it''s; fine'; select 2",
    "select 'a\\\\'; select 2",
    'select 1 # ; select 2',
    'select 1 -- ; select 2',
    'select 1 /* ; */; select 2',
    'select `a;b` from (select 1 as `a;b`) x; select 2; select 3',
  ];

  it('counts the statements the server runs, whatever hides the semicolons', async () => {
    await withConnection(true, async (c) => {
      for (const sql of STACKED) {
        const [rows] = await c.query(sql);
        // Several statements answer with one result per statement (an empty one after a trailing
        // comment is not a statement); one statement answers with its rows.
        const results = rows as unknown[];
        const serverCount = Array.isArray(results[0]) ? results.filter(Array.isArray).length : 1;
        expect(lexerStatements(sql), sql).toBe(serverCount);
      }
    });
  });

  it('counts the placeholders the server finds when it prepares the statement', async () => {
    const texts = [
      'select ?',
      "select '?', ? /* ? */, `?` from (select 1 as `?`) x -- ?",
      'select ?, ? # ?',
      "select 'a\\\\?', \"?\"\"?\", ?",
      'select 1 from dual where ? = ? and ? = 1',
    ];
    await withConnection(false, async (c) => {
      for (const sql of texts) {
        const stmt = await c.prepare(sql);
        // The server's own count, from its answer to COM_STMT_PREPARE.
        const serverCount = (stmt as unknown as { statement: { parameterCount: number } }).statement.parameterCount;
        await stmt.close();
        expect(scanMysql(sql).placeholders, sql).toBe(serverCount);
      }
    });
  });

  it('refuses "--x" because the server reads it as two minus signs, not a comment', async () => {
    const sql = 'select 1 --1, 7 as hidden';
    expect(() => scanMysql(sql)).toThrow(/two minus signs/);
    await withConnection(false, async (c) => {
      const [rows] = await c.query(sql);
      expect(Object.keys((rows as Record<string, unknown>[])[0]!)).toContain('hidden');
    });
  });

  it('refuses executable comments because the server runs what is inside them', async () => {
    for (const sql of ['select 1 /*! , 7 as hidden */', 'select 1 /*M! , 7 as hidden */']) {
      expect(() => scanMysql(sql), sql).toThrow(/executable comment/);
      await withConnection(false, async (c) => {
        const [rows] = await c.query(sql);
        expect(Object.keys((rows as Record<string, unknown>[])[0]!), sql).toContain('hidden');
      });
    }
  });

  it('refuses backslash escapes whose meaning depends on sql_mode, because the server splits them differently', async () => {
    const sql = "select 'a\\', 7 as hidden, '#'";
    expect(() => scanMysql(sql)).toThrow(/sql_mode/);
    await withConnection(false, async (c) => {
      const [plain] = await c.query(sql);
      expect(Object.keys((plain as Record<string, unknown>[])[0]!)).not.toContain('hidden');
      await c.query("set session sql_mode = 'NO_BACKSLASH_ESCAPES'");
      const [noEscapes] = await c.query(sql);
      expect(Object.keys((noEscapes as Record<string, unknown>[])[0]!)).toContain('hidden');
    });
  });
});
