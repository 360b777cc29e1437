/**
 * Which functions a MySQL statement may call. MySQL has no volatility catalog for its built-ins, so
 * reads may call only the built-ins listed here: deterministic or harmless (NOW() and friends),
 * without side effects, not blocking. Everything else a read calls is refused unless the policy
 * allow-lists it (`functions.allowVolatile`, a profile's `allowVolatile`): stored functions and UDFs
 * (`db.fn` or `fn`), and the non-deterministic built-ins such as RAND() and UUID().
 *
 * Some functions are refused for every profile, as their PostgreSQL counterparts are
 * (function-rules.ts): named locks (advisory locks that outlive the request on a pooled
 * connection), LOAD_FILE (the server's files), replication waits and the command-running UDFs.
 * Writes are judged as on PostgreSQL: they may call functions a read may not (a statement time limit
 * bounds them); only the functions refused for everyone are refused in writes.
 */
import type { QualifiedName } from '../../sql/types.js';
import { risk, type Risk, type RiskCode } from '../../sql/risks.js';

/** Built-ins a read may call (lower-case). */
export const READ_SAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  // aggregates
  'avg', 'bit_and', 'bit_or', 'bit_xor', 'count', 'group_concat', 'json_arrayagg', 'json_objectagg', 'max', 'min',
  'std', 'stddev', 'stddev_pop', 'stddev_samp', 'sum', 'var_pop', 'var_samp', 'variance',
  // window functions
  'cume_dist', 'dense_rank', 'first_value', 'lag', 'last_value', 'lead', 'nth_value', 'ntile', 'percent_rank', 'rank', 'row_number',
  // flow control and comparison
  'coalesce', 'greatest', 'if', 'ifnull', 'interval', 'isnull', 'least', 'nullif', 'nvl', 'nvl2', 'strcmp', 'field', 'elt',
  // casts
  'cast', 'convert', 'binary',
  // strings
  'ascii', 'bin', 'bit_length', 'char', 'char_length', 'character_length', 'concat', 'concat_ws', 'export_set', 'find_in_set',
  'format', 'from_base64', 'hex', 'insert', 'instr', 'lcase', 'left', 'length', 'locate', 'lower', 'lpad', 'ltrim', 'make_set',
  'mid', 'oct', 'octet_length', 'ord', 'position', 'quote', 'regexp_instr', 'regexp_like', 'regexp_replace', 'regexp_substr',
  'repeat', 'replace', 'reverse', 'right', 'rpad', 'rtrim', 'soundex', 'space', 'substr', 'substring', 'substring_index',
  'to_base64', 'trim', 'ucase', 'unhex', 'upper', 'weight_string', 'collation', 'charset', 'coercibility',
  // numbers
  'abs', 'acos', 'asin', 'atan', 'atan2', 'ceil', 'ceiling', 'conv', 'cos', 'cot', 'crc32', 'degrees', 'div', 'exp', 'floor',
  'ln', 'log', 'log10', 'log2', 'mod', 'pi', 'pow', 'power', 'radians', 'round', 'sign', 'sin', 'sqrt', 'tan', 'truncate',
  // dates and times (the current time is harmless: it changes nothing)
  'adddate', 'addtime', 'convert_tz', 'curdate', 'current_date', 'current_time', 'current_timestamp', 'curtime', 'date',
  'date_add', 'date_format', 'date_sub', 'datediff', 'day', 'dayname', 'dayofmonth', 'dayofweek', 'dayofyear', 'extract',
  'from_days', 'from_unixtime', 'get_format', 'hour', 'last_day', 'localtime', 'localtimestamp', 'makedate', 'maketime',
  'microsecond', 'minute', 'month', 'monthname', 'now', 'period_add', 'period_diff', 'quarter', 'sec_to_time', 'second',
  'str_to_date', 'subdate', 'subtime', 'sysdate', 'time', 'time_format', 'time_to_sec', 'timediff', 'timestamp',
  'timestampadd', 'timestampdiff', 'to_days', 'to_seconds', 'unix_timestamp', 'utc_date', 'utc_time', 'utc_timestamp',
  'week', 'weekday', 'weekofyear', 'year', 'yearweek',
  // JSON readers and constructors
  'json_array', 'json_contains', 'json_contains_path', 'json_depth', 'json_extract', 'json_keys', 'json_length',
  'json_object', 'json_overlaps', 'json_pretty', 'json_quote', 'json_search', 'json_type', 'json_unquote', 'json_valid',
  'json_value', 'json_storage_size', 'json_array_append', 'json_array_insert', 'json_insert', 'json_merge',
  'json_merge_patch', 'json_merge_preserve', 'json_remove', 'json_replace', 'json_set', 'json_schema_valid',
  // hashing and encoding (deterministic)
  'md5', 'sha', 'sha1', 'sha2', 'inet_aton', 'inet_ntoa', 'inet6_aton', 'inet6_ntoa', 'is_ipv4', 'is_ipv6', 'is_uuid',
  'bin_to_uuid', 'uuid_to_bin', 'compress', 'uncompress', 'uncompressed_length',
  // information about the session (reads only)
  'database', 'schema', 'user', 'current_user', 'session_user', 'system_user', 'version', 'current_role',
  // grouping
  'grouping', 'any_value', 'default', 'values',
  // syntax the parser reports as a function
  'exists', 'not exists', 'not', 'all', 'any', 'some', 'row',
]);

/**
 * Built-ins that change from call to call or reveal other statements' effects: refused in reads
 * unless allow-listed by name (as a volatile function is on PostgreSQL).
 */
export const VOLATILE_FUNCTIONS: ReadonlySet<string> = new Set([
  'rand', 'uuid', 'uuid_short', 'last_insert_id', 'row_count', 'found_rows', 'connection_id', 'random_bytes',
  'nextval', 'setval', 'lastval',
]);

/** Refused in reads whatever the allow-list says: they only wait or burn CPU. */
const NEVER_IN_READS: ReadonlySet<string> = new Set(['sleep', 'benchmark']);

interface FunctionRule {
  code: RiskCode;
  names: readonly string[];
  prefixes?: readonly string[];
  why: (name: string) => string;
}

/** Functions refused for every profile (matched by name in any database: a same-named stored function is refused too). */
const RULES: readonly FunctionRule[] = [
  {
    code: 'advisory_lock',
    names: ['get_lock', 'release_lock', 'release_all_locks', 'is_free_lock', 'is_used_lock'],
    why: (n) => `${n}() takes, releases or inspects a named lock that outlives the request on a pooled connection and can block other sessions; it is refused for every profile.`,
  },
  {
    code: 'server_file_access',
    names: ['load_file'],
    why: (n) => `${n}() reads a file on the database server; it is refused for every profile. Query tables instead.`,
  },
  {
    code: 'server_control_function',
    names: ['master_pos_wait', 'source_pos_wait', 'master_gtid_wait', 'wait_for_executed_gtid_set', 'wait_until_sql_thread_after_gtids'],
    prefixes: ['sys_', 'lib_mysqludf_'],
    why: (n) => `${n}() waits on replication or runs commands on the database server, not on data; it is refused for every profile.`,
  },
];

const BY_NAME = new Map<string, FunctionRule>();
for (const rule of RULES) for (const n of rule.names) BY_NAME.set(n, rule);

/** The refusal flag for a function that no profile may call, or undefined. */
export function forbiddenMysqlFunctionRisk(fn: QualifiedName): Risk | undefined {
  const name = fn.name.toLowerCase();
  const rule = BY_NAME.get(name) ?? RULES.find((r) => r.prefixes?.some((p) => name.startsWith(p)));
  if (rule === undefined) return undefined;
  return risk(rule.code, rule.why(fn.schema === undefined ? name : `${fn.schema}.${name}`));
}

/** Names the lexical scan looks for before `(` even when the parser did not report them. */
export const LEXICALLY_WATCHED_FUNCTIONS: ReadonlySet<string> = new Set([...NEVER_IN_READS, ...VOLATILE_FUNCTIONS, ...BY_NAME.keys()]);

/**
 * The calls of a read that its profile may not make: unknown names (stored functions, UDFs) unless
 * listed in `allow` as `db.fn` or `fn`, non-deterministic built-ins unless listed by name, and
 * SLEEP/BENCHMARK and the functions refused for everyone always. Pass the policy's and the profile's
 * `allowVolatile` together. The answer feeds decide() as `volatileFunctions`.
 */
export function disallowedMysqlCalls(analysis: { readonly functions: readonly QualifiedName[] }, allow: readonly string[]): QualifiedName[] {
  return analysis.functions.filter((fn) => !allowedInRead(fn, allow));
}

function allowedInRead(fn: QualifiedName, allow: readonly string[]): boolean {
  const name = fn.name.toLowerCase();
  if (NEVER_IN_READS.has(name) || forbiddenMysqlFunctionRisk(fn) !== undefined) return false;
  if (fn.schema === undefined && READ_SAFE_FUNCTIONS.has(name)) return true;
  return allow.some((entry) => allowListed(entry, fn));
}

/** `fn` matches the name called unqualified (a built-in, or the connection's default database); `db.fn` exactly that stored function. */
function allowListed(entry: string, fn: QualifiedName): boolean {
  const dot = entry.lastIndexOf('.');
  const name = fn.name.toLowerCase();
  if (dot < 0) return fn.schema === undefined && entry.toLowerCase() === name;
  return entry.slice(0, dot) === fn.schema && entry.slice(dot + 1).toLowerCase() === name;
}
