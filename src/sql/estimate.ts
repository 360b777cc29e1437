/**
 * How many rows a write would change, from the planner (EXPLAIN without ANALYZE: planned, never
 * executed). Used for UPDATE/DELETE/MERGE/INSERT … SELECT, including writes inside CTEs and under
 * EXPLAIN ANALYZE. Run it on a connection in a read-only transaction for defence in depth:
 * PostgreSQL plans writes there without complaint.
 */
import { Buffer } from 'node:buffer';
import { scanSync } from 'libpg-query';
import { BrokerError } from '../errors.js';
import type { Queryable } from '../db/types.js';
import { analyzeSql } from './analyze.js';
import type { Analysis } from './types.js';

const ESTIMABLE = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'SelectStmt']);
const PREFIX = 'EXPLAIN (FORMAT JSON) ';

/**
 * The planner's estimate of rows inserted, updated, deleted or merged by `sql`, whose analysis the
 * caller already made (the statement is not parsed again; only the EXPLAIN text built here is).
 */
export async function estimateAffectedRows(db: Queryable, analysis: Analysis, sql: string, params: unknown[]): Promise<number> {
  const target = statementToPlan(analysis, sql);
  const explain = PREFIX + target;
  // The text we send must be exactly one plain EXPLAIN of that statement, whatever its content.
  const check = analyzeSql(explain, { maxLength: Number.MAX_SAFE_INTEGER });
  const options = (check.root as { ExplainStmt?: { options?: unknown[] } }).ExplainStmt?.options;
  if (check.command !== 'ExplainStmt' || options?.length !== 1) {
    throw new BrokerError('invalid_request', 'This statement cannot be estimated with EXPLAIN.');
  }
  const { rows } = await db.query(explain, params);
  const plan = rows[0]?.['QUERY PLAN'];
  const parsed: unknown = typeof plan === 'string' ? JSON.parse(plan) : plan;
  const top = Array.isArray(parsed) ? (parsed[0] as { Plan?: PlanNode } | undefined)?.Plan : undefined;
  if (top === undefined) throw new BrokerError('internal_error', 'EXPLAIN returned no plan.');
  return affectedRows(top);
}

interface PlanNode {
  'Node Type'?: string;
  'Plan Rows'?: number;
  'Parent Relationship'?: string;
  Plans?: PlanNode[];
}

/** Sum the rows fed into every ModifyTable node (its own "Plan Rows" is 0 without RETURNING). */
function affectedRows(top: PlanNode): number {
  let total = 0;
  let modifyNodes = 0;
  const stack: PlanNode[] = [top];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const children = node.Plans ?? [];
    if (node['Node Type'] === 'ModifyTable') {
      modifyNodes += 1;
      for (const child of children) {
        if (child['Parent Relationship'] === 'Outer' || child['Parent Relationship'] === undefined) total += child['Plan Rows'] ?? 0;
      }
    }
    stack.push(...children);
  }
  return modifyNodes > 0 ? total : (top['Plan Rows'] ?? 0);
}

/**
 * The statement whose effect we estimate: `sql` itself, or for `EXPLAIN ANALYZE <stmt>` the
 * explained statement (EXPLAIN takes no second set of options).
 */
function statementToPlan(analysis: Analysis, sql: string): string {
  let text = sql;
  let command = analysis.command;
  if (command === 'ExplainStmt') {
    text = explainedText(sql);
    // The explained statement's type, from the tree already parsed (`{"UpdateStmt": {…}}`).
    const query = (analysis.root as { ExplainStmt?: { query?: object } }).ExplainStmt?.query;
    command = query === undefined ? '' : (Object.keys(query)[0] ?? '');
  }
  if (!ESTIMABLE.has(command)) {
    throw new BrokerError('invalid_request', `Row estimates are made for INSERT, UPDATE, DELETE and MERGE, not for ${command || 'this statement'}.`);
  }
  return text;
}

/** The text after `EXPLAIN [ (options) | ANALYZE | VERBOSE … ]`, found with the server's own lexer. */
function explainedText(sql: string): string {
  const tokens = scanSync(sql).tokens.filter((t) => t.tokenName !== 'C_COMMENT' && t.tokenName !== 'SQL_COMMENT');
  let i = 1; // tokens[0] is EXPLAIN
  if (tokens[i]?.text === '(') {
    while (i < tokens.length && tokens[i]?.text !== ')') i += 1;
    i += 1;
  } else {
    while (/^(analyze|analyse|verbose)$/i.test(tokens[i]?.text ?? '')) i += 1;
  }
  const start = tokens[i]?.start;
  if (start === undefined) throw new BrokerError('invalid_request', 'This EXPLAIN has no statement to estimate.');
  // Token offsets are in UTF-8 bytes.
  return Buffer.from(sql, 'utf8').subarray(start).toString('utf8');
}
