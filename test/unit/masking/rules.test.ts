import { describe, expect, it } from 'vitest';
import { castOfMasked, CAST_SAFE_TEXT_TYPES, placeOf, REFUSED_FLOWS, REPLACEMENT_TEXT_TYPES, writeIsSafe } from '../../../src/masking/rules/index.js';

describe('masking rules table', () => {
  it('names every refused place with one of the two refusal codes and a reason', () => {
    for (const [name, flow] of Object.entries(REFUSED_FLOWS)) {
      expect(['masked_column_in_predicate', 'masked_column_in_fallible_expression'], name).toContain(flow.code);
      expect(flow.why.length, name).toBeGreaterThan(0);
    }
  });

  it('fills a place template in order, and leaves templates without placeholders as they are', () => {
    expect(placeOf('sizeWeight', ['the operator ||', 128, 64])).toBe('the operator || (it repeats or grows the value 128 times over; at most 64)');
    expect(placeOf('where', [])).toBe('WHERE');
    expect(placeOf('cast', ['int4[]'])).toBe('a cast to int4[] (a failing cast would show the value in its error)');
  });

  it('allows casts only into the server’s own text types, and keeps identity only for text and varchar without a length', () => {
    expect(castOfMasked(['text'], false, false)).toBe('unchanged');
    expect(castOfMasked(['pg_catalog', 'varchar'], false, false)).toBe('unchanged');
    expect(castOfMasked(['varchar'], false, true)).toBe('changed');
    expect(castOfMasked(['bpchar'], false, false)).toBe('changed');
    expect(castOfMasked(['public', 'text'], false, false)).toBe('refused'); // may be a domain with a CHECK
    expect(castOfMasked(['citext'], false, false)).toBe('refused');
    expect(castOfMasked(['text'], true, false)).toBe('refused');
    expect(castOfMasked(['int4'], false, false)).toBe('refused');
  });

  it('keeps one table of text types: citext holds a replacement but is no safe cast target; "char" the reverse', () => {
    expect(CAST_SAFE_TEXT_TYPES.has('citext')).toBe(false);
    expect(REPLACEMENT_TEXT_TYPES.has('citext')).toBe(true);
    expect(CAST_SAFE_TEXT_TYPES.has('char')).toBe(true);
    expect(REPLACEMENT_TEXT_TYPES.has('char')).toBe(false);
  });

  it('lets a masked value be written only where it is hidden completely or masked the same way', () => {
    expect(writeIsSafe({ identity: true, maskers: ['last4'] }, [])).toBe(false);
    expect(writeIsSafe({ identity: true, maskers: ['last4'] }, ['last4'])).toBe(true);
    expect(writeIsSafe({ identity: false, maskers: ['last4'] }, ['last4'])).toBe(false);
    expect(writeIsSafe({ identity: false, maskers: ['last4'] }, ['redact'])).toBe(true);
  });
});
