/**
 * THE MASKING RULES: what a value derived from a masked column may flow into, and why.
 *
 * A masked column is returned masked. What a statement may NOT do is let the masked value decide
 * something the agent sees in clear: which rows come back, in which order, how many, whether an
 * error comes back (or how large or slow the result gets). Each of those is an oracle: one guess
 * per query, and the value falls out bit by bit. So:
 *
 *   a masked value flows into…            | allowed?                                 | why
 *   --------------------------------------+------------------------------------------+--------------------------------------
 *   the select list, unchanged            | yes: masked by its rule                  | the rule decides what is shown
 *   a total function or operator          | yes; the result is masked whole          | cannot fail, whatever the value
 *     (TOTAL_FUNCTIONS, comparisons, ||)  |   (redact, or null)                      | (rules/total-functions.ts)
 *   anything else that computes on it     | no: masked_column_in_fallible_expression | an error would come back or not
 *     (arithmetic, user functions…)       |                                          | depending on the value
 *   WHERE, JOIN, HAVING, LIMIT, FILTER…   | no: masked_column_in_predicate           | it chooses the rows
 *   ORDER BY, GROUP BY, DISTINCT, UNION…  | no: masked_column_in_predicate           | order, groups and equalities show it
 *   CASE, NULLIF, AND/OR, subscripts      | no: masked_column_in_predicate           | it picks a branch
 *   set-returning functions               | no: masked_column_in_predicate           | the row count depends on it
 *   a cast to a non-text type, a parser   | no: masked_column_in_fallible_expression | the failure's message shows the value
 *   a division (as the divisor)           | no: masked_column_in_predicate           | a division by zero answers "is it 0?"
 *   a cast to the server's own text types | yes (identity kept: text, varchar)       | cannot fail (TEXT_TYPE_TABLE)
 *   aggregates                            | count, min, max, collecting ones         | in TOTAL_FUNCTIONS; count(col) of the
 *                                         |                                          | column itself is clear (NULL-ness)
 *   a size-weighting expression           | up to MAX_WEIGHT copies                  | beyond, the 1 GB limit or the timeout
 *     (concatenation, escaping)           |                                          | would measure the value's length
 *   arrays (constructors, ||, array_agg)  | not on a masked array column             | sub-arrays of unequal length fail
 *   a write into another column           | only one masked as strictly              | else the copy reads back unmasked
 *   NULL-ness                             | a plain column keeps NULL as NULL        | derived NULL can mean "a guess failed"
 *   errors                                | never the server's text                  | DETAIL and messages quote values
 *   EXPLAIN ANALYZE                       | no: masked_column_in_fallible_expression | time, memory, rows depend on it
 *   views                                 | trusted: own clauses not checked         | the view's author is not the agent
 *
 * Whatever cannot be traced (user-defined functions, unknown names, EXECUTE) has fail-closed
 * lineage: every column in reach plus every masked column of the policy.
 *
 * MySQL follows the same table; its names, and the places where its semantics differ (IF/IFNULL/
 * COALESCE branch, conversions that warn quoting the value, ICU regular expressions), are in
 * src/engine/mysql/masking-functions.ts.
 *
 * The walker (../lineage/) traces where each value comes from and, at every place a value flows,
 * asks this module: REFUSED_FLOWS names each place with its refusal code and reason; the
 * functions below decide casts, operators, calls, expression nodes, writes and output maskers.
 * Refusal codes and sentences are part of the public contract: change them only on purpose.
 */
import type { A_Expr } from '@pgsql/types';
import type { MaskerName } from '../../policy/schema.js';
import type { Cell } from '../../db/types.js';
import { REDACTED } from '../maskers.js';
import { boundedClear, isTotalCall, isTotalNode, isTotalOperator, TOTAL_WITHIN_GROUP, type CallArg } from './total-functions.js';

export { describeNode, type CallArg } from './total-functions.js';

// ---- places a masked value must not reach --------------------------------------------------

export type RefusalCode = 'masked_column_in_predicate' | 'masked_column_in_fallible_expression';

const INFERENCE: RefusalCode = 'masked_column_in_predicate';
const FALLIBLE: RefusalCode = 'masked_column_in_fallible_expression';

export interface RefusedFlow {
  code: RefusalCode;
  /** how the refusal names the place; each `{}` is filled with a detail (a name, an operator…) */
  place: string;
  /** why the place would reveal the value */
  why: string;
}

/** Every place a masked value is refused, by the walker's name for it. */
export const REFUSED_FLOWS = {
  // which rows come back
  where: { code: INFERENCE, place: 'WHERE', why: 'it chooses the rows' },
  having: { code: INFERENCE, place: 'HAVING', why: 'it chooses the groups' },
  joinOn: { code: INFERENCE, place: 'JOIN … ON', why: 'it chooses the row pairs' },
  joinUsing: { code: INFERENCE, place: 'JOIN … USING', why: 'it compares the values' },
  naturalJoin: { code: INFERENCE, place: 'NATURAL JOIN', why: 'it compares the values' },
  onConflictWhere: { code: INFERENCE, place: 'ON CONFLICT … WHERE', why: 'it chooses the rows updated' },
  mergeOn: { code: INFERENCE, place: 'MERGE … ON', why: 'it chooses the rows matched' },
  mergeWhen: { code: INFERENCE, place: 'MERGE … WHEN … AND', why: 'it chooses the action' },
  tablesample: { code: INFERENCE, place: 'TABLESAMPLE', why: 'it chooses the rows sampled' },
  limit: { code: INFERENCE, place: 'LIMIT', why: 'the row count shows it' },
  offset: { code: INFERENCE, place: 'OFFSET', why: 'the row count shows it' },
  aggregateFilter: { code: INFERENCE, place: 'an aggregate FILTER', why: 'it chooses the rows aggregated' },
  // order, groups, equality
  orderBy: { code: INFERENCE, place: 'ORDER BY', why: 'the order shows it' },
  groupBy: { code: INFERENCE, place: 'GROUP BY', why: 'the groups show equalities' },
  distinct: { code: INFERENCE, place: 'SELECT DISTINCT', why: 'the row count shows equalities' },
  distinctOn: { code: INFERENCE, place: 'DISTINCT ON', why: 'the rows kept show equalities' },
  setOperation: { code: INFERENCE, place: '{}, which compares rows', why: 'the row count shows equalities' },
  aggregateDistinct: { code: INFERENCE, place: '{}(DISTINCT …) (it compares values)', why: 'count(DISTINCT x) = 1 iff the values are equal' },
  aggregateOrderBy: { code: INFERENCE, place: 'an ORDER BY inside an aggregate', why: 'the collected order shows it' },
  partitionBy: { code: INFERENCE, place: 'PARTITION BY', why: 'the partitions show equalities' },
  windowOrderBy: { code: INFERENCE, place: 'a window ORDER BY', why: 'ranks and running values show the order' },
  windowFrame: { code: INFERENCE, place: 'a window frame', why: 'the frame chooses the rows' },
  cteCycle: { code: INFERENCE, place: "a recursive query's CYCLE clause (it compares the values)", why: 'the row count shows equalities' },
  cteSearch: { code: INFERENCE, place: "a recursive query's SEARCH clause (it orders by the values)", why: 'the order shows it' },
  // branching on the value
  andOr: { code: INFERENCE, place: 'AND/OR (evaluation stops early)', why: 'it decides whether the rest runs (and fails)' },
  caseArg: { code: INFERENCE, place: 'CASE (it branches on the value)', why: 'it picks the branch' },
  caseWhen: { code: INFERENCE, place: 'CASE WHEN (it branches on the value)', why: 'it picks the branch' },
  nullif: { code: INFERENCE, place: 'NULLIF (it branches on the value)', why: 'NULL or not shows equality' },
  branchFunction: { code: INFERENCE, place: '{}() (it branches on the value)', why: 'it picks the branch' },
  subscript: { code: INFERENCE, place: 'an array or JSON subscript (it picks the element, or NULL)', why: 'it picks the element' },
  // how many rows
  setReturningFunction: { code: INFERENCE, place: '{}(), a set-returning function (the number of rows depends on the value)', why: 'the row count shows it' },
  setReturningInFrom: { code: INFERENCE, place: '{}() in FROM (the number of rows it returns depends on the value)', why: 'the row count shows it' },
  tableFunctionInFrom: { code: INFERENCE, place: 'a table function in FROM (the rows it returns depend on the value)', why: 'the rows show it' },
  // errors that quote the value, or answer a question about it
  implicitConversion: { code: FALLIBLE, place: '{} (the server converts the text to a number; the conversion warns or fails quoting the value)', why: 'the warning or error quotes the input' },
  cast: { code: FALLIBLE, place: 'a cast to {} (a failing cast would show the value in its error)', why: 'the error message quotes the input' },
  parsingFunction: { code: FALLIBLE, place: '{}() (a failure would show the value in its error)', why: 'the error message quotes the input' },
  division: { code: INFERENCE, place: 'a division by a value computed from it (a division by zero would reveal it)', why: 'the error answers "is it 0?"' },
  // computing on the value with something that can fail (not on the allow-list of total-functions.ts)
  expressionNode: { code: FALLIBLE, place: '{}', why: 'whether an error comes back depends on the value' },
  operator: { code: FALLIBLE, place: '{}', why: 'a non-total or user-defined operator can fail on the value' },
  call: { code: FALLIBLE, place: '{}()', why: 'a function not known to be total can fail on the value' },
  userFunction: { code: FALLIBLE, place: '{}(), a user-defined function', why: 'it runs user code and can fail on the value' },
  withinGroup: { code: FALLIBLE, place: '{}() WITHIN GROUP', why: 'it computes on the ordered values' },
  subqueryComparison: { code: FALLIBLE, place: '{}', why: 'the comparison runs an operator that can fail' },
  sizeWeight: { code: FALLIBLE, place: '{} (it repeats or grows the value {} times over; at most {})', why: "its size or time would reach the server's limits depending on the value's length" },
} as const satisfies Record<string, RefusedFlow>;

export type FlowName = keyof typeof REFUSED_FLOWS;

/** How a refusal names the place: the flow's template with `{}` filled in order. */
export function placeOf(flow: FlowName, details: readonly (string | number)[]): string {
  const parts = REFUSED_FLOWS[flow].place.split('{}');
  let out = parts[0]!;
  for (let i = 1; i < parts.length; i++) out += String(details[i - 1] ?? '') + parts[i]!;
  return out;
}

export function inferenceMessage(columns: readonly string[], place: string): string {
  const list = columns.join(', ');
  return `${list} ${columns.length > 1 ? 'are' : 'is'} masked for this identity and cannot be used in ${place}: the result would reveal the value by inference. Select the column instead (it is returned masked), or ask for a profile exempt from masking.`;
}

/** `untraced`: the value's lineage is the fail-closed one (it counts as masked: say so). */
export function fallibleMessage(columns: readonly string[], place: string, untraced: boolean): string {
  const subject = untraced ? 'a value whose origin cannot be traced (it is treated as masked)' : `a value derived from ${columns.join(', ')} (masked for this identity)`;
  return `The statement applies ${place} to ${subject}; it can fail depending on the value, and whether an error comes back would reveal it. Select the column, or pass it only through functions that cannot fail (upper, length, substr, md5, to_json, comparisons…), and compute the rest on the client.`;
}

export function writeMessage(columns: readonly string[], target: string): string {
  return `The statement writes a value derived from ${columns.join(', ')} (masked for this identity) into ${target}, which would make it readable unmasked. Write it only into a column masked the same way, or ask for a profile exempt from masking.`;
}

export const EXPLAIN_ANALYZE_MESSAGE = 'EXPLAIN ANALYZE reports the memory, time and rows of the run, which depend on the masked values it touches. Run the statement itself, or EXPLAIN without ANALYZE.';
export const TOO_DEEP_MESSAGE = 'The statement is nested too deeply to trace where its values come from, and masked columns are within its reach. Simplify the statement.';

// ---- text types ------------------------------------------------------------------------------

/**
 * The text types, and what each is safe for:
 * - `cast`: a cast of a masked value into it cannot fail (the server's own types in pg_catalog,
 *   which an unqualified name resolves to first). Not citext: an extension type, and any schema
 *   could hold a domain of that name whose CHECK fails on the value.
 * - `holdsReplacement`: a masker's replacement text still fits a column of that type, so its type
 *   is reported as it is (others are reported as `text` once replaced; `"char"` holds one byte).
 */
const TEXT_TYPE_TABLE: Readonly<Record<string, { cast: boolean; holdsReplacement: boolean }>> = {
  text: { cast: true, holdsReplacement: true },
  varchar: { cast: true, holdsReplacement: true },
  bpchar: { cast: true, holdsReplacement: true },
  name: { cast: true, holdsReplacement: true },
  char: { cast: true, holdsReplacement: false },
  citext: { cast: false, holdsReplacement: true },
  unknown: { cast: false, holdsReplacement: true },
};

const textTypes = (p: 'cast' | 'holdsReplacement') => new Set(Object.keys(TEXT_TYPE_TABLE).filter((t) => TEXT_TYPE_TABLE[t]![p]));
/** Types a masked value may be cast to without the cast being able to fail on its content. */
export const CAST_SAFE_TEXT_TYPES: ReadonlySet<string> = textTypes('cast');
/** Types whose column still holds a masker's replacement text. */
export const REPLACEMENT_TEXT_TYPES: ReadonlySet<string> = textTypes('holdsReplacement');

/**
 * A cast of a masked value (`names`: the type name as written): refused when it can fail;
 * otherwise whether the value stays the column's own (`unchanged`: text and varchar without a
 * length) or is changed (a length, bpchar padding, name truncation).
 */
export function castOfMasked(names: readonly string[], isArray: boolean, hasTypmod: boolean): 'refused' | 'unchanged' | 'changed' {
  const target = names.at(-1) ?? '';
  const ownType = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
  if (!CAST_SAFE_TEXT_TYPES.has(target) || !ownType || isArray) return 'refused';
  return (target === 'text' || target === 'varchar') && !hasTypmod ? 'unchanged' : 'changed';
}

// ---- functions the walker cannot see through -------------------------------------------------

/** Function-style casts and parsers that fail on malformed input: an error would reveal the value. */
export const PARSING_FUNCTIONS: ReadonlySet<string> = new Set([
  'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'bool', 'date', 'time', 'timetz', 'timestamp', 'timestamptz',
  'interval', 'json', 'jsonb', 'uuid', 'inet', 'cidr', 'macaddr', 'macaddr8', 'money', 'xml', 'bytea', 'regclass',
  'regproc', 'regtype', 'regnamespace', 'regrole', 'to_number', 'to_date', 'to_timestamp', 'json_in', 'jsonb_in',
  'xmlparse', 'decode', 'convert_from', 'chr', 'jsonb_path_query', 'jsonb_path_exists', 'jsonb_path_match',
]);

/** Functions that read SQL or table names given as text: nothing they return can be traced (fail closed). */
export const UNTRACEABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
  'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'schema_to_xml', 'schema_to_xml_and_xmlschema',
  'database_to_xml', 'database_to_xml_and_xmlschema', 'ts_stat', 'dblink', 'crosstab', 'pg_read_file',
  'pg_stat_get_activity', 'current_query',
]);

/** Catalog relations whose content includes values of other tables (statistics, query texts): fail closed. */
const VALUE_EXPOSING_RELATIONS: ReadonlySet<string> = new Set([
  'pg_catalog.pg_stats', 'pg_catalog.pg_stats_ext', 'pg_catalog.pg_stats_ext_exprs', 'pg_catalog.pg_statistic',
  'pg_catalog.pg_statistic_ext_data', 'pg_catalog.pg_stat_activity', 'pg_catalog.pg_prepared_statements',
  'pg_catalog.pg_cursors',
]);
const VALUE_EXPOSING_NAMES: ReadonlySet<string> = new Set(['pg_stat_statements']);

export function exposesOtherValues(rel: { schema: string; name: string }): boolean {
  return VALUE_EXPOSING_RELATIONS.has(`${rel.schema}.${rel.name}`) || VALUE_EXPOSING_NAMES.has(rel.name);
}

// ---- size weight -----------------------------------------------------------------------------

/** Most copies of masked bytes one value may hold (see Lineage.weight). */
export const MAX_WEIGHT = 64;

/** Total functions whose output can be about twice their input or more (escaping, encoding, rewriting). */
const GROWING_FUNCTIONS: ReadonlySet<string> = new Set([
  'quote_literal', 'quote_nullable', 'quote_ident', 'format', 'to_json', 'to_jsonb', 'array_to_json', 'row_to_json',
  'json_build_array', 'jsonb_build_array', 'json_build_object', 'jsonb_build_object', 'encode', 'regexp_replace',
  'replace', 'lpad', 'rpad', 'to_char', 'concat_ws', 'array_to_string', 'string_agg', 'json_agg', 'jsonb_agg',
]);

/** By how much a call's output may outgrow its inputs (1: not more than their sum). */
export function growthOf(fname: string): number {
  return GROWING_FUNCTIONS.has(fname) ? 2 : 1;
}

// ---- computing on a masked value -------------------------------------------------------------

/** Operators whose right operand is a divisor. */
const DIVIDING_OPERATORS: ReadonlySet<string> = new Set(['/', '%']);

export function isDivision(e: A_Expr, op: string | undefined): boolean {
  return e.kind === 'AEXPR_OP' && op !== undefined && DIVIDING_OPERATORS.has(op);
}

/** What the walker knows about an operator expression's operands. */
export interface OperatorFacts {
  /** every operator the name may resolve to is the server's own */
  builtin: boolean;
  /** the database has implicit casts of its own (an operand may be converted, and that can fail) */
  userImplicitCasts: boolean;
  leftMasked: boolean;
  rightMasked: boolean;
  /** a masked array column is among the operands */
  maskedArray: boolean;
}

/** Whether an operator expression on masked operands may fail (then: refused as fallible). */
export function operatorMayFail(e: A_Expr, op: string | undefined, f: OperatorFacts): boolean {
  if (!f.builtin || f.userImplicitCasts) return true;
  if (op === '||') {
    // Arrays of unequal length fail; `masked || repeat('x', 1000000000)`: the 1 GB limit would measure the masked part.
    if (f.maskedArray) return true;
    if ((f.leftMasked && !boundedClear(e.rexpr)) || (f.rightMasked && !boundedClear(e.lexpr))) return true;
  }
  return !isTotalOperator(e.kind, e.name, { present: e.lexpr !== undefined, masked: f.leftMasked }, f.rightMasked, e.rexpr);
}

/** `x op ANY (SELECT …)` and row comparisons with a sub-query: only the server's own operators, no user casts. */
export function subqueryComparisonMayFail(builtin: boolean, userImplicitCasts: boolean): boolean {
  return !builtin || userImplicitCasts;
}

/** Whether a call of a built-in function (not a parser) may fail on its masked arguments. */
export function callMayFail(fname: string, args: readonly CallArg[], opts: { variadic: boolean; maskedArrayInput: boolean }): boolean {
  if (fname === 'array_agg' && opts.maskedArrayInput) return true;
  return !isTotalCall(fname, args, { variadic: opts.variadic });
}

/** Ordered-set aggregates whose WITHIN GROUP (ORDER BY x) may be masked: they pick a value, no arithmetic. */
export function withinGroupMayFail(fname: string): boolean {
  return !TOTAL_WITHIN_GROUP.has(fname);
}

/** Whether an expression node (arrays, rows, NULL tests, COALESCE, XML…) may fail on masked inputs. */
export function nodeMayFail(type: string, body: Record<string, unknown>, maskedArray: boolean): boolean {
  return !isTotalNode(type, body) || (type === 'A_ArrayExpr' && maskedArray);
}

// ---- NULL-ness and aggregates -----------------------------------------------------------------

/**
 * `count(col)` of the column's own, unchanged value tells only how many are not NULL, which the
 * column itself shows (a plain masked column keeps its NULLs): clear. Of anything derived (NULL iff
 * a guess fails) the count is masked like any other derived value. `count(*)` is always clear.
 */
export function countIsClear(call: { fname: string; star: boolean; distinct: boolean; withinGroup: boolean }, args: readonly { identity: boolean; sources: ReadonlySet<unknown> }[]): boolean {
  if (call.star) return true;
  const arg0 = args[0];
  return call.fname === 'count' && !call.withinGroup && !call.distinct && args.length === 1 && arg0 !== undefined && (arg0.identity || arg0.sources.size === 0);
}

/**
 * NULL cells of a masked output column. On a plain masked column (the stored value, unchanged) NULL
 * stays NULL: it reveals only that nothing is stored, which count(column) and IS NULL in the select
 * list reveal anyway. On a value derived from masked data NULL can mean "a guess failed"
 * (`regexp_match(card, '^4')`), so it gets the same output as any other value; derived values only
 * ever get constant maskers (redact, null).
 */
export function nullCellFor(masker: MaskerName, identity: boolean): Cell {
  if (identity || masker === 'null') return null;
  return REDACTED;
}

// ---- which masker, and writes ------------------------------------------------------------------

/** One masker for a value drawn from several masked columns: the configured one only when it is unambiguous. */
export function chooseMasker(maskers: readonly MaskerName[], identity: boolean): MaskerName {
  if (maskers.includes('null')) return 'null';
  // hash keeps equal values equal: on the column's own value that is its purpose (joins, grouping);
  // on a derived value it would partition rows by a computed function (GROUP BY by another name).
  if (maskers.every((m) => m === 'hash')) return identity ? 'hash' : 'redact';
  const first = maskers[0];
  // last4 / email keep part of the text: safe only on the column's own, unchanged value.
  if (identity && first !== undefined && maskers.every((m) => m === first)) return first;
  return 'redact';
}

/**
 * A masked value written into a column: safe when the target hides any value completely, or is a
 * column masked the same way and the value is a column's own, unchanged.
 */
export function writeIsSafe(value: { identity: boolean; maskers: readonly MaskerName[] }, targetMaskers: readonly MaskerName[]): boolean {
  const hidesAll = targetMaskers.some((m) => m === 'redact' || m === 'null' || m === 'hash');
  const same = value.identity && targetMaskers.length > 0 && value.maskers.every((m) => targetMaskers.includes(m));
  return hidesAll || same;
}

