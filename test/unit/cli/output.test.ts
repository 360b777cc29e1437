import { describe, it, expect } from 'vitest';
import { cellText, formatTable, maskedSummary } from '../../../src/cli/output.js';

describe('qb table output', () => {
  const columns = [
    { name: 'id', type: 'int4', masked: false as const },
    { name: 'name', type: 'text', masked: false as const },
    { name: 'card_number', type: 'text', masked: 'last4' },
  ];

  it('aligns columns psql-style and right-aligns numbers', () => {
    const out = formatTable(columns, [
      [1, 'Ada Lovelace', '************1111'],
      [10, 'Alan', null],
    ]);
    expect(out.split('\n')).toEqual([
      ' id | name         | card_number',
      '----+--------------+------------------',
      '  1 | Ada Lovelace | ************1111',
      ' 10 | Alan         | NULL',
    ]);
  });

  it('keeps one row per line: newlines and tabs escaped, objects as JSON', () => {
    expect(cellText('a\nb\tc')).toBe('a\\nb\\tc');
    expect(cellText({ k: [1, 2] })).toBe('{"k":[1,2]}');
    expect(cellText(null)).toBe('NULL');
    expect(cellText(true)).toBe('true');
  });

  it('names the masked columns and their maskers', () => {
    expect(maskedSummary(columns)).toBe('masked: card_number (last4)');
    expect(maskedSummary(columns.slice(0, 2))).toBeUndefined();
  });
});
