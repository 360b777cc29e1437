import { describe, expect, it } from 'vitest';
import { ContentScanner, luhnValid } from '../../../src/masking/detectors.js';

const all = () => new ContentScanner(['pan', 'email', 'ssn', 'secrets']);

describe('Luhn', () => {
  it.each(['4111111111111111', '5500005555555559', '340000000000009', '6011000990139424', '4012888888881881'])('accepts the test card %s', (pan) => {
    expect(luhnValid(pan)).toBe(true);
  });
  it.each(['4111111111111112', '1234567890123456', '', '41111x1111111111'])('rejects %s', (s) => {
    expect(luhnValid(s)).toBe(false);
  });
});

describe('content detectors', () => {
  it('masks card numbers that pass Luhn, with or without separators, and flags the detector', () => {
    const s = all();
    expect(s.scrub('card 4111111111111111 on file')).toBe('card ****1111 on file');
    expect(s.scrub('4111 1111 1111 1111')).toBe('****1111');
    expect(s.scrub('4111-1111-1111-1111')).toBe('****1111');
    expect(s.scrub('1 4111111111111111')).not.toContain('4111111111111111');
    expect(s.hit).toBe('pan');
  });

  it('leaves numbers alone that are not card numbers', () => {
    const s = all();
    expect(s.scrub('order 4111111111111112')).toBe('order 4111111111111112');
    expect(s.scrub('12345')).toBe('12345');
    // Unscaled numerics (e.g. avg() results) whose digits happen to pass Luhn.
    expect(s.scrub('0.4111111111111111')).toBe('0.4111111111111111');
    expect(s.scrub('4111111111111111.25')).toBe('4111111111111111.25');
    expect(s.hit).toBeUndefined();
  });

  it('still masks a card number at the end of a sentence', () => {
    const s = all();
    expect(s.scrub('paid with 4111111111111111.')).toBe('paid with ****1111.');
  });

  it('masks e-mail addresses but keeps the domain', () => {
    expect(all().scrub('write to ada@example.com or bob.smith+x@mail.example.org')).toBe('write to ***@example.com or ***@mail.example.org');
  });

  it('masks US SSNs and skips numbers the SSA never issues', () => {
    const s = all();
    expect(s.scrub('ssn 123-45-6789')).toBe('ssn ***-**-****');
    expect(s.scrub('000-12-3456 and 666-12-3456 and 900-12-3456')).toBe('000-12-3456 and 666-12-3456 and 900-12-3456');
  });

  it('masks secrets: JWTs, passwords in connection strings and URLs, Azure storage keys', () => {
    const s = all();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(s.scrub(`Bearer ${jwt}`)).not.toContain('dozjg');
    const key = 'A'.repeat(40) + 'b+/'.repeat(10) + 'C'.repeat(16) + '==';
    expect(key.length).toBe(88);
    const cs = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=core.windows.net`;
    expect(s.scrub(cs)).not.toContain(key.slice(0, 20));
    expect(s.scrub(key)).toBe('[redacted secret]');
    expect(s.scrub('Server=db;User Id=app;Password=Sup3rS3cret!;')).not.toContain('Sup3rS3cret');
    expect(s.scrub('postgres://app:hunter2@db.example.com/sales')).not.toContain('hunter2');
    expect(s.hit).toBe('secrets');
  });

  it('runs only the configured detectors', () => {
    const s = new ContentScanner(['ssn']);
    expect(s.scrub('ada@example.com 4111111111111111')).toBe('ada@example.com 4111111111111111');
    expect(new ContentScanner([]).enabled).toBe(false);
  });

  it('returns the very same string when nothing is found', () => {
    const cell = 'Ada Lovelace';
    expect(all().scrub(cell)).toBe(cell);
  });
});
