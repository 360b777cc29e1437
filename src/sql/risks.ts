/**
 * Risk flags the analyzer attaches to a statement. Each is a stable snake_case code (the same code
 * the agent later sees as a refusal reason) and a sentence saying why and what to do instead.
 * Whether a flag denies, needs approval or is informational is decided in src/policy/decide.ts.
 */
import type { Reason } from '../errors.js';

export type RiskCode =
  | 'transaction_control'
  | 'session_state_change'
  | 'procedural_code'
  | 'procedure_call'
  | 'copy_statement'
  | 'server_file_access'
  | 'sql_string_function'
  | 'server_control_function'
  | 'advisory_lock'
  | 'large_object_function'
  | 'notification'
  | 'lock_statement'
  | 'server_level_command'
  | 'privilege_change'
  | 'truncate'
  | 'system_catalog_write'
  | 'locking_clause'
  | 'select_into'
  | 'data_modifying_cte'
  | 'explain_analyze'
  | 'update_without_where'
  | 'delete_without_where'
  | 'replace_statement'
  | 'unrecognised_statement'
  | 'unrecognised_construct';

export const RISK_CODES: readonly RiskCode[] = [
  'transaction_control',
  'session_state_change',
  'procedural_code',
  'procedure_call',
  'copy_statement',
  'server_file_access',
  'sql_string_function',
  'server_control_function',
  'advisory_lock',
  'large_object_function',
  'notification',
  'lock_statement',
  'server_level_command',
  'privilege_change',
  'truncate',
  'system_catalog_write',
  'locking_clause',
  'select_into',
  'data_modifying_cte',
  'explain_analyze',
  'update_without_where',
  'delete_without_where',
  'replace_statement',
  'unrecognised_statement',
  'unrecognised_construct',
];

export interface Risk extends Reason {
  code: RiskCode;
}

export function risk(code: RiskCode, message: string): Risk {
  return { code, message };
}

/** Messages for flags whose wording does not depend on the statement. */
export const RISK_MESSAGES = {
  transaction_control:
    'Transaction control (BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT, PREPARE TRANSACTION) is refused: the broker runs each request as one statement in its own transaction. Send only the statement itself.',
  procedural_code:
    'DO blocks run procedural code the broker cannot inspect. Send the statements one request at a time instead.',
  procedure_call:
    'CALL runs a stored procedure whose body the broker cannot inspect (it may change data or commit). It needs a write profile and human approval; to read, call a function in a SELECT instead.',
  copy_statement:
    'COPY is refused in every direction: the broker does not carry the COPY protocol, and COPY to or from files or programs reaches the server machine. Use SELECT to read and INSERT to write.',
  lock_statement:
    'LOCK TABLE is refused: each request is its own short transaction, so the lock cannot help and can block other sessions. Rely on the statement\'s own row locks.',
  notification:
    'NOTIFY/pg_notify sends messages to other sessions and is refused. Ask an operator if an application must be signalled.',
  truncate:
    'TRUNCATE removes every row of a table at once and cannot be bounded by a WHERE clause; it needs human approval. To remove some rows, use DELETE … WHERE.',
  system_catalog_write:
    'Writing to a system catalog or view (pg_catalog, information_schema, pg_*) changes the server\'s own state, not data; it is refused for every profile.',
  locking_clause:
    'SELECT … FOR UPDATE/SHARE locks rows as a write would; read profiles may not take locks. Remove the locking clause to read.',
  select_into:
    'SELECT … INTO creates a new table. Remove INTO to read the rows, or ask for a schema change through a write profile and approval.',
  data_modifying_cte:
    'A WITH clause contains INSERT, UPDATE, DELETE or MERGE: this statement writes data even though it reads like a query.',
  explain_analyze:
    'EXPLAIN ANALYZE executes the statement it explains; it is judged as that statement. Use EXPLAIN without ANALYZE to see the plan without running it.',
  update_without_where:
    'UPDATE without a WHERE clause that refers to a column changes every row of the table; it needs human approval. Add a WHERE clause that selects the rows you mean.',
  delete_without_where:
    'DELETE without a WHERE clause that refers to a column removes every row of the table; it needs human approval. Add a WHERE clause that selects the rows you mean.',
  replace_statement:
    'REPLACE (MySQL) deletes every existing row whose primary or unique key matches a new row and inserts the new one; which rows it deletes is not bounded by a WHERE clause, so it needs human approval. Use INSERT to add rows, UPDATE … WHERE to change them, or INSERT … ON DUPLICATE KEY UPDATE for an upsert.',
  unrecognised_statement:
    'The broker does not recognise this kind of statement, so it refuses it (fail closed). Use SELECT to read, or INSERT/UPDATE/DELETE through a write profile.',
} as const satisfies Partial<Record<RiskCode, string>>;
