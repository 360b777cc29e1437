/**
 * Checks of the request against its own SQL text that the database would otherwise answer with a
 * protocol error (which reads like an outage): the number of parameters must match the highest
 * placeholder, and the text may not contain a NUL character (the server's wire protocol ends
 * strings at NUL, so it would refuse the message).
 */
import { scanSync } from 'libpg-query';
import { BrokerError } from '../errors.js';
import { LruCache } from './lru.js';

/** Agents repeat their statements: the lexer runs once per text (long texts are lexed each time). */
const counts = new LruCache<string, number>(2000);
const MAX_CACHED_LENGTH = 16 * 1024;

/** The highest `$n` the statement uses (0 for none), found with the server's own lexer. */
export function placeholderCount(sql: string): number {
  const known = counts.get(sql);
  if (known !== undefined) return known;
  let max = 0;
  for (const t of scanSync(sql).tokens) {
    if (t.tokenName !== 'PARAM') continue;
    const n = Number(t.text.slice(1));
    if (Number.isSafeInteger(n) && n > max) max = n;
  }
  if (sql.length <= MAX_CACHED_LENGTH) counts.set(sql, max);
  return max;
}

/** Refuse SQL with a NUL character before it reaches the parser (400 `invalid_request`). */
export function checkSqlText(sql: string): void {
  const at = sql.indexOf('\u0000');
  if (at >= 0) {
    throw new BrokerError('invalid_request', `The SQL contains a NUL character (U+0000) at offset ${at}, which PostgreSQL cannot receive. Remove it; pass binary data as a parameter (e.g. hex text decoded with decode($1, 'hex')).`);
  }
}

/** Refuse a request whose params do not match the statement's placeholders (400 `invalid_request`). */
export function checkParamCount(sql: string, params: readonly unknown[]): void {
  const wanted = placeholderCount(sql);
  if (wanted === params.length) return;
  const fix =
    wanted === 0
      ? 'Remove "params", or use $1, $2, … in the SQL where the values go.'
      : `Send exactly ${wanted} value${wanted === 1 ? '' : 's'} in "params", one for each of $1…$${wanted}, in order.`;
  throw paramCountMismatch(wanted, params.length, fix);
}

/** The 400 `invalid_request` for `given` params to a statement with `wanted` placeholders; `fix` in the dialect's placeholders. */
export function paramCountMismatch(wanted: number, given: number, fix: string): BrokerError {
  const placeholders = wanted === 1 ? '1 placeholder' : `${wanted} placeholders`;
  const givenText = given === 1 ? '1 param given' : `${given} params given`;
  return new BrokerError('invalid_request', `The statement has ${placeholders}, ${givenText}. ${fix}`, {
    reasons: [{ code: 'param_count_mismatch', message: `The statement has ${placeholders}, ${givenText}.` }],
    details: { placeholders: wanted, params: given },
  });
}
