/**
 * Classify one parsed statement: its kind, the tables it reads and writes, every function it calls
 * and its risk flags. Decisions are made on the names the parser decoded (quoted and U&"…"
 * identifiers resolved), never on the SQL text. Anything not recognised is not a read.
 */
import type { Node } from '@pgsql/types';
import type { Analysis, QualifiedName, StatementKind } from './types.js';
import { walk, containsNodeType, type Visit } from './walk.js';
import { addName, nameFromList, operatorsOfExpr } from './names.js';
import { forbiddenFunctionRisk } from './function-rules.js';
import { RISK_MESSAGES, risk, type Risk } from './risks.js';
import { planOnlyExplain, explainThatRuns } from './explain.js';
import { partRisks, readOrWrite, rowFacts } from './query-kind.js';
import { DDL_STATEMENTS, ADMIN_STATEMENTS, SERVER_LEVEL_STATEMENTS, SESSION_STATEMENTS, PRIVILEGE_STATEMENTS, sessionStatementMessage } from './statement-kinds.js';

/** What the classifier adds to an analysis (the parse, hash and statement come from analyze.ts). */
export type Classification = Pick<Analysis, 'command' | 'kind' | 'tablesRead' | 'tablesWritten' | 'functions' | 'operators' | 'risks' | 'hasWhere' | 'needsRowEstimate'>;

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/**
 * Node types that may appear inside a query or a DML statement. A node of any other type there
 * (a cursor reference, a type the parser gained in a later version…) makes the statement
 * `unrecognised_construct`: refused, never guessed at.
 */
const QUERY_NODES = new Set([
  'SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt',
  'Integer', 'Float', 'Boolean', 'String', 'BitString', 'List', 'A_Const', 'ParamRef',
  'Alias', 'RangeVar', 'IntoClause', 'ColumnRef', 'A_Star', 'A_Indices', 'A_Indirection', 'A_ArrayExpr',
  'A_Expr', 'BoolExpr', 'TypeCast', 'TypeName', 'CollateClause', 'FuncCall', 'NamedArgExpr',
  'ResTarget', 'MultiAssignRef', 'SortBy', 'WindowDef', 'RangeSubselect', 'RangeFunction',
  'RangeTableFunc', 'RangeTableFuncCol', 'RangeTableSample', 'JoinExpr', 'SubLink', 'CaseExpr',
  'CaseWhen', 'RowExpr', 'CoalesceExpr', 'MinMaxExpr', 'SQLValueFunction', 'XmlExpr', 'XmlSerialize',
  'NullTest', 'BooleanTest', 'SetToDefault', 'GroupingFunc', 'GroupingSet', 'LockingClause',
  'WithClause', 'CommonTableExpr', 'CTESearchClause', 'CTECycleClause', 'InferClause',
  'OnConflictClause', 'IndexElem', 'MergeWhenClause', 'MergeSupportFunc', 'ReturningClause',
  'ReturningOption',
  'JsonFormat', 'JsonReturning', 'JsonValueExpr', 'JsonBehavior', 'JsonOutput', 'JsonArgument',
  'JsonFuncExpr', 'JsonTablePathSpec', 'JsonTable', 'JsonTableColumn', 'JsonKeyValue',
  'JsonParseExpr', 'JsonScalarExpr', 'JsonSerializeExpr', 'JsonObjectConstructor',
  'JsonArrayConstructor', 'JsonArrayQueryConstructor', 'JsonAggConstructor', 'JsonObjectAgg',
  'JsonArrayAgg', 'JsonIsPredicate',
]);

/** What a walk over a statement collected. */
class Collector {
  readonly tablesRead: QualifiedName[] = [];
  readonly tablesWritten: QualifiedName[] = [];
  readonly functions: QualifiedName[] = [];
  readonly operators: QualifiedName[] = [];
  private readonly seenOperators = new Set<string>();
  private readonly seenRead = new Set<string>();
  private readonly seenWritten = new Set<string>();
  private readonly seenFunctions = new Set<string>();
  private readonly riskKeys = new Set<string>();
  readonly risks: Risk[] = [];
  writes = 0;
  nestedWrites = 0;
  bulkWrites = 0;
  locking = false;
  into = false;
  missingWhere = false;
  updatesOrDeletes = 0;
  unrecognised = new Set<string>();

  read(n: QualifiedName): void {
    addName(this.tablesRead, this.seenRead, n);
  }
  written(n: QualifiedName): void {
    addName(this.tablesWritten, this.seenWritten, n);
  }
  fn(n: QualifiedName): void {
    addName(this.functions, this.seenFunctions, n);
  }
  op(n: QualifiedName | undefined): void {
    if (n !== undefined) addName(this.operators, this.seenOperators, n);
  }
  flag(r: Risk): void {
    const key = `${r.code}\u0000${r.message}`;
    if (this.riskKeys.has(key)) return;
    this.riskKeys.add(key);
    this.risks.push(r);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rangeVarName(node: Record<string, unknown>): QualifiedName | undefined {
  const name = node['relname'];
  if (typeof name !== 'string') return undefined;
  const schema = node['schemaname'];
  return typeof schema === 'string' ? { schema, name } : { name };
}

/** Walk a statement collecting names and flags; `queryMode` also enforces the query node allow-list. */
function collect(root: unknown, queryMode: boolean): Collector {
  const c = new Collector();
  walk(root, (v: Visit) => {
    if (queryMode && v.wrapped && !QUERY_NODES.has(v.type)) c.unrecognised.add(v.type);
    switch (v.type) {
      case 'RangeVar':
        onRangeVar(c, v, queryMode);
        break;
      case 'FuncCall': {
        const fn = nameFromList(v.node['funcname']);
        if (fn === undefined) {
          c.unrecognised.add('FuncCall');
          break;
        }
        c.fn(fn);
        const forbidden = forbiddenFunctionRisk(fn);
        if (forbidden !== undefined) c.flag(forbidden);
        break;
      }
      case 'A_Expr':
        for (const op of operatorsOfExpr(v.node['kind'], v.node['name'])) c.op(op);
        break;
      case 'SubLink':
        c.op(nameFromList(v.node['operName']));
        break;
      case 'SortBy':
        c.op(nameFromList(v.node['useOp']));
        break;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        onWrite(c, v);
        break;
      case 'SelectStmt':
        if (v.node['intoClause'] !== undefined) c.into = true;
        if (Array.isArray(v.node['lockingClause']) && v.node['lockingClause'].length > 0) c.locking = true;
        break;
      case 'LockingClause':
        c.locking = true;
        break;
      case 'DropStmt':
        onDrop(c, v.node);
        break;
    }
  });
  return c;
}

function onRangeVar(c: Collector, v: Visit, queryMode: boolean): void {
  const name = rangeVarName(v.node);
  if (name === undefined) return;
  const parent = v.parentType ?? '';
  if (DML.has(parent) && v.field === 'relation') {
    c.written(name);
    const catalogRisk = systemCatalogWriteRisk(name);
    if (catalogRisk !== undefined) c.flag(catalogRisk);
    // UPDATE/DELETE/MERGE see the target's rows (WHERE, RETURNING); INSERT only with RETURNING or ON CONFLICT (see onWrite).
    if (parent !== 'InsertStmt') c.read(name);
    return;
  }
  if (parent === 'IntoClause') {
    c.written(name);
    return;
  }
  if (!queryMode && parent.endsWith('Stmt') && parent !== 'SelectStmt') {
    // The object a DDL or utility statement acts on (created, altered, dropped, granted, locked…).
    c.written(name);
    return;
  }
  if (name.schema === undefined && v.scope.has(name.name)) return; // a CTE, not a table
  c.read(name);
}

/**
 * Writes to the server's own catalogs. An unqualified `pg_*` name resolves to pg_catalog first.
 * `UPDATE pg_settings` is how SQL spells set_config(): it changes the pooled session's settings.
 */
function systemCatalogWriteRisk(name: QualifiedName): Risk | undefined {
  const schema = name.schema;
  const system = schema === 'pg_catalog' || schema === 'information_schema' || (schema === undefined && name.name.startsWith('pg_'));
  if (!system) return undefined;
  if (name.name === 'pg_settings') {
    return risk('session_state_change', 'Writing to pg_settings changes session settings (it calls set_config) for later requests on the same connection; it is refused for every profile.');
  }
  return risk('system_catalog_write', RISK_MESSAGES.system_catalog_write);
}

function onWrite(c: Collector, v: Visit): void {
  c.writes += 1;
  if (v.field !== undefined) c.nestedWrites += 1;
  const node = v.node;
  switch (v.type) {
    case 'UpdateStmt':
    case 'DeleteStmt': {
      c.bulkWrites += 1;
      c.updatesOrDeletes += 1;
      // A WHERE that mentions no column (`WHERE true`, `WHERE 1 = 1`) bounds nothing.
      const where = node['whereClause'];
      if (where === undefined || !containsNodeType(where, 'ColumnRef')) {
        c.missingWhere = true;
        c.flag(risk(v.type === 'UpdateStmt' ? 'update_without_where' : 'delete_without_where', v.type === 'UpdateStmt' ? RISK_MESSAGES.update_without_where : RISK_MESSAGES.delete_without_where));
      }
      break;
    }
    case 'MergeStmt':
      c.bulkWrites += 1;
      break;
    case 'InsertStmt': {
      const target = isRecord(node['relation']) ? rangeVarName(node['relation']) : undefined;
      if (target !== undefined && (node['returningClause'] !== undefined || node['onConflictClause'] !== undefined)) c.read(target);
      // INSERT … VALUES inserts exactly the rows written out; INSERT … SELECT may insert any number.
      const select = (node['selectStmt'] as { SelectStmt?: Record<string, unknown> } | undefined)?.SelectStmt;
      if (select !== undefined && select['valuesLists'] === undefined) c.bulkWrites += 1;
      else if (select !== undefined && containsNodeType(select, 'SelectStmt')) c.bulkWrites += 1;
      break;
    }
  }
}

const DROPPED_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE', 'OBJECT_INDEX']);

function onDrop(c: Collector, node: Record<string, unknown>): void {
  if (!DROPPED_RELATIONS.has(String(node['removeType']))) return;
  const objects = Array.isArray(node['objects']) ? node['objects'] : [];
  for (const o of objects) {
    const n = nameFromList((o as { List?: { items?: unknown } } | null)?.List?.items);
    if (n !== undefined) c.written(n);
  }
}

/** Classify the statement node (`{"SelectStmt": {…}}` etc.). */
export function classifyStatement(root: Node): Classification {
  const [type, node] = unwrapStatement(root);
  switch (type) {
    case 'SelectStmt':
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return classifyQuery(type, root);
    case 'ExplainStmt':
      return classifyExplain(node);
    case 'VariableShowStmt':
      // SHOW reads a setting, like current_setting().
      return result(type, 'read', collect(root, false));
    case 'TransactionStmt':
      return result(type, 'transaction', collect(root, false), [risk('transaction_control', RISK_MESSAGES.transaction_control)]);
    case 'DoStmt':
      return result(type, 'procedural', collect(root, false), [risk('procedural_code', RISK_MESSAGES.procedural_code)]);
    case 'CallStmt':
      return result(type, 'procedural', collect(root, false), [risk('procedure_call', RISK_MESSAGES.procedure_call)]);
    case 'CopyStmt': {
      const c = collect(root, false);
      const extra = [risk('copy_statement', RISK_MESSAGES.copy_statement)];
      if (node['is_program'] === true || typeof node['filename'] === 'string') {
        extra.push(risk('server_file_access', 'COPY to or from a file or program runs on the database server machine; it is refused for every profile.'));
      }
      // COPY … TO reads its table; COPY … FROM writes it.
      if (node['is_from'] !== true) moveWrittenToRead(c);
      return result(type, 'utility', c, extra);
    }
    case 'LockStmt':
      return result(type, 'utility', collect(root, false), [risk('lock_statement', RISK_MESSAGES.lock_statement)]);
    case 'NotifyStmt':
      return result(type, 'utility', collect(root, false), [risk('notification', RISK_MESSAGES.notification)]);
    case 'TruncateStmt':
      return result(type, 'write', collect(root, false), [risk('truncate', RISK_MESSAGES.truncate)]);
  }
  if (SESSION_STATEMENTS.has(type)) {
    return result(type, 'session', collect(root, false), [risk('session_state_change', sessionStatementMessage(type, node))]);
  }
  if (PRIVILEGE_STATEMENTS.has(type)) {
    return result(type, 'admin', collect(root, false), [
      risk('privilege_change', 'GRANT/REVOKE changes who may do what in the database; it needs an approved request. Ask for the access you need instead of granting it.'),
    ]);
  }
  if (SERVER_LEVEL_STATEMENTS.has(type)) {
    return result(type, 'admin', collect(root, false), [
      risk('server_level_command', `${commandLabel(type)} acts on the whole server (settings, databases, tablespaces, outbound connections, server code); it is refused for every profile. Ask a database administrator.`),
    ]);
  }
  if (ADMIN_STATEMENTS.has(type)) return result(type, 'admin', collect(root, false));
  if (DDL_STATEMENTS.has(type)) {
    const c = collect(root, false);
    return result(type, 'ddl', c);
  }
  return result(type, 'utility', collect(root, false), [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)]);
}

/** `AlterSystemStmt` → `ALTER SYSTEM`, for messages. */
function commandLabel(type: string): string {
  return type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

function unwrapStatement(root: Node): [string, Record<string, unknown>] {
  const entries = Object.entries(root as Record<string, unknown>);
  const first = entries[0];
  if (entries.length !== 1 || first === undefined || typeof first[1] !== 'object' || first[1] === null) return ['Unknown', {}];
  return [first[0], first[1] as Record<string, unknown>];
}

/** SELECT and DML, where the statement's real kind is what its parts do. */
function classifyQuery(type: string, root: unknown): Classification {
  const c = collect(root, true);
  const extra: Risk[] = [];
  let kind: StatementKind;
  if (c.into) {
    kind = 'ddl';
    extra.push(risk('select_into', RISK_MESSAGES.select_into));
  } else {
    kind = readOrWrite(c, extra);
  }
  return { ...result(type, kind, c, [...extra, ...partRisks(c)]), ...rowFacts(c) };
}

/**
 * EXPLAIN plans without running, so EXPLAIN of a query or DML statement is a read. EXPLAIN ANALYZE
 * runs the statement: it is judged as that statement. Any other explained statement keeps its kind.
 */
function classifyExplain(node: Record<string, unknown>): Classification {
  const inner = node['query'] as Node | undefined;
  if (inner === undefined) return result('ExplainStmt', 'utility', new Collector(), [risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement)]);
  const explained = classifyStatement(inner);
  const options = Array.isArray(node['options']) ? node['options'] : [];
  if (options.some((o) => explainOptionOn(o, 'analyze'))) return explainThatRuns(explained, 'ExplainStmt');
  const [innerType] = unwrapStatement(inner);
  if ((innerType === 'SelectStmt' || DML.has(innerType)) && (explained.kind === 'read' || explained.kind === 'write')) {
    return { ...planOnlyExplain(explained, 'ExplainStmt'), operators: explained.operators };
  }
  return { ...explained, command: 'ExplainStmt' };
}

/**
 * Whether an EXPLAIN option is switched on. PostgreSQL accepts true/false/on/off/yes/no/1/0 and
 * unique prefixes; anything we cannot read as clearly off counts as on (fail closed).
 */
export function explainOptionOn(option: unknown, name: string): boolean {
  const def = (option as { DefElem?: { defname?: unknown; arg?: unknown } } | null)?.DefElem;
  if (def === undefined || typeof def.defname !== 'string' || def.defname.toLowerCase() !== name) return false;
  const arg = def.arg as { String?: { sval?: unknown }; Integer?: { ival?: unknown }; Boolean?: { boolval?: unknown }; A_Const?: Record<string, unknown> } | undefined;
  if (arg === undefined) return true;
  if (arg.Integer !== undefined) return arg.Integer.ival !== undefined && arg.Integer.ival !== 0;
  if (arg.Boolean !== undefined) return arg.Boolean.boolval === true;
  if (arg.String !== undefined && typeof arg.String.sval === 'string') {
    const s = arg.String.sval.toLowerCase();
    const off = s === '0' || s === 'off' || s === 'of' || (s.length > 0 && ('false'.startsWith(s) || 'no'.startsWith(s)));
    return !off;
  }
  return true;
}

function moveWrittenToRead(c: Collector): void {
  for (const t of c.tablesWritten.splice(0)) c.read(t);
}

function result(command: string, kind: StatementKind, c: Collector, extra: Risk[] = []): Classification {
  for (const r of extra) c.flag(r);
  return {
    command,
    kind,
    tablesRead: c.tablesRead,
    tablesWritten: c.tablesWritten,
    functions: c.functions,
    operators: c.operators,
    risks: c.risks,
  };
}

