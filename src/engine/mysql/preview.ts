/**
 * The read-only queries of a MySQL UPDATE or DELETE's impact preview (approval/review/impact.ts):
 * `SELECT COUNT(*)` of the rows it would touch and `SELECT t.* … LIMIT 10` of the first of them,
 * built on node-sql-parser's tree of the statement (the engine's own analysis) and printed by the
 * parser's own sqlify, never by slicing the agent's text.
 *
 * - Parameters: the preview keeps the WITH, WHERE and ORDER BY of the tree, with their `?`
 *   placeholders; it is given exactly their values, in order (those of the SET list are left out;
 *   a `LIMIT ?` becomes its value, a plain row count, or there is no preview).
 * - A DELETE … ORDER BY x LIMIT 5 touches at most 5 rows: the count is taken over a derived table
 *   with the statement's ORDER BY and LIMIT; the rows keep them (LIMIT capped at 10).
 * - Only single-table statements are built (`DELETE FROM t …`, `UPDATE t SET …`). A multi-table
 *   statement, a tree with a clause not read here, or a SELECT whose printed text does not parse
 *   back to the same WITH/WHERE/ORDER BY: an error sentence, never a guess.
 * - A WITH that names a query like the (unqualified) target table: not built (FROM would read it).
 * - A reserved word the server calls without parentheses (CURRENT_ROLE, LOCALTIME) where the
 *   parser saw a column: not built (sqlify would print it back as a quoted column).
 * - A WITH, WHERE or ORDER BY that reads session state (a system or user variable, the session's
 *   user or role, a table of information_schema, performance_schema, mysql or sys): not built,
 *   since the preview's read-only session is not the write's.
 */
import mysqlParser from 'node-sql-parser/build/mysql.js';
import { isBrokerError } from '../../errors.js';
import { analyzeMysql } from './analyze.js';
import { visitObjects } from '../../sql/walk.js';
import type { MysqlAnalysis } from './types.js';

export interface MysqlPreviewQueries {
  /** `SELECT COUNT(*) …`: one row, one column */
  count: string;
  /** `SELECT t.* …`: at most `rows` rows */
  rows: string;
  /** the values of their `?` placeholders (the same for both), in order */
  params: unknown[];
  /** their analyses (the read the broker judges and masks like an agent's) */
  countAnalysis: MysqlAnalysis;
  rowsAnalysis: MysqlAnalysis;
}

type Node = Record<string, unknown>;

const parser = new mysqlParser.Parser();
const DIALECT = { database: 'MySQL' };

/** Fields of a single-table UPDATE/DELETE node the preview reads; any other with a value: not built. */
const KNOWN: Record<string, ReadonlySet<string>> = {
  update: new Set(['type', 'with', 'table', 'set', 'where', 'orderby', 'limit', 'loc']),
  delete: new Set(['type', 'with', 'table', 'from', 'where', 'orderby', 'limit', 'returning', 'loc']),
};

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A plain table reference: a name, perhaps a database and an alias, nothing joined. */
function plainTable(t: unknown): t is Node & { table: string } {
  if (!isNode(t) || typeof t['table'] !== 'string') return false;
  for (const [k, v] of Object.entries(t)) {
    if (v === null || v === undefined) continue;
    if (k === 'table' || k === 'db' || k === 'as' || k === 'addition') continue;
    return false;
  }
  return (t['db'] === null || t['db'] === undefined || typeof t['db'] === 'string') && (t['as'] === null || t['as'] === undefined || typeof t['as'] === 'string');
}

/**
 * The tree without the parser's position and summary fields, for comparison. A subquery is
 * compared by its `ast` (in some positions the parser also copies the query's fields beside it):
 * what was printed is what parses back into `ast`. A backquoted qualifier is its name.
 */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!isNode(v)) return v;
  if (isNode(v['ast'])) return { ast: canonical(v['ast']) };
  // `p`.`x` and p.x name the same column: the parser keeps the quotes of a qualifier only.
  if (v['type'] === 'backticks_quote_string' && typeof v['value'] === 'string') return v['value'];
  const out: Node = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'loc' || k === 'tableList' || k === 'columnList') continue;
    out[k] = canonical(x);
  }
  return out;
}

/** ORDER BY items with the default direction spelled, as sqlify prints them. */
function orderBy(o: unknown): unknown {
  if (!Array.isArray(o)) return null;
  return o.map((item) => (isNode(item) && (item['type'] === null || item['type'] === undefined) ? { ...item, type: 'ASC' } : item));
}

/** The number of `?` placeholders in a subtree. */
function placeholders(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + placeholders(x), 0);
  if (!isNode(v)) return 0;
  if (v['type'] === 'origin' && v['value'] === '?') return 1;
  // A subquery is counted once, by its `ast` (see canonical).
  if (isNode(v['ast'])) return placeholders(v['ast']);
  let n = 0;
  for (const [k, x] of Object.entries(v)) if (k !== 'tableList' && k !== 'columnList' && k !== 'loc') n += placeholders(x);
  return n;
}

const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/**
 * Built-ins whose value is the session's, not the data's: the session user and role (an approved
 * statement may run as a just-in-time user) and what the session did before.
 */
const SESSION_FUNCTIONS: ReadonlySet<string> = new Set(['user', 'current_user', 'session_user', 'system_user', 'current_role', 'connection_id', 'last_insert_id', 'row_count', 'found_rows']);

/**
 * Reserved words the server reads as a call of a built-in without parentheses, which the parser
 * reads as a column (and sqlify prints back as one, quoted): `WHERE x = current_role`.
 */
const KEYWORD_FUNCTIONS: ReadonlySet<string> = new Set(['current_role', 'current_user', 'current_date', 'current_time', 'current_timestamp', 'localtime', 'localtimestamp', 'utc_date', 'utc_time', 'utc_timestamp']);

/** The server's own databases: their tables describe the server and the session reading them. */
const SERVER_SCHEMAS: ReadonlySet<string> = new Set(['information_schema', 'performance_schema', 'mysql', 'sys']);

/** The first unqualified column reference named like one of KEYWORD_FUNCTIONS in a subtree, upper-cased. */
function keywordColumn(root: unknown): string | undefined {
  let found: string | undefined;
  visitObjects(root, (v) => {
    if (v['type'] !== 'column_ref' || (v['table'] !== null && v['table'] !== undefined)) return false;
    const c = v['column'];
    const name = typeof c === 'string' ? c : isNode(c) && isNode(c['expr']) && typeof c['expr']['value'] === 'string' ? c['expr']['value'] : undefined;
    if (name !== undefined && KEYWORD_FUNCTIONS.has(name.toLowerCase())) found = name.toUpperCase();
    return found !== undefined;
  });
  return found;
}

/**
 * The first read of session state in a subtree (`@@tx_read_only`, `@v`, `USER()`), as written, or
 * undefined. The preview runs in a read-only transaction on a read pool (tx_read_only = 1, a
 * sql_select_limit, the pool's user) and the write runs elsewhere: such a value differs between
 * the two, so the rows counted would not be the rows written.
 */
function sessionState(root: unknown): string | undefined {
  let found: string | undefined;
  visitObjects(root, (v) => {
    if (v['type'] === 'var') {
      const prefix = typeof v['prefix'] === 'string' ? v['prefix'] : '@';
      const members = Array.isArray(v['members']) ? v['members'].filter((m): m is string => typeof m === 'string') : [];
      found = `${prefix}${[String(v['name']), ...members].join('.')}`;
    } else if (v['type'] === 'function' && isNode(v['name']) && !isNode(v['name']['schema']) && Array.isArray(v['name']['name']) && v['name']['name'].length === 1) {
      const part = v['name']['name'][0];
      const fn = isNode(part) && typeof part['value'] === 'string' ? part['value'] : undefined;
      if (fn !== undefined && SESSION_FUNCTIONS.has(fn.toLowerCase())) found = `${fn.toUpperCase()}()`;
    }
    return found !== undefined;
  });
  return found;
}

function selectNode(fields: Node): Node {
  return { with: null, type: 'select', options: null, distinct: null, columns: [], into: { position: null }, from: null, where: null, groupby: null, having: null, orderby: null, limit: null, locking_read: null, window: null, collate: null, ...fields };
}

/**
 * The two preview SELECTs of a single-table MySQL UPDATE or DELETE with its parameters, or the
 * sentence why they cannot be built with certainty.
 */
export function mysqlPreviewQueries(sql: string, params: readonly unknown[], previewRows: number): MysqlPreviewQueries | { error: string } {
  let analysis: MysqlAnalysis;
  try {
    analysis = analyzeMysql(sql, { maxLength: Number.MAX_SAFE_INTEGER });
  } catch (e) {
    if (isBrokerError(e)) return { error: 'The statement could not be parsed for a preview.' };
    throw e;
  }
  const root = analysis.root;
  if (!isNode(root) || (root['type'] !== 'update' && root['type'] !== 'delete')) return { error: 'Only UPDATE and DELETE get a row preview.' };
  const type = root['type'];
  // A copy: the analysis is shared and frozen.
  const s = JSON.parse(JSON.stringify(root)) as Node;
  for (const [k, v] of Object.entries(s)) {
    if (v !== null && v !== undefined && !KNOWN[type]!.has(k)) return { error: `The statement has a clause the preview does not read (${k}); its rows are not previewed.` };
  }
  const multi = { error: 'The statement changes rows through several tables (a multi-table UPDATE or DELETE); its rows are not previewed for MySQL connections.' };
  const tables = s['table'];
  if (!Array.isArray(tables) || tables.length !== 1 || !plainTable(tables[0])) return multi;
  const target = tables[0];
  if (type === 'delete') {
    // `DELETE FROM t …` only: the target is marked `addition`, and FROM names that one table.
    const from = s['from'];
    if (target['addition'] !== true || !Array.isArray(from) || from.length !== 1 || !plainTable(from[0])) return multi;
    if (from[0]['table'] !== target['table'] || (from[0]['db'] ?? null) !== (target['db'] ?? null) || (from[0]['as'] ?? null) !== (target['as'] ?? null)) return multi;
  }
  const ref: Node = { db: target['db'] ?? null, table: target['table'], as: target['as'] ?? null };
  const name = (target['as'] as string | null | undefined) ?? target['table'];
  const where = s['where'] ?? null;
  const orderby = orderBy(s['orderby']);
  const withClause = s['with'] ?? null;
  // A CTE named like an unqualified target: the preview's FROM would read the CTE, not the table written.
  const cteNames = Array.isArray(withClause) ? withClause.map((c) => (isNode(c) && isNode(c['name']) ? c['name']['value'] : undefined)) : [];
  if ((target['db'] ?? null) === null && cteNames.some((c) => typeof c === 'string' && c.replace(/``/g, '`').toLowerCase() === target['table'].replace(/``/g, '`').toLowerCase())) {
    return { error: `The statement's WITH defines a query named like the table it changes (${target['table']}); the preview would read that query instead of the table, so its rows are not previewed.` };
  }
  const keyword = keywordColumn([withClause, where, orderby]);
  if (keyword !== undefined) {
    return { error: `The statement names ${keyword}, which the server reads as a built-in function and the preview's parser as a column; its rows are not previewed.` };
  }
  const session = sessionState([withClause, where, orderby]);
  if (session !== undefined) {
    return { error: `The statement reads the session's own state (${session}), which differs between the read-only session of a preview and the session the approved statement runs in; its rows are not previewed.` };
  }
  // The statement's `?` in text order: WITH, then SET (UPDATE), then WHERE, ORDER BY, LIMIT.
  const counts = { with: placeholders(withClause), set: placeholders(s['set']), where: placeholders(where), orderby: placeholders(orderby), limit: placeholders(s['limit']) };
  const total = counts.with + counts.set + counts.where + counts.orderby + counts.limit;
  if (total !== analysis.placeholders || total !== params.length) return { error: 'The statement\'s parameters could not be matched to its placeholders; the preview cannot bind them.' };
  const whereParams = params.slice(counts.with + counts.set, counts.with + counts.set + counts.where + counts.orderby);
  const selectParams = [...params.slice(0, counts.with), ...whereParams];
  const limit = s['limit'];
  let limitCount: number | undefined;
  if (isNode(limit) && Array.isArray(limit['value']) && limit['value'].length > 0) {
    const values = limit['value'] as unknown[];
    const only = values[0];
    // `LIMIT ?`: the last parameter, which must be a row count.
    const value = isNode(only) && only['type'] === 'origin' && only['value'] === '?' && counts.limit === 1 ? params[params.length - 1] : isNode(only) && only['type'] === 'number' ? only['value'] : undefined;
    if (values.length !== 1 || typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      return { error: 'The statement\'s LIMIT is not a plain row count; its rows are not previewed.' };
    }
    limitCount = value;
  }
  const limitNode = (n: number) => ({ seperator: '', value: [{ type: 'number', value: n }] });
  const common = { with: withClause, from: [ref], where };
  const rowsAst = selectNode({ ...common, columns: [{ expr: { type: 'column_ref', table: name, column: '*' }, as: null }], orderby, limit: limitNode(Math.min(limitCount ?? previewRows, previewRows)) });
  const countStar = [{ expr: { type: 'aggr_func', name: 'COUNT', args: { expr: { type: 'star', value: '*' } }, over: null }, as: null }];
  // With a LIMIT, the rows it would touch are those of the ordered, limited set: count that set.
  const countAst =
    limitCount === undefined
      ? selectNode({ ...common, columns: countStar })
      : selectNode({
          with: withClause,
          columns: countStar,
          from: [{ expr: { ast: selectNode({ from: [ref], where, orderby, limit: limitNode(limitCount), columns: [{ expr: { type: 'number', value: 1 }, as: null }] }), parentheses: true }, as: 'qb_preview' }],
        });
  let count: string;
  let rows: string;
  let countAnalysis: MysqlAnalysis;
  let rowsAnalysis: MysqlAnalysis;
  try {
    count = parser.sqlify(countAst as never, DIALECT);
    rows = parser.sqlify(rowsAst as never, DIALECT);
    countAnalysis = analyzeMysql(count, { maxLength: Number.MAX_SAFE_INTEGER });
    rowsAnalysis = analyzeMysql(rows, { maxLength: Number.MAX_SAFE_INTEGER });
  } catch (e) {
    if (isBrokerError(e) || e instanceof Error) return { error: 'The statement could not be turned into a preview query.' };
    throw e;
  }
  // The printed SELECT must read back as the statement's own clauses: the same WITH, WHERE and
  // ORDER BY on the same table (a construct sqlify prints differently would change the rows).
  const back = rowsAnalysis.root;
  const inner = isNode(countAnalysis.root) && limitCount !== undefined ? ((countAnalysis.root['from'] as Node[] | undefined)?.[0]?.['expr'] as Node | undefined)?.['ast'] : countAnalysis.root;
  const matches = (n: unknown) => isNode(n) && n['type'] === 'select' && same(n['where'] ?? null, where) && same(n['orderby'] ?? null, orderby) && same(n['from'], [ref]);
  if (!matches(back) || !matches(inner) || !same((back as Node)['with'] ?? null, withClause) || !same((countAnalysis.root as Node)['with'] ?? null, withClause)) {
    return { error: 'The statement could not be turned into a preview query that reads exactly its rows.' };
  }
  // The server's own tables (SESSION_VARIABLES, PROCESSLIST, INNODB_TRX …) describe the session and
  // statement reading them: the preview's read-only SELECT, not the write.
  const server = [...rowsAnalysis.tablesRead, ...countAnalysis.tablesRead].find((t) => t.schema !== undefined && SERVER_SCHEMAS.has(t.schema.toLowerCase()));
  if (server !== undefined) {
    return { error: `The statement reads the server's own tables (${server.schema}.${server.name}), which describe the session reading them: the preview's, not the approved statement's; its rows are not previewed.` };
  }
  if (countAnalysis.placeholders !== selectParams.length || rowsAnalysis.placeholders !== selectParams.length) {
    return { error: 'The statement\'s parameters could not be matched to its placeholders; the preview cannot bind them.' };
  }
  return { count, rows, params: selectParams, countAnalysis, rowsAnalysis };
}

/** The tables a TRUNCATE or DROP TABLE names (unqualified: the connection's database), or undefined for any other statement. */
export function mysqlObjectTargets(analysis: MysqlAnalysis): { statement: string; tables: MysqlAnalysis['tablesWritten'] } | undefined {
  const root = analysis.root;
  if (!isNode(root) || !Array.isArray(root['name'])) return undefined;
  const statement = root['type'] === 'truncate' ? 'TRUNCATE' : root['type'] === 'drop' && root['keyword'] === 'table' ? 'DROP TABLE' : undefined;
  // Every name the statement lists, as the analysis decoded them (the policy judged these).
  if (statement === undefined || analysis.tablesWritten.length === 0 || analysis.tablesWritten.length !== root['name'].length) return undefined;
  return { statement, tables: analysis.tablesWritten };
}

/**
 * One table's row estimate and size as information_schema.TABLES gives them to the profile's user
 * (TABLE_ROWS: an estimate for InnoDB; DATA_LENGTH + INDEX_LENGTH: the bytes of rows and indexes).
 * Parameters: the database (NULL: the connection's default database) and the table name.
 */
export const MYSQL_TABLE_SIZE_SQL =
  'SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS total_bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?';
