/**
 * Database errors pass through the same rules as results: PostgreSQL quotes the offending value in
 * many messages (`invalid input syntax for type integer: "4111111111111111"`), DETAIL often repeats
 * row values (`Key (email)=(…) already exists`), and some messages print numbers computed from a
 * value (`index 49 out of valid range, 0..7` from get_bit(…, ascii(ssn))). No pattern can strip
 * every such number, so when a masked column is within reach of the statement (or we cannot tell)
 * the server's text is not returned: the SQLSTATE is named in words instead, DETAIL and HINT are
 * dropped, and the answer says why. Two kinds of message are still returned then, because they
 * provably carry only what the agent wrote: "<relation|column|…> "X" does not exist" where every
 * quoted name occurs in the agent's own SQL, with the server's "Perhaps you meant …" catalog hint.
 * With no masked column in reach the message stays readable (it helps the agent fix its SQL), and
 * the content detectors run over it.
 */
import type { DatabaseErrorInfo } from '../db/types.js';
import type { DetectorName } from '../policy/schema.js';
import { ContentScanner } from './detectors.js';
import { maskedSources } from './lineage/algebra.js';
import type { MaskPlan } from './types.js';

const ALL_DETECTORS: readonly DetectorName[] = ['secrets', 'pan', 'ssn', 'email'];

/** SQLSTATE conditions agents meet, in words (PostgreSQL's condition names, explained). */
const CONDITION_WORDS: Readonly<Record<string, string>> = {
  '42P01': 'undefined table: a table or view it names does not exist',
  '42703': 'undefined column: a column it names does not exist',
  '42883': 'undefined function: a function or operator it calls does not exist for these argument types',
  '42704': 'undefined object: a type or other object it names does not exist',
  '3F000': 'invalid schema name: a schema it names does not exist',
  '42601': 'syntax error',
  '42501': "insufficient privilege: the profile's database role may not do this",
  '42702': 'ambiguous column: qualify the column with its table',
  '42803': 'grouping error: every selected column must be in GROUP BY or inside an aggregate',
  '42804': 'datatype mismatch: an expression has the wrong type for its place',
  '42P18': "indeterminate datatype: a parameter's type cannot be inferred; add a cast such as $1::int",
  '42P02': 'undefined parameter: a $n placeholder has no value',
  '22P02': 'invalid input: a value (a parameter or a literal) is not valid for its type, e.g. "abc" for an integer',
  '22003': 'numeric value out of range',
  '22012': 'division by zero',
  '22001': 'string too long for its column',
  '22007': 'invalid date/time format',
  '22008': 'date/time value out of range',
  '22021': 'invalid byte sequence for the encoding',
  '23505': 'unique violation: a row with this key already exists',
  '23503': 'foreign key violation: a referenced row does not exist, or rows still refer to this one',
  '23502': 'not-null violation: a required column got NULL',
  '23514': 'check violation: a value fails a CHECK constraint',
  '40001': 'serialization failure; retrying may succeed',
  '40P01': 'deadlock detected; retrying may succeed',
  '57014': 'query cancelled, e.g. by the statement timeout',
  // MySQL / MariaDB conditions (their SQLSTATEs where PostgreSQL has none)
  '42S01': 'table exists: a table or view of that name already exists',
  '42S02': 'undefined table: a table or view it names does not exist',
  '42S22': 'undefined column: a column it names does not exist',
  '3D000': 'no database selected: qualify the table with its database',
  '70100': 'query interrupted, e.g. by the statement time limit',
};

const CLASS_WORDS: Readonly<Record<string, string>> = {
  '0A': 'feature not supported',
  '21': 'cardinality violation: a sub-query returned more rows (or columns) than its place allows',
  '22': 'data exception: a value does not fit its type or range',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state, e.g. a write in a read-only transaction',
  '28': "invalid authorization: the database refused the broker's credentials",
  '40': 'transaction rolled back by the server; retrying may succeed',
  '42': 'syntax error or access rule violation (a name that does not exist, a type mismatch or a missing privilege)',
  '53': 'insufficient resources (memory, disk, connections)',
  '54': 'program limit exceeded (too complex, too many columns or arguments)',
  '55': 'object not in prerequisite state (in use, locked)',
  '57': 'operator intervention (cancelled or shutting down)',
  '08': 'connection exception',
  '3D': 'invalid catalog name: a database it names does not exist, or none is selected',
  '70': 'query interrupted, e.g. by the statement time limit',
  // MySQL's HY000 is its catch-all (lock wait timeouts, statement time limits, conversion failures…)
  HY: 'a general error the server gives no finer class for (MySQL HY000)',
};

/** What a SQLSTATE means, in words that carry nothing from the data. */
export function sqlstateWords(sqlstate: string | undefined): string {
  if (!sqlstate) return 'an error without SQLSTATE';
  return CONDITION_WORDS[sqlstate] ?? CLASS_WORDS[sqlstate.slice(0, 2)] ?? 'an error';
}

/** Messages whose only variable parts are names; each name must occur in the agent's SQL. */
const NAME_MESSAGES: readonly RegExp[] = [
  /^relation "([^"]{1,128})" does not exist$/,
  /^column "([^"]{1,128})" does not exist$/,
  /^column "([^"]{1,128})" of relation "([^"]{1,128})" does not exist$/,
  /^column ([A-Za-z_][A-Za-z0-9_$]{0,62})\.([A-Za-z_][A-Za-z0-9_$]{0,62}) does not exist$/,
  /^schema "([^"]{1,128})" does not exist$/,
  /^type "([^"]{1,128})" does not exist$/,
  /^function ([A-Za-z_][A-Za-z0-9_$.]{0,127})\([a-z0-9 ,_"[\]]{0,200}\) does not exist$/,
  // MySQL / MariaDB
  /^Table '([^'.]{1,64})\.([^'.]{1,64})' doesn't exist$/,
  /^Unknown column '([^'.]{1,64})(?:\.([^'.]{1,64}))?' in '(?:field list|where clause|order clause|group statement|having clause|on clause)'$/,
];

/** Hints that name catalog objects or are fixed text. */
const NAME_HINTS: readonly RegExp[] = [
  /^Perhaps you meant to reference the column "[^"]{1,200}"( or the column "[^"]{1,200}")?\.$/,
  /^No function matches the given name and argument types\. You might need to add explicit type casts\.$/,
];

function occursInSql(name: string, sql: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_$])${escaped}($|[^A-Za-z0-9_$])`, 'i').test(sql);
}

/** A "does not exist" message that quotes only names the agent itself wrote, else undefined. */
function echoOfAgentNames(err: DatabaseErrorInfo, sql: string | undefined): DatabaseErrorInfo | undefined {
  if (sql === undefined || !err.sqlstate || !/^(42P01|42703|42883|42704|3F000|42S02|42S22)$/.test(err.sqlstate)) return undefined;
  for (const pattern of NAME_MESSAGES) {
    const m = pattern.exec(err.message);
    if (!m) continue;
    const names = m.slice(1).filter((n): n is string => n !== undefined);
    if (!names.every((n) => n.split('.').every((part) => occursInSql(part, sql)))) return undefined;
    const out: DatabaseErrorInfo = { sqlstate: err.sqlstate, message: err.message };
    if (err.hint !== undefined && NAME_HINTS.some((h) => h.test(err.hint!))) out.hint = err.hint;
    return out;
  }
  return undefined;
}

function withheldSentence(plan: MaskPlan | undefined): string {
  if (plan === undefined) return "The server's message is withheld because the broker could not tell whether a masked column is within reach of the statement.";
  const masked = maskedSources(plan.reach, plan.rules).sort();
  const shown = masked.slice(0, 5).join(', ') + (masked.length > 5 ? ', …' : '');
  return `The server's message is withheld because masked columns are within reach of the statement (${shown}), or it names something the broker could not resolve (then every masked column counts as in reach); it could quote their values.`;
}

/** The error as the agent may see it, and whether the server's own text was withheld. */
export function describeDatabaseError(err: DatabaseErrorInfo, plan: MaskPlan | undefined, sql?: string): { info: DatabaseErrorInfo; withheld: boolean } {
  if (plan?.exempt) return { info: err, withheld: false };
  const strict = plan === undefined || plan.maskedInReach;
  if (strict) {
    const echo = echoOfAgentNames(err, sql);
    if (echo) return { info: echo, withheld: false };
    const code = err.sqlstate ?? 'unknown';
    const info: DatabaseErrorInfo = { message: `The statement failed: ${sqlstateWords(err.sqlstate)} (SQLSTATE ${code}). ${withheldSentence(plan)}` };
    if (err.sqlstate !== undefined) info.sqlstate = err.sqlstate;
    return { info, withheld: true };
  }
  const scanner = new ContentScanner(ALL_DETECTORS);
  const info: DatabaseErrorInfo = { message: scanner.scrub(err.message) };
  if (err.sqlstate !== undefined) info.sqlstate = err.sqlstate;
  if (err.detail !== undefined) info.detail = scanner.scrub(err.detail);
  if (err.hint !== undefined) info.hint = scanner.scrub(err.hint);
  return { info, withheld: false };
}

export function sanitizeDatabaseError(err: DatabaseErrorInfo, plan: MaskPlan | undefined, sql?: string): DatabaseErrorInfo {
  return describeDatabaseError(err, plan, sql).info;
}
