import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { maskerFor, REDACTED } from '../../../src/masking/maskers.js';
import { chooseMasker } from '../../../src/masking/apply.js';

const key = new TextEncoder().encode('test-hmac-key');

describe('maskers', () => {
  it('redact replaces any value', () => {
    expect(maskerFor('redact', undefined).fn('123-45-6789')).toBe(REDACTED);
  });

  it('last4 keeps the last four characters of long values only', () => {
    const { fn } = maskerFor('last4', undefined);
    expect(fn('4111111111111111')).toBe('****1111');
    expect(fn('1234567')).toBe('****');
    expect(fn('')).toBe('****');
  });

  it('email keeps the domain and nothing of the local part', () => {
    const { fn } = maskerFor('email', undefined);
    expect(fn('ada@example.com')).toBe('***@example.com');
    expect(fn('a@b@evil.example')).toBe('***@evil.example');
    expect(fn('not an address')).toBe(REDACTED);
    expect(fn('x@domain with 123-45-6789')).toBe(REDACTED);
    expect(fn('trailing@')).toBe(REDACTED);
  });

  it('hash is a keyed HMAC-SHA256: deterministic, key-dependent, not the plain SHA-256', () => {
    const { name, fn } = maskerFor('hash', key);
    expect(name).toBe('hash');
    const h = fn('ada@example.com');
    expect(h).toBe(createHmac('sha256', key).update('ada@example.com').digest('hex'));
    expect(fn('ada@example.com')).toBe(h);
    expect(maskerFor('hash', new TextEncoder().encode('other')).fn('ada@example.com')).not.toBe(h);
  });

  it('hash without a key degrades to redact (and says so)', () => {
    const m = maskerFor('hash', undefined);
    expect(m.name).toBe('redact');
    expect(m.fn('x')).toBe(REDACTED);
  });

  it('null returns null', () => {
    expect(maskerFor('null', undefined).fn('x')).toBeNull();
  });
});

describe('choosing one masker for a value from several masked columns', () => {
  it('keeps the configured masker only for an unchanged single kind of column', () => {
    expect(chooseMasker(['last4'], true)).toBe('last4');
    expect(chooseMasker(['last4'], false)).toBe('redact');
    expect(chooseMasker(['email', 'last4'], true)).toBe('redact');
    expect(chooseMasker(['hash', 'hash'], true)).toBe('hash');
    // a derived value hashed would still split rows into classes (regexp_match(x, '^4') → two hashes)
    expect(chooseMasker(['hash', 'hash'], false)).toBe('redact');
    expect(chooseMasker(['hash'], false)).toBe('redact');
    expect(chooseMasker(['hash', 'email'], true)).toBe('redact');
    expect(chooseMasker(['email', 'null'], true)).toBe('null');
  });
});
