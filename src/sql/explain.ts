/**
 * How both engines judge EXPLAIN, once the explained statement is classified: a plan-only EXPLAIN of
 * a query or DML statement runs nothing, so it is a read of every table the statement names; an
 * EXPLAIN that runs the statement (EXPLAIN ANALYZE) is judged as that statement.
 */
import type { Reason } from '../errors.js';
import type { QualifiedName, StatementKind } from './types.js';
import { RISK_MESSAGES, risk } from './risks.js';

/** Risks of running a statement that planning it does not have. */
const EXECUTION_ONLY_RISKS: ReadonlySet<string> = new Set(['locking_clause', 'data_modifying_cte', 'update_without_where', 'delete_without_where']);

/** What an engine's classifier says of the explained statement. */
export interface ExplainedStatement {
  command: string;
  kind: StatementKind;
  tablesRead: QualifiedName[];
  tablesWritten: QualifiedName[];
  functions: QualifiedName[];
  /** PostgreSQL's classifier lists operators; MySQL's does not */
  operators?: QualifiedName[];
  risks: Reason[];
}

export interface PlanOnlyExplain {
  command: string;
  kind: 'read';
  tablesRead: QualifiedName[];
  tablesWritten: QualifiedName[];
  functions: QualifiedName[];
  operators?: QualifiedName[];
  risks: Reason[];
  needsRowEstimate: false;
}

/**
 * EXPLAIN without running: a read of every table the statement reads or writes, without the risks
 * only running it would have. For an explained query or DML statement whose kind is read or write.
 */
export function planOnlyExplain(explained: ExplainedStatement, command: string): PlanOnlyExplain {
  const tablesRead = [...explained.tablesRead];
  const seen = new Set(tablesRead.map((t) => `${t.schema ?? ''}\u0000${t.name}`));
  for (const t of explained.tablesWritten) {
    const key = `${t.schema ?? ''}\u0000${t.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    tablesRead.push(t);
  }
  return {
    command,
    kind: 'read',
    tablesRead,
    tablesWritten: [],
    functions: explained.functions,
    ...(explained.operators === undefined ? {} : { operators: explained.operators }),
    risks: explained.risks.filter((r) => !EXECUTION_ONLY_RISKS.has(r.code)),
    needsRowEstimate: false,
  };
}

/** EXPLAIN that runs the statement: judged as the statement, flagged `explain_analyze`. */
export function explainThatRuns<C extends ExplainedStatement>(explained: C, command: string, message: string = RISK_MESSAGES.explain_analyze): C {
  return { ...explained, command, risks: [...explained.risks, risk('explain_analyze', message)] };
}
