/**
 * MySQL's names for the masking rules' decisions (src/masking/rules/): which built-in functions a
 * masked value may flow through, which branch on it, which parse it, and which casts keep it. The
 * rules themselves (what may flow where, and why) are the shared ones; this file only says how
 * MySQL spells them and where MySQL's semantics differ from PostgreSQL's.
 *
 * Where MySQL differs, and the choice taken (always the stricter one):
 * - Conversions that PostgreSQL refuses with an error MySQL often performs with a WARNING that
 *   quotes the value ("Truncated incorrect INTEGER value: '123-45-6789'") and that strict mode turns
 *   into an error inside INSERT … SELECT and UPDATE. So a cast of a masked value to a number, a date
 *   or JSON, and a comparison of one with a number, are refused as fallible, exactly as in
 *   PostgreSQL, although a plain SELECT would not fail: the warning lives on in the session's
 *   diagnostics area, and the same expression in a write fails.
 * - Regular expressions run in ICU with a time and stack limit whose error depends on the subject:
 *   REGEXP, RLIKE and the REGEXP_* functions are refused on masked values (PostgreSQL allows a plain
 *   constant pattern; MySQL's limits make the subject matter too).
 * - IFNULL and COALESCE pick a branch by the value's NULL-ness: refused (a branch that can fail, like
 *   a sub-query returning two rows, would answer "is it NULL?").
 * - `||` is OR unless the session has PIPES_AS_CONCAT: treated as AND/OR (refused).
 */
import type { Lineage } from '../../masking/types.js';

/** One argument of a call as the MySQL walker saw it. */
export interface MysqlCallArg {
  node: unknown;
  lineage: Lineage;
  masked: boolean;
}

type ArgRule = 'all' | readonly number[] | ((args: readonly MysqlCallArg[]) => boolean);

const FIRST: readonly number[] = [0];

function nodeType(n: unknown): string | undefined {
  return n !== null && typeof n === 'object' && typeof (n as { type?: unknown }).type === 'string' ? (n as { type: string }).type : undefined;
}

const STRING_LITERALS = new Set(['single_quote_string', 'double_quote_string', 'string', 'natural_string', 'hex_string', 'full_hex_string', 'bit_string', 'backticks_quote_string']);

export function isStringLiteral(n: unknown): boolean {
  const t = nodeType(n);
  return t !== undefined && STRING_LITERALS.has(t);
}

export function isNumberLiteral(n: unknown): boolean {
  const t = nodeType(n);
  return t === 'number' || t === 'bool' || t === 'boolean';
}

function intLiteral(n: unknown): boolean {
  return nodeType(n) === 'number' && Number.isInteger((n as { value?: unknown }).value);
}

function constant(a: MysqlCallArg): boolean {
  return !a.masked && (isStringLiteral(a.node) || intLiteral(a.node));
}

/** The masked value only as the string; every other argument an integer constant (positions, lengths). */
function positionsConstant(args: readonly MysqlCallArg[]): boolean {
  return args.slice(1).every((a) => !a.masked && intLiteral(a.node));
}

/** `LPAD(x, n, pad)`: constant length and pad. */
function constantsAfterFirst(args: readonly MysqlCallArg[]): boolean {
  return args.slice(1).every(constant);
}

/** `REPLACE(x, from, to)` with constants and `to` no longer than `from`: the output never grows. */
function nonGrowingReplace(args: readonly MysqlCallArg[]): boolean {
  if (!constantsAfterFirst(args)) return false;
  const from = (args[1]?.node as { value?: unknown } | undefined)?.value;
  const to = (args[2]?.node as { value?: unknown } | undefined)?.value;
  return typeof from === 'string' && typeof to === 'string' && (from.length === 0 || to.length <= from.length);
}

/** `JSON_OBJECT(k, v, …)`: a NULL key fails ("JSON documents may not contain NULL member names"): masked values only as values. */
function valuePositionsOnly(args: readonly MysqlCallArg[]): boolean {
  return args.every((a, i) => !a.masked || i % 2 === 1);
}

/** Comparing functions convert to a number when any argument is one (the warning quotes the text). */
function noNumberLiterals(args: readonly MysqlCallArg[]): boolean {
  return !args.some((a) => isNumberLiteral(a.node));
}

/**
 * The ALLOW-LIST for MySQL: built-ins that cannot fail (or warn quoting the value) whatever the
 * masked argument in the listed positions is. Names upper-case, as MySQL matches them.
 */
export const MYSQL_TOTAL_FUNCTIONS: ReadonlyMap<string, ArgRule> = new Map<string, ArgRule>([
  ['LENGTH', 'all'], ['CHAR_LENGTH', 'all'], ['CHARACTER_LENGTH', 'all'], ['OCTET_LENGTH', 'all'], ['BIT_LENGTH', 'all'],
  ['UPPER', 'all'], ['LOWER', 'all'], ['UCASE', 'all'], ['LCASE', 'all'], ['REVERSE', 'all'], ['ASCII', 'all'], ['ORD', 'all'],
  ['MD5', 'all'], ['SHA1', 'all'], ['SHA', 'all'], ['SHA2', (args) => !args[1]?.masked && intLiteral(args[1]?.node)], ['CRC32', 'all'],
  ['CONCAT', 'all'], ['CONCAT_WS', 'all'], ['HEX', 'all'], ['TO_BASE64', 'all'], ['QUOTE', 'all'],
  ['TRIM', 'all'], ['LTRIM', 'all'], ['RTRIM', 'all'],
  ['INSTR', 'all'], ['LOCATE', (args) => args.slice(2).every((a) => !a.masked && intLiteral(a.node))], ['POSITION', 'all'], ['STRCMP', 'all'],
  ['LEFT', positionsConstant], ['RIGHT', positionsConstant], ['SUBSTRING', positionsConstant], ['SUBSTR', positionsConstant], ['MID', positionsConstant],
  ['LPAD', constantsAfterFirst], ['RPAD', constantsAfterFirst], ['REPLACE', nonGrowingReplace],
  ['GREATEST', noNumberLiterals], ['LEAST', noNumberLiterals],
  // JSON constructors: the value is quoted, never parsed
  ['JSON_OBJECT', valuePositionsOnly], ['JSON_ARRAY', 'all'], ['JSON_QUOTE', 'all'], ['JSON_VALID', 'all'],
  // aggregates that collect or pick values without computing on them
  ['COUNT', 'all'], ['MIN', 'all'], ['MAX', 'all'], ['ANY_VALUE', 'all'], ['GROUP_CONCAT', 'all'], ['JSON_ARRAYAGG', 'all'], ['JSON_OBJECTAGG', [1]],
  // window functions that return another row's value
  ['LAG', FIRST], ['LEAD', FIRST], ['FIRST_VALUE', FIRST], ['LAST_VALUE', FIRST], ['NTH_VALUE', FIRST],
]);

/** Aggregates that concatenate their inputs: their size over many rows would measure a computed value. */
export const MYSQL_COLLECTING_AGGREGATES: ReadonlySet<string> = new Set(['GROUP_CONCAT', 'JSON_ARRAYAGG', 'JSON_OBJECTAGG']);

/** Output may be about twice the input or more (escaping, encoding). */
const GROWING: ReadonlySet<string> = new Set(['HEX', 'TO_BASE64', 'QUOTE', 'JSON_QUOTE', 'JSON_OBJECT', 'JSON_ARRAY', 'JSON_ARRAYAGG', 'JSON_OBJECTAGG', 'GROUP_CONCAT', 'CONCAT_WS', 'LPAD', 'RPAD']);

export function mysqlGrowthOf(name: string): number {
  return GROWING.has(name) ? 2 : 1;
}

/** Functions that branch on their first argument (or on every argument but the last): refused as predicates. */
export const MYSQL_BRANCHING_FUNCTIONS: ReadonlyMap<string, 'first' | 'allButLast'> = new Map([
  ['IF', 'first'], ['IFNULL', 'first'], ['NVL', 'first'], ['COALESCE', 'allButLast'], ['ELT', 'first'], ['INTERVAL', 'first'],
]);

/**
 * Parsers: they read the masked text as JSON, a number, a date, an address, base64…; invalid input
 * fails (JSON) or warns quoting it (the rest). Refused as `parsingFunction`.
 */
export const MYSQL_PARSING_FUNCTIONS: ReadonlySet<string> = new Set([
  'JSON_EXTRACT', 'JSON_UNQUOTE', 'JSON_VALUE', 'JSON_CONTAINS', 'JSON_CONTAINS_PATH', 'JSON_KEYS', 'JSON_LENGTH', 'JSON_DEPTH',
  'JSON_TYPE', 'JSON_SEARCH', 'JSON_OVERLAPS', 'JSON_MERGE', 'JSON_MERGE_PATCH', 'JSON_MERGE_PRESERVE', 'JSON_SET', 'JSON_INSERT',
  'JSON_REPLACE', 'JSON_REMOVE', 'JSON_ARRAY_APPEND', 'JSON_ARRAY_INSERT', 'JSON_PRETTY', 'JSON_STORAGE_SIZE', 'JSON_SCHEMA_VALID',
  'JSON_TABLE', 'MEMBER OF',
  'STR_TO_DATE', 'DATE', 'TIME', 'TIMESTAMP', 'DATE_FORMAT', 'YEAR', 'MONTH', 'DAY', 'UNIX_TIMESTAMP', 'FROM_UNIXTIME',
  'FROM_BASE64', 'UNHEX', 'INET_ATON', 'INET6_ATON', 'CONV', 'BIN', 'OCT', 'CHAR', 'UUID_TO_BIN', 'WEIGHT_STRING',
  'ST_GEOMFROMTEXT', 'ST_GEOMFROMWKB', 'EXTRACTVALUE', 'UPDATEXML', 'UNCOMPRESS', 'AES_DECRYPT', 'FORMAT',
  'ABS', 'ROUND', 'FLOOR', 'CEIL', 'CEILING', 'SQRT', 'POW', 'POWER', 'EXP', 'LOG', 'LN', 'SIN', 'COS', 'SUM', 'AVG',
  'STD', 'STDDEV', 'VARIANCE', 'BIT_AND', 'BIT_OR', 'BIT_XOR',
]);

/** Regular-expression functions: ICU's time and stack limits fail depending on the subject. */
export const MYSQL_REGEX_FUNCTIONS: ReadonlySet<string> = new Set(['REGEXP_LIKE', 'REGEXP_SUBSTR', 'REGEXP_REPLACE', 'REGEXP_INSTR']);

/** Functions that read what another statement or session holds, or SQL given as text: fail closed. */
export const MYSQL_UNTRACEABLE_FUNCTIONS: ReadonlySet<string> = new Set(['LOAD_FILE', 'VALUES', 'LAST_INSERT_ID', 'FOUND_ROWS', 'SYS_EXEC', 'SYS_EVAL']);

/** Built-ins with no data inputs that are certainly not stored functions (clear whatever the catalog says). */
export const MYSQL_CLEAR_BUILTINS: ReadonlySet<string> = new Set([
  'NOW', 'CURDATE', 'CURTIME', 'CURRENT_DATE', 'CURRENT_TIME', 'CURRENT_TIMESTAMP', 'UTC_DATE', 'UTC_TIME', 'UTC_TIMESTAMP',
  'SYSDATE', 'LOCALTIME', 'LOCALTIMESTAMP', 'DATABASE', 'SCHEMA', 'USER', 'CURRENT_USER', 'VERSION', 'CONNECTION_ID',
  'ROW_NUMBER', 'RANK', 'DENSE_RANK', 'PERCENT_RANK', 'CUME_DIST', 'NTILE', 'PI', 'RAND', 'UUID',
]);

/** Whether this built-in call cannot fail (or warn quoting the value) whatever its masked arguments are. */
export function mysqlCallIsTotal(name: string, args: readonly MysqlCallArg[], bounded: (node: unknown) => boolean): boolean {
  const rule = MYSQL_TOTAL_FUNCTIONS.get(name);
  if (rule === undefined) return false;
  // A masked value next to a clear one of unbounded size: max_allowed_packet would measure the masked part.
  if (args.some((a) => a.masked) && !args.every((a) => a.masked || bounded(a.node))) return false;
  // Collecting a computed value over rows the agent can multiply: the size limit would measure it.
  if (MYSQL_COLLECTING_AGGREGATES.has(name) && args.some((a) => a.masked && !a.lineage.identity && nodeType(a.node) !== 'column_ref')) return false;
  if (rule === 'all') return true;
  if (typeof rule === 'function') return rule(args);
  return args.every((a, i) => !a.masked || rule.includes(i));
}

/** Comparison operators: they only compare (the result is masked whole), but MySQL converts text to a number next to a number. */
export const MYSQL_COMPARISONS: ReadonlySet<string> = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', '<=>', 'IS', 'IS NOT', 'IN', 'NOT IN', 'BETWEEN', 'NOT BETWEEN', 'LIKE', 'NOT LIKE']);

/** Short-circuiting or boolean connectives (`||` is OR unless PIPES_AS_CONCAT). */
export const MYSQL_CONNECTIVES: ReadonlySet<string> = new Set(['AND', 'OR', 'XOR', '&&', '||']);

export const MYSQL_DIVISIONS: ReadonlySet<string> = new Set(['/', 'DIV', '%', 'MOD']);

export const MYSQL_REGEX_OPERATORS: ReadonlySet<string> = new Set(['REGEXP', 'RLIKE', 'NOT REGEXP', 'NOT RLIKE']);

/**
 * A CAST / CONVERT of a masked value: to CHAR without a length (and to the server's own character
 * types) the value is kept as it is (identity: `last4` still applies); with a length it is truncated
 * with a warning quoting it (refused); to BINARY the bytes are kept but the type changes; anything
 * else (SIGNED, UNSIGNED, DECIMAL, DOUBLE, FLOAT, DATE, DATETIME, TIME, YEAR, JSON) parses it: refused.
 */
export function mysqlCastOfMasked(target: { dataType?: unknown; length?: unknown }): 'refused' | 'unchanged' | 'changed' {
  const t = typeof target.dataType === 'string' ? target.dataType.toUpperCase() : '';
  const hasLength = target.length !== undefined && target.length !== null;
  if (t === 'CHAR' || t === 'NCHAR' || t === 'VARCHAR' || t === 'NVARCHAR' || t === 'TEXT') return hasLength ? 'refused' : 'unchanged';
  if (t === 'BINARY') return hasLength ? 'refused' : 'changed';
  return 'refused';
}

/** A node with no data inputs at all (literals, placeholders, keywords). */
export const MYSQL_LITERAL_TYPES: ReadonlySet<string> = new Set([
  ...STRING_LITERALS, 'number', 'bool', 'boolean', 'null', 'param', 'origin', 'datatype', 'default', 'star', 'date', 'time', 'timestamp', 'datetime',
]);

/**
 * Relations whose content includes values of other tables or other sessions' statements: column
 * statistics and histograms (MySQL's COLUMN_STATISTICS, MariaDB's mysql.column_stats min/max
 * values), full-text index words, statement histories and process lists. Their columns get the
 * fail-closed lineage.
 */
const VALUE_EXPOSING_SCHEMAS: ReadonlySet<string> = new Set(['performance_schema', 'sys', 'mysql']);
const VALUE_EXPOSING_INFORMATION_SCHEMA: ReadonlySet<string> = new Set(['processlist', 'column_statistics', 'optimizer_trace']);

export function mysqlExposesOtherValues(rel: { schema: string; name: string }): boolean {
  const schema = rel.schema.toLowerCase();
  const name = rel.name.toLowerCase();
  if (VALUE_EXPOSING_SCHEMAS.has(schema)) return true;
  return schema === 'information_schema' && (VALUE_EXPOSING_INFORMATION_SCHEMA.has(name) || name.startsWith('innodb_'));
}
