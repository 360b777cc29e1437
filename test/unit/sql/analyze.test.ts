import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { analyzeSql, clearAnalysisCache } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import { isBrokerError } from '../../../src/errors.js';

beforeAll(async () => {
  await loadSqlParser();
});

function errorOf(fn: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    if (isBrokerError(e)) return { code: e.code, message: e.message, details: e.details };
    throw e;
  }
  throw new Error('expected a BrokerError');
}

describe('analyzeSql', () => {
  it('loads the parser once however often it is asked', async () => {
    await Promise.all([loadSqlParser(), loadSqlParser()]);
    expect(analyzeSql('select 1').kind).toBe('read');
  });

  it('hashes the exact SQL text with SHA-256', () => {
    const sql = 'select id from customers where id = $1  -- é';
    expect(analyzeSql(sql).sqlHash).toBe(createHash('sha256').update(sql, 'utf8').digest('hex'));
    expect(analyzeSql('select 1').sqlHash).not.toBe(analyzeSql('select 1 ').sqlHash);
  });

  it('refuses SQL over the length limit before parsing it', () => {
    const e = errorOf(() => analyzeSql(`select '${'x'.repeat(200)}'`, { maxLength: 100 }));
    expect(e.code).toBe('sql_too_long');
    expect(errorOf(() => analyzeSql(`select ${'('.repeat(100_000)}`)).code).toBe('sql_too_long');
    expect(analyzeSql('select 1', { maxLength: 8 }).kind).toBe('read');
  });

  it('reports parse errors with the position and without echoing long input', () => {
    const e = errorOf(() => analyzeSql('select * form customers'));
    expect(e.code).toBe('sql_parse_error');
    expect(e.message).toContain('syntax error at or near "form"');
    expect(e.details.position).toBe(10);
    const secret = 'x'.repeat(500);
    const long = errorOf(() => analyzeSql(`select 'a' '${secret}`));
    expect(long.code).toBe('sql_parse_error');
    expect(long.message.length).toBeLessThan(400);
    expect(long.message).not.toContain(secret);
  });

  it('counts statements as the server splits them', () => {
    expect(analyzeSql('select 1;').command).toBe('SelectStmt');
    expect(analyzeSql(';; select 1 ;;').command).toBe('SelectStmt');
    expect(analyzeSql('select 1; -- trailing comment').command).toBe('SelectStmt');
    expect(errorOf(() => analyzeSql('select 1; select 2')).code).toBe('multiple_statements');
    expect(errorOf(() => analyzeSql('select 1; commit')).code).toBe('multiple_statements');
    expect(errorOf(() => analyzeSql('COMMIT; DROP TABLE customers')).code).toBe('multiple_statements');
  });

  it('refuses empty input as a parse error', () => {
    for (const sql of ['', '   ', ';;', '-- just a comment', '/* only */ ;']) {
      expect(errorOf(() => analyzeSql(sql)).code, JSON.stringify(sql)).toBe('sql_parse_error');
    }
  });

  it('refuses very deep nesting cleanly and keeps working afterwards', () => {
    for (const sql of [
      `select ${'(select '.repeat(8000)}1${')'.repeat(8000)}`,
      `select ${'not '.repeat(8000)}true`,
      `select 1${' + 1'.repeat(8000)}`,
      `select ${'abs('.repeat(8000)}1${')'.repeat(8000)}`,
      `select ${'array['.repeat(8000)}1${']'.repeat(8000)}`,
    ]) {
      const e = errorOf(() => analyzeSql(sql));
      expect(e.code).toBe('sql_parse_error');
      expect(e.message).toMatch(/nested too deeply/);
    }
    // 8000 redundant parentheses collapse in the parser, and 1000-deep expressions are walked
    // without recursion.
    expect(analyzeSql(`select ${'('.repeat(8000)}1${')'.repeat(8000)}`).kind).toBe('read');
    expect(analyzeSql(`select 1${' + 1'.repeat(1000)}`).kind).toBe('read');
    expect(analyzeSql(Array(300).fill('select 1').join(' union all ')).kind).toBe('read');
    expect(analyzeSql(`select * from customers where ${Array(5000).fill('id = 1').join(' or ')}`).tablesRead).toEqual([{ name: 'customers' }]);
    expect(analyzeSql('select 2').kind).toBe('read');
  });

  it('returns the cached analysis for a repeated statement, frozen against mutation', () => {
    clearAnalysisCache();
    const a = analyzeSql('select id from customers where id = 7');
    const b = analyzeSql('select id from customers where id = 7');
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.tablesRead)).toBe(true);
    expect(() => (a.tablesRead as unknown as unknown[]).push({ name: 'x' })).toThrow(TypeError);
  });

  it('keeps the parsed statement for later stages', () => {
    const a = analyzeSql('select email from customers');
    expect(Object.keys(a.root)).toEqual(['SelectStmt']);
    expect(a.stmt.stmt).toBe(a.root);
  });

  // Speed is measured by `npm run bench`, not asserted here; this pins the cache that makes it fast.
  it('serves a repeated statement from the analysis cache', () => {
    const sql = 'select c.id, c.name, count(o.id) from customers c left join orders o on o.customer_id = c.id where c.country = $1 group by c.id order by 3 desc limit 20';
    const first = analyzeSql(sql);
    expect(analyzeSql(sql)).toBe(first);
    expect(analyzeSql(`${sql} `)).not.toBe(first);
  });
});
