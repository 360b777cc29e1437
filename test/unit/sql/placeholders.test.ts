import { beforeAll, describe, expect, it } from 'vitest';
import { checkParamCount, placeholderCount } from '../../../src/sql/placeholders.js';
import { loadSqlParser } from '../../../src/sql/parser.js';

beforeAll(async () => {
  await loadSqlParser();
});

describe('placeholderCount', () => {
  it('gives the same count for a repeated statement as for its first sighting', () => {
    const sql = 'select $2::int + $1::int as s';
    expect(placeholderCount(sql)).toBe(2);
    expect(placeholderCount(sql)).toBe(2);
  });

  it('counts each text for itself: a placeholder inside a string literal is not one', () => {
    expect(placeholderCount("select '$1' as t")).toBe(0);
    expect(placeholderCount('select $1 as t')).toBe(1);
    expect(placeholderCount("select '$1' as t")).toBe(0);
  });

  it('still refuses a repeated statement whose params do not match', () => {
    const sql = 'select id from customers where id = $1';
    expect(() => checkParamCount(sql, [1])).not.toThrow();
    expect(() => checkParamCount(sql, [])).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => checkParamCount(sql, [1, 2])).toThrow(/1 placeholder, 2 params given/);
  });
});
