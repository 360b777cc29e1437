/**
 * The analyze stage: one SQL text in, one `Analysis` out (or a 400-class BrokerError). Analyses of
 * repeated statements come from a bounded cache keyed by the exact text, because agents repeat
 * themselves and a cache hit costs about a microsecond where a parse costs tens.
 */
import { createHash } from 'node:crypto';
import { BrokerError } from '../errors.js';
import type { Analysis } from './types.js';
import { parseStatements } from './parser.js';
import { classifyStatement } from './classify.js';
import { statementReach } from './reach.js';
import { LruCache } from './lru.js';

export const DEFAULT_MAX_SQL_LENGTH = 100_000;

/** Statements longer than this are analysed but not cached (they are rare and would crowd the cache). */
const MAX_CACHED_LENGTH = 16 * 1024;
const CACHE_ENTRIES = 2000;

const cache = new LruCache<string, Analysis>(CACHE_ENTRIES);

export interface AnalyzeOptions {
  /** refuse longer SQL before parsing it (characters); default 100 000 */
  maxLength?: number;
}

/**
 * Parse and classify exactly one statement. The returned object may be shared with other callers
 * of the same text (it is frozen): never mutate it.
 *
 * Throws BrokerError `sql_too_long`, `sql_parse_error` or `multiple_statements`.
 */
export function analyzeSql(sql: string, options: AnalyzeOptions = {}): Analysis {
  const maxLength = options.maxLength ?? DEFAULT_MAX_SQL_LENGTH;
  if (sql.length > maxLength) {
    throw new BrokerError('sql_too_long', `The SQL is ${sql.length} characters long; the limit is ${maxLength}. Send a shorter statement (use parameters instead of long literals).`);
  }
  const cached = cache.get(sql);
  if (cached !== undefined) return cached;

  const stmts = parseStatements(sql);
  if (stmts.length === 0) {
    throw new BrokerError('sql_parse_error', 'The SQL contains no statement (only whitespace, comments or semicolons). Send exactly one statement.');
  }
  if (stmts.length > 1) {
    throw new BrokerError('multiple_statements', `The SQL contains ${stmts.length} statements; the broker runs exactly one per request. Send each statement as its own request.`, {
      details: { statements: stmts.length },
    });
  }
  const stmt = stmts[0]!;
  const root = stmt.stmt;
  if (root === undefined) throw new BrokerError('sql_parse_error', 'The SQL contains no statement. Send exactly one statement.');

  const analysis: Analysis = {
    sqlHash: sqlHash(sql),
    ...classifyStatement(root),
    reach: statementReach(root),
    stmt,
    root,
  };
  deepFreeze(analysis);
  if (sql.length <= MAX_CACHED_LENGTH) cache.set(sql, analysis);
  return analysis;
}

/** SHA-256 hex of the exact SQL text (UTF-8): what an approval binds to. */
export function sqlHash(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** For tests and benchmarks: forget every cached analysis. */
export function clearAnalysisCache(): void {
  cache.clear();
}

/** Freeze the analysis and its tree, iteratively (trees can be thousands of levels deep). */
function deepFreeze(root: object): void {
  const stack: object[] = [root];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (Object.isFrozen(o)) continue;
    Object.freeze(o);
    for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) stack.push(v);
  }
}
