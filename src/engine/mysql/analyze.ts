/**
 * The analyze stage for MySQL: one SQL text in, one MysqlAnalysis out (or a 400-class BrokerError),
 * with the same meanings the PostgreSQL analysis gives the policy (kind, risks, hasWhere,
 * needsRowEstimate), so the same decide() judges both.
 *
 * node-sql-parser is approximate, so:
 * - the lexer (lexer.ts) decides by the server's rules where the statement, its strings and its
 *   comments are, and refuses what the parser could read differently;
 * - the leading keywords decide the family (statements.ts); the parser's verdict must agree;
 * - every node of a query's tree must be of a type known here, or the statement is refused
 *   (`unrecognised_construct`), and anything not recognised is never a read;
 * - the functions the lexer sees called are checked too, in case the parser dropped a call.
 */
import mysqlParser from 'node-sql-parser/build/mysql.js';
import mariadbParser from 'node-sql-parser/build/mariadb.js';
import { BrokerError } from '../../errors.js';
import type { QualifiedName, StatementKind } from '../../sql/types.js';
import { RISK_MESSAGES, risk, type Risk } from '../../sql/risks.js';
import { sqlHash } from '../../sql/analyze.js';
import { AnalysisCache, type AnalyzeOptions } from '../../sql/analysis-cache.js';
import { explainThatRuns, planOnlyExplain } from '../../sql/explain.js';
import { paramCountMismatch } from '../../sql/placeholders.js';
import { partRisks, readOrWrite, rowFacts } from '../../sql/query-kind.js';
import type { MysqlAnalysis } from './types.js';
import { scanMysql, identifierName, type Token } from './lexer.js';
import { statementFamily, type Family, type QueryStatement } from './statements.js';
import { forbiddenMysqlFunctionRisk, LEXICALLY_WATCHED_FUNCTIONS } from './functions.js';

const cache = new AnalysisCache<MysqlAnalysis>();

const parsers = [
  { parser: new mysqlParser.Parser(), database: 'MySQL' },
  { parser: new mariadbParser.Parser(), database: 'MariaDB' },
];

type Classification = Pick<MysqlAnalysis, 'command' | 'kind' | 'tablesRead' | 'tablesWritten' | 'functions' | 'risks' | 'hasWhere' | 'needsRowEstimate'> & { root: unknown };

/**
 * Parse and classify exactly one MySQL statement. The result may be shared with other callers of
 * the same text (it is frozen): never mutate it.
 *
 * Throws BrokerError `sql_too_long`, `sql_parse_error`, `multiple_statements` or `invalid_request` (NUL).
 */
export function analyzeMysql(sql: string, options: AnalyzeOptions = {}): MysqlAnalysis {
  return cache.analyze(sql, options, scanAndClassify);
}

function scanAndClassify(sql: string): MysqlAnalysis {
  const scan = scanMysql(sql);
  const c = classifyTokens(scan.tokens, scan.parserText);
  const relations: QualifiedName[] = [];
  const seen = new Set<string>();
  for (const t of [...c.tablesRead, ...c.tablesWritten]) addName(relations, seen, t);
  return {
    engine: 'mysql',
    sqlHash: sqlHash(sql),
    command: c.command,
    kind: c.kind,
    tablesRead: c.tablesRead,
    tablesWritten: c.tablesWritten,
    functions: c.functions,
    operators: [],
    risks: c.risks,
    ...(c.hasWhere === undefined ? {} : { hasWhere: c.hasWhere }),
    ...(c.needsRowEstimate === undefined ? {} : { needsRowEstimate: c.needsRowEstimate }),
    reach: { functions: c.functions, operators: [], relations, types: [] },
    placeholders: scan.placeholders,
    root: c.root,
  };
}

/** Refuse a request whose params do not match the statement's `?` placeholders (400 `invalid_request`). */
export function checkMysqlParams(sql: string, params: readonly unknown[]): void {
  const wanted = scanMysql(sql).placeholders;
  if (wanted === params.length) return;
  const fix = wanted === 0 ? 'Remove "params", or use ? in the SQL where the values go.' : `Send exactly ${wanted} value${wanted === 1 ? '' : 's'} in "params", one for each ?, in order.`;
  throw paramCountMismatch(wanted, params.length, fix);
}

/** For tests and benchmarks: forget every cached analysis. */
export function clearMysqlAnalysisCache(): void {
  cache.clear();
}

function classifyTokens(tokens: readonly Token[], text: string): Classification {
  const family = statementFamily(tokens);
  const lexical = lexicalFindings(tokens);
  let out: Classification;
  try {
    out = classifyFamily(family, tokens, text);
  } catch (e) {
    // A statement the parser cannot read but the lexer already refuses for everyone: say why.
    const refusals = [...lexical.risks, ...lexical.functions.flatMap((fn) => forbiddenMysqlFunctionRisk(fn) ?? [])];
    if (refusals.length === 0) throw e;
    out = { ...empty(tokens[0]!.text.toLowerCase(), 'utility'), root: null };
  }
  // What the lexer saw applies whatever the parser made of the text.
  const risks = [...out.risks];
  const functions = [...out.functions];
  const seenFunctions = new Set(functions.map(nameKey));
  for (const fn of lexical.functions) {
    if (seenFunctions.has(nameKey(fn))) continue;
    seenFunctions.add(nameKey(fn));
    functions.push(fn);
    const r = forbiddenMysqlFunctionRisk(fn);
    if (r !== undefined) risks.push(r);
  }
  for (const r of lexical.risks) risks.push(r);
  let kind = out.kind;
  if (kind === 'read' && lexical.locking) {
    kind = 'write';
    risks.push(risk('locking_clause', RISK_MESSAGES.locking_clause));
  }
  return { ...out, kind, functions, risks: dedupeRisks(risks) };
}

/**
 * Facts read from the tokens, by the server's lexical rules: calls of watched functions, `:=`
 * assignments to user variables, INTO OUTFILE/DUMPFILE/@var, and locking clauses.
 */
function lexicalFindings(tokens: readonly Token[]): { functions: QualifiedName[]; risks: Risk[]; locking: boolean } {
  const functions: QualifiedName[] = [];
  const risks: Risk[] = [];
  let locking = false;
  const statement = tokens[0]?.upper ?? '';
  let intoSeen = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    const prev = tokens[i - 1];
    if (t.type === 'word' && next?.text === '(' && prev?.text !== '.' && LEXICALLY_WATCHED_FUNCTIONS.has(t.text.toLowerCase())) {
      functions.push({ name: t.text.toLowerCase() });
    }
    if (t.type === 'punct' && t.text === ':=') {
      risks.push(risk('session_state_change', 'Assigning a user variable (@x := …) changes the state of the pooled connection for later requests; it is refused for every profile. Compute the value in the statement itself.'));
    }
    if (t.type !== 'word') continue;
    if (t.upper === 'OUTFILE' || t.upper === 'DUMPFILE') {
      risks.push(risk('server_file_access', 'SELECT … INTO OUTFILE/DUMPFILE writes a file on the database server; it is refused for every profile. Read the rows in the response instead.'));
    }
    if (t.upper === 'INTO') {
      intoSeen++;
      const isInsertTarget = intoSeen === 1 && (statement === 'INSERT' || statement === 'REPLACE');
      if (!isInsertTarget && next !== undefined && next.text === '@') {
        risks.push(risk('session_state_change', 'SELECT … INTO @variable stores values in the pooled connection for later requests; it is refused for every profile. Read the values in the response instead.'));
      }
    }
    if (t.upper === 'FOR' && (next?.upper === 'UPDATE' || next?.upper === 'SHARE')) locking = true;
    if (t.upper === 'LOCK' && next?.upper === 'IN' && tokens[i + 2]?.upper === 'SHARE') locking = true;
  }
  return { functions, risks, locking };
}

function classifyFamily(family: Family, tokens: readonly Token[], text: string): Classification {
  switch (family.family) {
    case 'fixed':
      return { ...empty(family.command, family.kind), risks: family.risks, root: null };
    case 'query':
      return classifyQuery(family.statement, text, tokens[0]!.start);
    case 'describe': {
      const table = qualifiedFromTokens(tokens, family.table);
      return { ...empty('desc', table === undefined ? 'utility' : 'read'), tablesRead: table === undefined ? [] : [table], risks: table === undefined ? [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)] : [], root: null };
    }
    case 'explain':
      return classifyExplain(family, tokens, text);
    case 'ddl':
    case 'admin': {
      const kind: StatementKind = family.family;
      const parsed = tryParse(text.slice(tokens[0]!.start), tokens[0]!.start);
      const c = new Collector();
      if (parsed.ok) walkTree(parsed.ast, c, false);
      return { ...c.result(family.command, kind), risks: [...family.risks, ...c.risks], root: parsed.ok ? parsed.ast : null };
    }
  }
}

/** EXPLAIN plans without running: of a query or DML it is a read. EXPLAIN/ANALYZE that executes is judged as the statement. */
function classifyExplain(family: { inner: number; analyze: boolean }, tokens: readonly Token[], text: string): Classification {
  const innerTokens = tokens.slice(family.inner);
  if (innerTokens.length === 0) return { ...empty('explain', 'utility'), risks: [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)], root: null };
  const innerFamily = statementFamily(innerTokens);
  if (innerFamily.family !== 'query') return { ...empty('explain', 'utility'), risks: [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)], root: null };
  const inner = classifyTokens(innerTokens, text);
  if (family.analyze) return explainThatRuns(inner, 'explain', 'EXPLAIN ANALYZE (and MariaDB\'s ANALYZE <statement>) executes the statement it explains; it is judged as that statement. Use EXPLAIN without ANALYZE to see the plan without running it.');
  if (inner.kind !== 'read' && inner.kind !== 'write') return { ...inner, command: 'explain' };
  return { ...planOnlyExplain(inner, 'explain'), root: inner.root };
}

type ParseResult = { ok: true; ast: Record<string, unknown> } | { ok: false; count: number; offset: number | undefined };

/** Parse one statement with the MySQL grammar, then the MariaDB one; positions are offsets in the whole SQL. */
function tryParse(text: string, base: number): ParseResult {
  let offset: number | undefined;
  for (const { parser, database } of parsers) {
    try {
      const ast = parser.astify(text, { database }) as unknown;
      const list = Array.isArray(ast) ? ast : [ast];
      if (list.length !== 1) return { ok: false, count: list.length, offset: undefined };
      const only = list[0];
      if (typeof only === 'object' && only !== null) return { ok: true, ast: only as Record<string, unknown> };
    } catch (e) {
      const at = (e as { location?: { start?: { offset?: unknown } } } | null)?.location?.start?.offset;
      if (typeof at === 'number' && offset === undefined) offset = base + at;
    }
  }
  return { ok: false, count: 1, offset };
}

function parseFailure(result: { count: number; offset: number | undefined }, text: string): BrokerError {
  if (result.count > 1) {
    return new BrokerError('multiple_statements', `The SQL contains ${result.count} statements; the broker runs exactly one per request. Send each statement as its own request.`, { details: { statements: result.count } });
  }
  const at = result.offset === undefined ? '' : ` near offset ${result.offset} (line ${text.slice(0, result.offset).split('\n').length})`;
  return new BrokerError(
    'sql_parse_error',
    `The broker's MySQL parser could not read this statement${at}. The parser covers common MySQL syntax only: simplify the statement (plain SELECT/INSERT/UPDATE/DELETE, standard functions, no vendor-specific clauses) and send it again.`,
    { details: result.offset === undefined ? {} : { position: result.offset } },
  );
}

function classifyQuery(statement: QueryStatement, text: string, start: number): Classification {
  const parsed = tryParse(text.slice(start), start);
  if (!parsed.ok) throw parseFailure(parsed, text);
  const ast = parsed.ast;
  const type = typeof ast['type'] === 'string' ? ast['type'] : 'unknown';
  const c = new Collector();
  const agrees = statement === 'with' ? type === 'select' || type === 'update' || type === 'delete' : type === statement;
  if (!agrees) {
    // The parser read another statement than the leading keyword says: trust neither.
    return { ...c.result(type, 'utility'), risks: [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)], root: ast };
  }
  walkTree(ast, c, true);
  const extra: Risk[] = [];
  const kind: StatementKind = c.outfile ? 'utility' : c.intoVariables ? 'session' : readOrWrite(c, extra);
  return { ...c.result(type, kind), risks: [...c.risks, ...extra, ...partRisks(c)], root: ast, ...rowFacts(c) };
}

function empty(command: string, kind: StatementKind): Omit<Classification, 'root'> {
  return { command, kind, tablesRead: [], tablesWritten: [], functions: [], risks: [] };
}

/**
 * Node `type`s a query or DML tree may contain. A node of any other type (a construct the parser
 * learnt in a later version, a vendor clause) makes the statement `unrecognised_construct`.
 */
const QUERY_NODE_TYPES = new Set([
  'select', 'insert', 'replace', 'update', 'delete', 'values',
  'column_ref', 'binary_expr', 'unary_expr', 'expr_list', 'aggr_func', 'function', 'window', 'star',
  'number', 'bool', 'null', 'single_quote_string', 'double_quote_string', 'natural_string', 'hex_string', 'full_hex_string',
  'bit_string', 'backticks_quote_string', 'default', 'cast', 'datatype', 'case', 'when', 'else', 'extract', 'interval',
  'collate', 'dual', 'ESCAPE', 'ASC', 'DESC', 'var', 'origin', 'assign', 'into', 'returning',
]);

/** Values an `origin` node (raw text kept by the parser) may hold in a query. */
const ORIGIN_VALUES = new Set([
  '?', 'with rollup',
  // time units (TIMESTAMPDIFF(DAY, …), DATE_ADD(…, INTERVAL 1 HOUR_MINUTE))
  'microsecond', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year', 'second_microsecond',
  'minute_microsecond', 'minute_second', 'hour_microsecond', 'hour_second', 'hour_minute', 'day_microsecond',
  'day_second', 'day_minute', 'day_hour', 'year_month',
]);

class Collector {
  readonly tablesRead: QualifiedName[] = [];
  readonly tablesWritten: QualifiedName[] = [];
  readonly functions: QualifiedName[] = [];
  readonly risks: Risk[] = [];
  private readonly seenRead = new Set<string>();
  private readonly seenWritten = new Set<string>();
  private readonly seenFunctions = new Set<string>();
  readonly unrecognised = new Set<string>();
  writes = 0;
  nestedWrites = 0;
  bulkWrites = 0;
  updatesOrDeletes = 0;
  missingWhere = false;
  locking = false;
  outfile = false;
  intoVariables = false;

  read(n: QualifiedName): void {
    addName(this.tablesRead, this.seenRead, n);
  }
  written(n: QualifiedName): void {
    addName(this.tablesWritten, this.seenWritten, n);
    if (n.schema !== undefined && SYSTEM_SCHEMAS.has(n.schema.toLowerCase())) {
      this.risks.push(risk('system_catalog_write', 'Writing to the server\'s own databases (mysql, information_schema, performance_schema, sys) changes accounts, privileges or server state, not data; it is refused for every profile.'));
    }
  }
  fn(n: QualifiedName): void {
    addName(this.functions, this.seenFunctions, n);
    const r = forbiddenMysqlFunctionRisk(n);
    if (r !== undefined) this.risks.push(r);
  }
  result(command: string, kind: StatementKind): Omit<Classification, 'root'> {
    return { command, kind, tablesRead: this.tablesRead, tablesWritten: this.tablesWritten, functions: this.functions, risks: dedupeRisks(this.risks) };
  }
}

interface Frame {
  node: unknown;
  /** the nearest enclosing statement node's type, and the key under it that led here */
  owner: string | undefined;
  field: string | undefined;
  /** CTE names visible here */
  scope: ReadonlySet<string>;
  depth: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The server's own databases: writing to them changes accounts, privileges or instrumentation. */
const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

const STATEMENT_TYPES = new Set(['select', 'insert', 'replace', 'update', 'delete']);

/** Walk a tree iteratively (trees can be deep), collecting names and flags. */
function walkTree(root: Record<string, unknown>, c: Collector, queryMode: boolean): void {
  const stack: Frame[] = [{ node: root, owner: undefined, field: undefined, scope: new Set(), depth: 0 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { node } = frame;
    if (Array.isArray(node)) {
      for (const v of node) stack.push({ ...frame, node: v });
      continue;
    }
    if (!isRecord(node)) continue;
    const type = typeof node['type'] === 'string' ? node['type'] : undefined;
    let owner = frame.owner;
    let scope = frame.scope;
    const skip = new Set<string>();

    if (type !== undefined && queryMode && !QUERY_NODE_TYPES.has(type)) c.unrecognised.add(type);
    if (type === 'origin' && queryMode && !ORIGIN_VALUES.has(String(node['value']).toLowerCase())) c.unrecognised.add(`origin ${String(node['value'])}`);

    if (type !== undefined && STATEMENT_TYPES.has(type)) {
      if (frame.depth > 0 && type !== 'select') c.nestedWrites += 1;
      owner = type;
      const names = withNames(node['with']);
      if (names.length > 0) scope = new Set([...scope, ...names]);
      onStatement(c, type, node);
    } else if (type === 'function') {
      const fn = functionName(node['name']);
      if (fn === undefined) c.unrecognised.add('function');
      else c.fn(fn);
      skip.add('name');
    } else if (type === 'aggr_func') {
      if (typeof node['name'] === 'string') c.fn({ name: node['name'].toLowerCase() });
      else c.unrecognised.add('aggr_func');
    } else if (type === 'assign' && queryMode) {
      c.risks.push(risk('session_state_change', 'Assigning a user variable (@x := …) changes the state of the pooled connection for later requests; it is refused for every profile. Compute the value in the statement itself.'));
    } else if (type === 'into') {
      onInto(c, node);
    } else if (type === undefined && typeof node['table'] === 'string' && 'db' in node) {
      onTable(c, node, owner ?? (queryMode ? undefined : 'schema_change'), frame.field, scope);
    }

    for (const [key, value] of Object.entries(node)) {
      if (skip.has(key) || value === null || typeof value !== 'object') continue;
      // tableList/columnList are the parser's own summaries ("select::null::t"), not tree nodes.
      if (key === 'tableList' || key === 'columnList') continue;
      const field = type !== undefined && STATEMENT_TYPES.has(type) ? key : frame.field;
      stack.push({ node: value, owner, field, scope, depth: frame.depth + 1 });
    }
  }
}

function withNames(w: unknown): string[] {
  if (!Array.isArray(w)) return [];
  const out: string[] = [];
  for (const item of w) {
    const name = isRecord(item) && isRecord(item['name']) ? item['name']['value'] : undefined;
    if (typeof name === 'string') out.push(decodeName(name));
  }
  return out;
}

/**
 * The fields a statement node may carry; a field outside these with a value is a clause the
 * classifier does not know (fail closed).
 */
const STATEMENT_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  select: new Set(['type', 'with', 'options', 'distinct', 'columns', 'into', 'from', 'where', 'groupby', 'having', 'orderby', 'limit', 'locking_read', 'window', 'collate', '_next', '_orderby', '_limit', 'set_op', 'parentheses_symbol', 'parentheses', 'tableList', 'columnList', 'ast', 'loc']),
  insert: new Set(['type', 'with', 'table', 'columns', 'values', 'set', 'partition', 'prefix', 'on_duplicate_update', 'returning', 'loc']),
  replace: new Set(['type', 'with', 'table', 'columns', 'values', 'set', 'partition', 'prefix', 'on_duplicate_update', 'returning', 'loc']),
  update: new Set(['type', 'with', 'table', 'set', 'where', 'orderby', 'limit', 'returning', 'loc']),
  delete: new Set(['type', 'with', 'table', 'from', 'where', 'orderby', 'limit', 'returning', 'loc']),
};

function onStatement(c: Collector, type: string, node: Record<string, unknown>): void {
  const known = STATEMENT_FIELDS[type];
  for (const [key, value] of Object.entries(node)) {
    if (value !== null && value !== undefined && known !== undefined && !known.has(key)) c.unrecognised.add(`${type} ${key}`);
  }
  // RETURNING (MariaDB) shows the written rows: the target is read too.
  if (node['returning'] !== null && node['returning'] !== undefined && Array.isArray(node['table'])) {
    for (const t of node['table']) if (isRecord(t) && typeof t['table'] === 'string') c.read(tableName(t));
  }
  switch (type) {
    case 'select':
      if (typeof node['locking_read'] === 'string' && node['locking_read'] !== '') c.locking = true;
      else if (node['locking_read'] !== null && node['locking_read'] !== undefined) c.locking = true;
      break;
    case 'insert':
    case 'replace': {
      c.writes += 1;
      // REPLACE deletes the rows it replaces (not bounded by a WHERE): a human approves it, however
      // few rows it names. INSERT … SELECT may insert any number of rows.
      if (type === 'replace') c.risks.push(risk('replace_statement', RISK_MESSAGES.replace_statement));
      const values = node['values'];
      const fromQuery = isRecord(values) && values['type'] === 'select';
      // INSERT … VALUES inserts the rows written out, unless a value is itself a query.
      if (type === 'replace' || fromQuery || (node['select'] !== undefined && node['select'] !== null) || containsType(values, 'select')) c.bulkWrites += 1;
      if (isRecord(values) && values['type'] !== 'values' && values['type'] !== 'select') c.unrecognised.add(`${type} source`);
      break;
    }
    case 'update':
    case 'delete': {
      if (type === 'delete') onDeleteTargets(c, node);
      c.writes += 1;
      c.bulkWrites += 1;
      c.updatesOrDeletes += 1;
      const where = node['where'];
      if (where === null || where === undefined || !containsType(where, 'column_ref')) {
        c.missingWhere = true;
        c.risks.push(
          type === 'update'
            ? risk('update_without_where', RISK_MESSAGES.update_without_where)
            : risk('delete_without_where', RISK_MESSAGES.delete_without_where),
        );
      }
      break;
    }
  }
}

function onInto(c: Collector, node: Record<string, unknown>): void {
  const keyword = typeof node['keyword'] === 'string' ? node['keyword'].toLowerCase() : undefined;
  if (keyword === undefined && node['expr'] === undefined) return; // the parser's empty placeholder
  if (keyword === 'outfile' || keyword === 'dumpfile') {
    c.outfile = true;
    c.risks.push(risk('server_file_access', 'SELECT … INTO OUTFILE/DUMPFILE writes a file on the database server; it is refused for every profile. Read the rows in the response instead.'));
    return;
  }
  c.intoVariables = true;
  c.risks.push(risk('session_state_change', 'SELECT … INTO @variable stores values in the pooled connection for later requests; it is refused for every profile. Read the values in the response instead.'));
}

/** A table reference `{db, table, as}`: read or written by where it stands in its statement. */
/**
 * `DELETE a FROM orders a JOIN …` names its targets by alias: each target is the FROM entry it
 * names (alias or table name); a target matching none counts as the table of that name.
 */
function onDeleteTargets(c: Collector, node: Record<string, unknown>): void {
  const from = Array.isArray(node['from']) ? node['from'].filter(isRecord) : [];
  const targets = Array.isArray(node['table']) ? node['table'].filter(isRecord) : [];
  for (const t of targets) {
    if (typeof t['table'] !== 'string') {
      c.unrecognised.add('delete target');
      continue;
    }
    const target = tableName(t);
    const byAlias = target.schema === undefined ? from.find((f) => typeof f['as'] === 'string' && decodeName(f['as']) === target.name && typeof f['table'] === 'string') : undefined;
    const name = byAlias !== undefined ? tableName(byAlias) : target;
    c.written(name);
    c.read(name);
  }
}

function tableName(node: Record<string, unknown>): QualifiedName {
  const table = decodeName(String(node['table']));
  const db = typeof node['db'] === 'string' && node['db'] !== '' ? decodeName(node['db']) : undefined;
  return db === undefined ? { name: table } : { schema: db, name: table };
}

function onTable(c: Collector, node: Record<string, unknown>, owner: string | undefined, field: string | undefined, scope: ReadonlySet<string>): void {
  const name = tableName(node);
  if (name.schema === undefined && scope.has(name.name)) return; // a CTE, not a table
  switch (owner) {
    case 'schema_change':
      // The object a DDL or administrative statement creates, alters, drops or renames.
      c.written(name);
      return;
    case 'insert':
    case 'replace':
      if (field === 'table') {
        c.written(name);
        return;
      }
      break;
    case 'update':
      // A multi-table UPDATE lists every joined table here; which ones SET changes is not
      // certain from the tree, so all count as written (and read, for WHERE and SET).
      if (field === 'table') {
        c.written(name);
        c.read(name);
        return;
      }
      break;
    case 'delete':
      // The targets of DELETE are resolved against its FROM list (onDeleteTargets).
      if (field === 'table') return;
      break;
  }
  c.read(name);
}

function functionName(name: unknown): QualifiedName | undefined {
  if (!isRecord(name) || !Array.isArray(name['name'])) return undefined;
  const parts = name['name'].map((p) => (isRecord(p) && typeof p['value'] === 'string' ? decodeName(p['value']) : undefined));
  if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
  const schemaNode = name['schema'];
  const schema = isRecord(schemaNode) && typeof schemaNode['value'] === 'string' ? decodeName(schemaNode['value']) : undefined;
  const all = [...(schema === undefined ? [] : [schema]), ...(parts as string[])];
  if (all.length > 2) return undefined;
  const fn = all[all.length - 1]!.toLowerCase();
  return all.length === 2 ? { schema: all[0]!, name: fn } : { name: fn };
}

/** node-sql-parser keeps doubled backquotes of a quoted identifier as written. */
function decodeName(s: string): string {
  return s.replace(/``/g, '`');
}

function containsType(root: unknown, type: string): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (isRecord(v)) {
      if (v['type'] === type) return true;
      stack.push(...Object.values(v));
    }
  }
  return false;
}

function qualifiedFromTokens(tokens: readonly Token[], i: number): QualifiedName | undefined {
  const a = tokens[i];
  if (a === undefined || (a.type !== 'word' && a.type !== 'ident')) return undefined;
  const dot = tokens[i + 1];
  const b = tokens[i + 2];
  if (dot?.text === '.' && b !== undefined && (b.type === 'word' || b.type === 'ident')) {
    if (tokens.length > i + 3 && tokens[i + 3]!.type !== 'word' && tokens[i + 3]!.type !== 'ident' && tokens[i + 3]!.type !== 'string') return undefined;
    return { schema: identifierName(a), name: identifierName(b) };
  }
  return { name: identifierName(a) };
}

function nameKey(n: QualifiedName): string {
  return `${n.schema ?? ''}\u0000${n.name}`;
}

function addName(list: QualifiedName[], seen: Set<string>, n: QualifiedName): void {
  const key = nameKey(n);
  if (seen.has(key)) return;
  seen.add(key);
  list.push(n);
}

function dedupeRisks<R extends { code: string; message: string }>(risks: readonly R[]): R[] {
  const seen = new Set<string>();
  return risks.filter((r) => {
    const key = `${r.code}\u0000${r.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
