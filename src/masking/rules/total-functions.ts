/**
 * The ALLOW-LIST of expressions a value derived from a masked column may flow through: functions,
 * operators and expression nodes that cannot fail whatever that value is (total functions). Anything
 * else applied to masked lineage is refused before it runs (`masked_column_in_fallible_expression`):
 * whether an error comes back would otherwise be a one-bit oracle on the value (`sqrt(ascii(…) - 52)`,
 * `(ascii(…) - 48) * 1000000000`), and its message could echo a number computed from it.
 *
 * A value that went through a total function is still masked lineage: `ascii(substr(card, 1, 1))` is
 * an int, and arithmetic on it is not total (overflow, division), so it is refused too.
 *
 * The list is deliberately short. Adding an entry needs an argument that the function cannot raise
 * an error for any input in the listed positions (given constant or clear values elsewhere).
 */
import type { Node } from '@pgsql/types';
import { stringsOf, unwrap, visitObjects } from '../lineage/parse-tree.js';
import type { Lineage } from '../types.js';

/** One argument of a call, as the walker saw it. */
export interface CallArg {
  node: Node | undefined;
  lineage: Lineage;
  /** carries a masked source */
  masked: boolean;
}

/**
 * Which arguments may carry a masked value: every one, the listed positions, or a check of the
 * whole call (constant format strings, encodings…).
 */
type ArgRule = 'all' | readonly number[] | ((args: readonly CallArg[]) => boolean);

function stringConst(n: Node | undefined): string | undefined {
  const u = unwrap(n);
  if (!u || u[0] !== 'A_Const') return undefined;
  const s = u[1].sval as { sval?: string } | undefined;
  return s === undefined ? undefined : (s.sval ?? '');
}

/** `format()` whose format is a constant using only `%s`, `%L` and `%%` (`%I` fails on NULL, `*` takes a width). */
function formatIsTotal(args: readonly CallArg[]): boolean {
  if (args[0]?.masked) return false;
  const fmt = stringConst(args[0]?.node);
  if (fmt === undefined || fmt.includes('*')) return false;
  const directives = fmt.replace(/%%/g, '').match(/%[^a-zA-Z%]*[a-zA-Z%]?/g) ?? [];
  return directives.every((d) => /^%(?:\d+\$)?-?\d*[sL]$/.test(d));
}

/** `convert_to(x, 'UTF8')`: the database encoding is UTF-8, so the conversion cannot meet an unmappable character. */
function convertToUtf8(args: readonly CallArg[]): boolean {
  const enc = stringConst(args[1]?.node);
  return !args[1]?.masked && enc !== undefined && /^utf-?8$/i.test(enc) && args.length === 2;
}

/** `json_build_object(k, v, …)`: a NULL key fails, so masked values only in value positions. */
function valuePositionsOnly(args: readonly CallArg[]): boolean {
  return args.every((a, i) => !a.masked || i % 2 === 1);
}


const FIRST: readonly number[] = [0];

function intConstant(n: Node | undefined): boolean {
  const u = unwrap(n);
  return u !== undefined && u[0] === 'A_Const' && u[1].ival !== undefined;
}

/**
 * A constant regular expression without back-references. With one (`(a*)*\1`), matching can take
 * time exponential in the subject, and the statement timeout would answer whether the masked
 * subject makes it slow.
 */
export function plainRegex(node: Node | undefined): boolean {
  const text = stringConst(node);
  return text !== undefined && !/\\[1-9]/.test(text);
}

/** `regexp_like(x, pattern[, flags…])`: the masked value as the subject, a plain constant pattern, constants after it. */
function plainPattern(args: readonly CallArg[]): boolean {
  return plainRegex(args[1]?.node) && args.slice(1).every((a) => !a.masked && (stringConst(a.node) !== undefined || intConstant(a.node)));
}

/**
 * A constant LIKE pattern that cannot fail: PostgreSQL raises "LIKE pattern must not end with escape
 * character" only when matching gets that far, so a trailing lone backslash would answer whether the
 * masked text starts with what comes before it. (A custom ESCAPE makes the pattern a call: refused.)
 */
function wellFormedLike(node: Node | undefined): boolean {
  const text = stringConst(node);
  if (text === undefined) return false;
  const trailing = /\\+$/.exec(text)?.[0].length ?? 0;
  return trailing % 2 === 0;
}

/** Every argument after the masked string is a constant (a string or an integer). */
function constantsAfterFirst(args: readonly CallArg[]): boolean {
  return args.slice(1).every((a) => !a.masked && (stringConst(a.node) !== undefined || intConstant(a.node)));
}

/**
 * `replace(x, from, to)` with constants and `to` no longer than `from`: the output never grows.
 * Otherwise it would grow with the number of matches, and past the server's 1 GB limit (or the
 * statement timeout) the error would count them.
 */
function nonGrowingReplace(args: readonly CallArg[]): boolean {
  const from = stringConst(args[1]?.node);
  const to = stringConst(args[2]?.node);
  return constantsAfterFirst(args) && from !== undefined && to !== undefined && (from.length === 0 || to.length <= from.length);
}

/**
 * `regexp_replace(x, pattern, to[, …])` with constants, a plain pattern and at most one character
 * of replacement: matches may be empty, so the output may double, never more (the walker counts
 * that in the value's weight).
 */
function boundedRegexpReplace(args: readonly CallArg[]): boolean {
  const to = stringConst(args[2]?.node);
  return constantsAfterFirst(args) && plainRegex(args[1]?.node) && to !== undefined && to.length <= 1;
}

/**
 * `substring(x from 2 for 3)`: positions are integer constants. `substring(x from 'pattern')` and
 * `substring(x similar … escape …)` return NULL when nothing matches, so they are not total.
 */
function substringByPosition(args: readonly CallArg[]): boolean {
  return args.slice(1).every((a) => !a.masked && intConstant(a.node));
}

export const TOTAL_FUNCTIONS: ReadonlyMap<string, ArgRule> = new Map<string, ArgRule>([
  // text → number / text: cannot fail on any string content
  ['length', 'all'], ['char_length', 'all'], ['character_length', 'all'], ['octet_length', 'all'], ['bit_length', 'all'],
  ['lower', 'all'], ['upper', 'all'], ['initcap', 'all'], ['reverse', 'all'], ['ascii', 'all'],
  ['md5', 'all'], ['sha224', 'all'], ['sha256', 'all'], ['sha384', 'all'], ['sha512', 'all'],
  ['concat', 'all'], ['concat_ws', 'all'], ['strpos', 'all'], ['position', 'all'], ['starts_with', 'all'],
  ['btrim', 'all'], ['ltrim', 'all'], ['rtrim', 'all'],
  ['quote_literal', 'all'], ['quote_nullable', 'all'], ['quote_ident', 'all'],
  // the masked value as the STRING argument only (a masked length, position or pattern can fail)
  // Not here, though they cannot fail: what is NULL, or how long an array is, must not depend on
  // the masked value. COALESCE and every strict function (skipped on NULL) branch on NULL, and array
  // constructors, `||` and array_agg fail on sub-arrays of different lengths: either turns such a
  // value into an error/no-error oracle. So regexp_match and regexp_substr (NULL when nothing
  // matches), substring with a pattern (the same), array_length (NULL for an empty array) and
  // string_to_array (its length) are refused.
  ['substr', FIRST], ['substring', substringByPosition], ['left', FIRST], ['right', FIRST], ['lpad', FIRST], ['rpad', FIRST],
  ['replace', nonGrowingReplace], ['translate', FIRST], ['split_part', FIRST],
  ['regexp_replace', boundedRegexpReplace], ['regexp_like', plainPattern], ['regexp_count', plainPattern], ['regexp_instr', plainPattern],
  ['to_char', FIRST], ['encode', FIRST], ['cardinality', 'all'], ['array_to_string', 'all'],
  ['format', formatIsTotal], ['convert_to', convertToUtf8],
  // JSON / XML / row constructors
  ['to_json', 'all'], ['to_jsonb', 'all'], ['row_to_json', 'all'], ['array_to_json', 'all'],
  ['json_build_array', 'all'], ['jsonb_build_array', 'all'], ['json_typeof', 'all'], ['jsonb_typeof', 'all'],
  ['json_build_object', valuePositionsOnly], ['jsonb_build_object', valuePositionsOnly],
  // aggregates that collect or pick values without computing on them
  ['count', 'all'], ['min', 'all'], ['max', 'all'], ['array_agg', 'all'], ['string_agg', 'all'], ['json_agg', 'all'],
  ['jsonb_agg', 'all'], ['xmlagg', 'all'], ['bool_and', 'all'], ['bool_or', 'all'], ['every', 'all'],
  ['json_object_agg', [1]], ['jsonb_object_agg', [1]],
  // window functions that return another row's value
  ['lag', FIRST], ['lead', FIRST], ['first_value', FIRST], ['last_value', FIRST], ['nth_value', FIRST],
  ['num_nulls', 'all'], ['num_nonnulls', 'all'],
]);

/** Ordered-set aggregates whose WITHIN GROUP (ORDER BY x) may be masked: they pick a value, no arithmetic. */
export const TOTAL_WITHIN_GROUP = new Set(['mode', 'percentile_disc']);

/**
 * A clear operand whose size the statement bounds: no call and no sub-query anywhere in it (those
 * can build a value of any size, e.g. `repeat('x', 1000000000)` or a `string_agg` over
 * `generate_series`). Next to a masked value, an unbounded one would let the server's 1 GB limit
 * tell how long the masked part is.
 */
export function boundedClear(node: unknown): boolean {
  return !visitObjects(node, (o) => 'FuncCall' in o || 'SubLink' in o);
}

/** Aggregates that concatenate their inputs: the result's size is the sum of the values' sizes over every row. */
export const COLLECTING_AGGREGATES = new Set(['array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'xmlagg', 'json_object_agg', 'jsonb_object_agg']);

/** Whether this call cannot fail whatever its masked arguments are. */
export function isTotalCall(fname: string, args: readonly CallArg[], opts: { variadic: boolean }): boolean {
  const rule = TOTAL_FUNCTIONS.get(fname);
  if (rule === undefined) return false;
  // A masked value next to a clear one of unbounded size: the 1 GB limit would measure the masked part.
  if (args.some((a) => a.masked) && !args.every((a) => a.masked || boundedClear(a.node))) return false;
  // Collecting a computed value over rows the agent can multiply (joins, generate_series): the 1 GB
  // limit would measure it (translate(card, '4', '') is as long as the card has no 4s). A column or
  // a whole row is collected as it is stored.
  if (COLLECTING_AGGREGATES.has(fname) && args.some((a) => a.masked && !a.lineage.identity && unwrap(a.node)?.[0] !== 'ColumnRef')) return false;
  // VARIADIC arrays and named arguments move values to positions this list does not describe.
  if (opts.variadic && args.some((a) => a.masked)) return false;
  if (args.some((a) => a.masked && unwrap(a.node)?.[0] === 'NamedArgExpr')) return false;
  if (rule === 'all') return true;
  if (typeof rule === 'function') return rule(args);
  return args.every((a, i) => !a.masked || rule.includes(i));
}

/** Operators that cannot fail on either operand (comparisons, concatenation, containment). */
const TOTAL_OPERATORS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', '||', '?', '?|', '?&', '@>', '<@', '^@']);
// JSON access (->, ->>, #>, #>>) is not total on masked values: with a masked key or path, or on a
// masked document whose keys vary, it is NULL depending on the value (see the NULL note above).
/** Pattern operators: total when the masked value is the string, not the pattern (a bad pattern fails). */
const STRING_SIDE_OPERATORS = new Set(['~', '~*', '!~', '!~*', '~~', '~~*', '!~~', '!~~*']);

/** `A_Expr` kinds that only compare (IN, IS [NOT] DISTINCT FROM, BETWEEN). */
const COMPARING_KINDS = new Set(['AEXPR_DISTINCT', 'AEXPR_NOT_DISTINCT', 'AEXPR_IN', 'AEXPR_BETWEEN', 'AEXPR_NOT_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_NOT_BETWEEN_SYM', 'AEXPR_NULLIF']);
const OPERATOR_KINDS = new Set(['AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL', 'AEXPR_LIKE', 'AEXPR_ILIKE', 'AEXPR_SIMILAR']);

/** Whether an operator expression cannot fail whatever its masked operands are (`right`: the right operand, for pattern checks). */
export function isTotalOperator(kind: string | undefined, name: unknown, left: { present: boolean; masked: boolean }, rightMasked: boolean, right?: Node): boolean {
  if (kind !== undefined && COMPARING_KINDS.has(kind)) return true;
  if (kind === undefined || !OPERATOR_KINDS.has(kind)) return false;
  if (!left.present) return false; // prefix operators: -x, |/x, @x …
  const op = stringsOf(name).at(-1) ?? '';
  if (TOTAL_OPERATORS.has(op)) return true;
  if (STRING_SIDE_OPERATORS.has(op)) {
    if (rightMasked) return false;
    // ~ ~* !~ !~* match a regular expression (SIMILAR TO too); the ~~ forms are LIKE.
    return op.includes('~~') ? wellFormedLike(right) : plainRegex(right);
  }
  return false;
}

/** XML constructors that only escape their content (XMLPARSE, XMLPI, XMLROOT, XMLSERIALIZE and IS DOCUMENT can fail). */
const TOTAL_XML_OPS = new Set(['IS_XMLELEMENT', 'IS_XMLFOREST', 'IS_XMLCONCAT']);

/** Expression nodes (other than calls, operators and casts) that cannot fail on a masked input. */
export function isTotalNode(type: string, body: Record<string, unknown>): boolean {
  switch (type) {
    case 'NullTest':
    case 'BooleanTest':
    case 'RowExpr':
    case 'A_ArrayExpr':
    case 'CoalesceExpr':
    case 'MinMaxExpr':
    case 'ResTarget':
    case 'JsonIsPredicate':
      return true;
    case 'XmlExpr':
      return typeof body.op === 'string' && TOTAL_XML_OPS.has(body.op);
    default:
      return false;
  }
}

/** How a refusal names the expression. */
export function describeNode(type: string, body: Record<string, unknown>): string {
  if (type === 'XmlExpr' && typeof body.op === 'string') return `${body.op.replace(/^IS_/, '').toLowerCase()}()`;
  return `an expression of kind ${type}`;
}
