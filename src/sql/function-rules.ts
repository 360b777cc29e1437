/**
 * Functions refused for every profile, whatever their volatility, because what they do escapes
 * the statement the broker analysed: they run SQL given as text, reach the server's files, control
 * other sessions or the server, or change session state. Matched on the decoded function name in
 * any schema (an extension such as dblink may live in any schema; a same-named user function is
 * refused too: fail closed).
 */
import type { QualifiedName } from './types.js';
import { risk, type Risk, type RiskCode } from './risks.js';

interface FunctionRule {
  code: RiskCode;
  names: readonly string[];
  prefixes?: readonly string[];
  why: (name: string) => string;
}

const RULES: readonly FunctionRule[] = [
  {
    code: 'sql_string_function',
    names: [
      'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
      'cursor_to_xml', 'cursor_to_xmlschema',
      'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema',
      'schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema',
      'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
      'ts_stat', 'ts_rewrite',
      'crosstab', 'crosstab2', 'crosstab3', 'crosstab4', 'connectby',
      'pg_background_launch',
    ],
    prefixes: ['dblink', 'pgr_', 'run_command_on_'],
    why: (n) =>
      `${n}() takes a query or a table name as text, so the broker cannot see what it reads or changes (and masking cannot follow the data). Write the query directly in your statement instead.`,
  },
  {
    code: 'server_control_function',
    names: [
      'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_rotate_logfile_old',
      'pg_promote', 'pg_switch_wal', 'pg_switch_xlog', 'pg_create_restore_point',
      'pg_backup_start', 'pg_backup_stop', 'pg_start_backup', 'pg_stop_backup',
      'pg_wal_replay_pause', 'pg_wal_replay_resume',
      'pg_create_physical_replication_slot', 'pg_create_logical_replication_slot', 'pg_drop_replication_slot',
      'pg_copy_physical_replication_slot', 'pg_copy_logical_replication_slot', 'pg_replication_slot_advance',
      'pg_sync_replication_slots', 'pg_logical_emit_message', 'pg_log_backend_memory_contexts',
      'pg_import_system_collations', 'pg_stat_statements_reset',
    ],
    prefixes: ['pg_replication_origin_', 'pg_stat_reset', 'pg_logical_slot_'],
    why: (n) =>
      `${n}() acts on the server or on other sessions, not on data; it is refused for every profile. Ask an operator if it is really needed.`,
  },
  {
    code: 'server_file_access',
    names: [
      'pg_read_file', 'pg_read_binary_file', 'pg_stat_file',
      'pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync', 'pg_logdir_ls',
      'lo_import', 'lo_export',
    ],
    prefixes: ['pg_ls_'],
    why: (n) => `${n}() reads or writes files on the database server; it is refused for every profile. Query tables instead.`,
  },
  {
    code: 'large_object_function',
    names: ['loread', 'lowrite'],
    prefixes: ['lo_'],
    why: (n) =>
      `${n}() works on large objects, which live outside the tables the broker analyses and masks; it is refused for every profile. Store and read data in ordinary table columns.`,
  },
  {
    code: 'advisory_lock',
    names: [],
    prefixes: ['pg_advisory_', 'pg_try_advisory_'],
    why: (n) =>
      `${n}() takes or releases an advisory lock that can outlive the request on a pooled connection and block other sessions; it is refused for every profile.`,
  },
  {
    code: 'session_state_change',
    names: ['set_config'],
    why: (n) =>
      `${n}() changes session settings (for example the role, search_path or read-only mode) for later requests on the same connection; it is refused for every profile. Use current_setting() to read a setting.`,
  },
  {
    code: 'notification',
    names: ['pg_notify'],
    why: (n) => `${n}() sends messages to other sessions and is refused for every profile.`,
  },
];

const BY_NAME = new Map<string, FunctionRule>();
for (const rule of RULES) for (const n of rule.names) BY_NAME.set(n, rule);

/** The refusal flag for a function that is never allowed, or undefined when it may be judged by volatility. */
export function forbiddenFunctionRisk(fn: QualifiedName): Risk | undefined {
  const name = fn.name;
  const rule = BY_NAME.get(name) ?? RULES.find((r) => r.prefixes?.some((p) => name.startsWith(p)));
  if (rule === undefined) return undefined;
  const shown = fn.schema === undefined ? name : `${fn.schema}.${name}`;
  return risk(rule.code, rule.why(shown));
}

/**
 * Functions the server marks volatile (their answer changes while a statement runs) that change
 * nothing: the size functions agents use to understand a database. They count as not volatile for
 * reads by default — only the server's own, in pg_catalog; a same-named function elsewhere is
 * judged by its own marking.
 */
const HARMLESS_VOLATILE: ReadonlySet<string> = new Set([
  'pg_total_relation_size', 'pg_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_database_size',
]);

export function isHarmlessVolatile(fn: { schema: string; name: string }): boolean {
  return fn.schema === 'pg_catalog' && HARMLESS_VOLATILE.has(fn.name);
}
