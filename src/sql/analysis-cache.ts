/**
 * The front of both engines' analyze stage: the length limit, then a bounded cache of analyses keyed
 * by the exact text, because agents repeat themselves and a cache hit costs about a microsecond
 * where a parse costs tens. Analyses are frozen before they are cached, so every caller of the same
 * text may share one.
 */
import { BrokerError } from '../errors.js';
import { LruCache } from './lru.js';

export const DEFAULT_MAX_SQL_LENGTH = 100_000;

/** Statements longer than this are analysed but not cached (they are rare and would crowd the cache). */
const MAX_CACHED_LENGTH = 16 * 1024;
const CACHE_ENTRIES = 2000;

export interface AnalyzeOptions {
  /** refuse longer SQL before parsing it (characters); default 100 000 */
  maxLength?: number;
}

/** One engine's cache of analyses. */
export class AnalysisCache<A extends object> {
  private readonly cache = new LruCache<string, A>(CACHE_ENTRIES);

  /**
   * The analysis of `sql`: from the cache, or `analyze(sql)` frozen (and cached unless the text is
   * long). Throws BrokerError `sql_too_long` before anything else, and whatever `analyze` throws.
   */
  analyze(sql: string, options: AnalyzeOptions, analyze: (sql: string) => A): A {
    const maxLength = options.maxLength ?? DEFAULT_MAX_SQL_LENGTH;
    if (sql.length > maxLength) {
      throw new BrokerError('sql_too_long', `The SQL is ${sql.length} characters long; the limit is ${maxLength}. Send a shorter statement (use parameters instead of long literals).`);
    }
    const cached = this.cache.get(sql);
    if (cached !== undefined) return cached;
    const analysis = analyze(sql);
    deepFreeze(analysis);
    if (sql.length <= MAX_CACHED_LENGTH) this.cache.set(sql, analysis);
    return analysis;
  }

  /** For tests and benchmarks: forget every cached analysis. */
  clear(): void {
    this.cache.clear();
  }
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
