/**
 * The analyze stage: one SQL text in, one `Analysis` out (or a 400-class BrokerError). Analyses of
 * repeated statements come from a bounded cache keyed by the exact text (analysis-cache.ts).
 */
import { createHash } from 'node:crypto';
import { BrokerError } from '../errors.js';
import type { Analysis } from './types.js';
import { parseStatements } from './parser.js';
import { classifyStatement } from './classify.js';
import { statementReach } from './reach.js';
import { AnalysisCache, type AnalyzeOptions } from './analysis-cache.js';

const cache = new AnalysisCache<Analysis>();

/**
 * Parse and classify exactly one statement. The returned object may be shared with other callers
 * of the same text (it is frozen): never mutate it.
 *
 * Throws BrokerError `sql_too_long`, `sql_parse_error` or `multiple_statements`.
 */
export function analyzeSql(sql: string, options: AnalyzeOptions = {}): Analysis {
  return cache.analyze(sql, options, parseAndClassify);
}

function parseAndClassify(sql: string): Analysis {
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

  return {
    sqlHash: sqlHash(sql),
    ...classifyStatement(root),
    reach: statementReach(root),
    stmt,
    root,
  };
}

/** SHA-256 hex of the exact SQL text (UTF-8): what an approval binds to. */
export function sqlHash(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** For tests and benchmarks: forget every cached analysis. */
export function clearAnalysisCache(): void {
  cache.clear();
}
