/**
 * MySQL statement families by their leading keywords, read from the lexer's tokens. Statements the
 * broker refuses for everyone are classified here without the parser (which cannot read most of
 * them), so the agent hears why; statements that may run (queries, DML, DDL for approval) go on to
 * the parser. A leading keyword not listed is `unrecognised_statement`: refused, never a read.
 */
import type { StatementKind } from '../../sql/types.js';
import { RISK_MESSAGES, risk, type Risk } from '../../sql/risks.js';
import type { Token } from './lexer.js';

/** The statement a query's leading keyword promises; `with` may lead SELECT, UPDATE or DELETE. */
export type QueryStatement = 'select' | 'insert' | 'replace' | 'update' | 'delete' | 'with';

export type Family =
  /** SELECT/WITH/( …, INSERT, REPLACE, UPDATE, DELETE: parsed and judged by what they do */
  | { family: 'query'; statement: QueryStatement }
  /** EXPLAIN/DESCRIBE of a statement: the statement starts at token `inner` */
  | { family: 'explain'; inner: number; analyze: boolean }
  /** DESCRIBE/EXPLAIN of a table (its columns) */
  | { family: 'describe'; table: number }
  /** DDL and administrative statements: parsed when the parser can, for the names they touch */
  | { family: 'ddl' | 'admin'; command: string; risks: Risk[] }
  /** decided here: the kind and the reasons */
  | { family: 'fixed'; command: string; kind: StatementKind; risks: Risk[] };

const upper = (tokens: readonly Token[], i: number): string => {
  const t = tokens[i];
  return t !== undefined && t.type === 'word' ? t.upper : '';
};

const SESSION = (what: string): Risk =>
  risk('session_state_change', `${what} changes the state of the pooled connection for later requests, so it is refused for every profile. Put what you need in the statement itself.`);
const SERVER_LEVEL = (what: string): Risk =>
  risk('server_level_command', `${what} acts on the whole server (settings, logs, replication, plugins, other sessions); it is refused for every profile. Ask a database administrator.`);
const TRANSACTION: Risk = risk(
  'transaction_control',
  'Transaction control (START TRANSACTION, BEGIN, COMMIT, ROLLBACK, SAVEPOINT, XA, LOCK/UNLOCK TABLES) is refused: the broker runs each request as one statement in its own transaction. Send only the statement itself.',
);
const UNRECOGNISED: Risk = risk('unrecognised_statement', RISK_MESSAGES.unrecognised_statement);

/** SHOW forms that describe the schema or settings; the others show other sessions' statements or diagnostics. */
const SHOW_ALLOWED = new Set(['TABLES', 'COLUMNS', 'FIELDS', 'INDEX', 'INDEXES', 'KEYS', 'DATABASES', 'SCHEMAS', 'VARIABLES', 'COLLATION', 'CHARACTER', 'CHARSET', 'TRIGGERS', 'GRANTS', 'CREATE', 'TABLE']);
const SHOW_CREATE_ALLOWED = new Set(['TABLE', 'VIEW', 'DATABASE', 'SCHEMA', 'PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'SEQUENCE']);
const SHOW_MODIFIERS = new Set(['FULL', 'EXTENDED', 'GLOBAL', 'SESSION', 'LOCAL']);

const fixed = (command: string, kind: StatementKind, ...risks: Risk[]): Family => ({ family: 'fixed', command, kind, risks });

export function statementFamily(tokens: readonly Token[]): Family {
  const first = tokens[0]!;
  if (first.type === 'punct' && first.text === '(') return { family: 'query', statement: 'select' };
  const w0 = upper(tokens, 0);
  const w1 = upper(tokens, 1);
  const words = new Set(tokens.filter((t) => t.type === 'word').map((t) => t.upper));
  switch (w0) {
    case 'WITH':
      return { family: 'query', statement: 'with' };
    case 'SELECT':
    case 'VALUES':
    case 'TABLE':
      return { family: 'query', statement: 'select' };
    case 'INSERT':
      return { family: 'query', statement: 'insert' };
    case 'REPLACE':
      return { family: 'query', statement: 'replace' };
    case 'UPDATE':
      return { family: 'query', statement: 'update' };
    case 'DELETE':
      return { family: 'query', statement: 'delete' };
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      return explainFamily(tokens);
    case 'SHOW':
      return showFamily(tokens);
    case 'TRUNCATE':
      return { family: 'ddl', command: 'truncate', risks: [risk('truncate', 'TRUNCATE removes every row of a table at once, cannot be bounded by a WHERE clause and commits implicitly on MySQL; it needs human approval. To remove some rows, use DELETE … WHERE.')] };
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
    case 'RENAME':
      return schemaChangeFamily(w0, tokens, words);
    case 'GRANT':
    case 'REVOKE':
      return {
        family: 'admin',
        command: w0.toLowerCase(),
        risks: [risk('privilege_change', 'GRANT/REVOKE changes who may do what in the database; it needs an approved request. Ask for the access you need instead of granting it.')],
      };
    case 'SET':
      return setFamily(tokens, w1);
    case 'USE':
      return fixed('use', 'session', SESSION('USE (changing the default database)'));
    case 'PREPARE':
    case 'EXECUTE':
    case 'DEALLOCATE':
      return fixed(w0.toLowerCase(), 'session', risk('session_state_change', 'PREPARE/EXECUTE/DEALLOCATE are refused: the broker analyses the statement text it is given, and a prepared statement hides what runs. Send the statement itself, with ? parameters in `params`.'));
    case 'HANDLER':
      return fixed('handler', 'session', risk('session_state_change', 'HANDLER opens a table handle that outlives the request on a pooled connection and reads rows past the broker\'s analysis; it is refused for every profile. Use SELECT with LIMIT to page through rows.'));
    case 'DO':
      return fixed('do', 'procedural', risk('procedural_code', 'DO evaluates expressions only for their side effects (locks, sleeps, variables); it is refused for every profile. Use SELECT to compute a value.'));
    case 'CALL':
      return fixed('call', 'procedural', risk('procedure_call', RISK_MESSAGES.procedure_call));
    case 'LOAD':
      if (w1 === 'INDEX') return { family: 'admin', command: 'load_index', risks: [] };
      return fixed('load_data', 'utility', risk('copy_statement', 'LOAD DATA/LOAD XML is refused: it reads files on the database server or the broker\'s machine. Use INSERT to write rows.'), risk('server_file_access', 'LOAD DATA/LOAD XML reads a file from the server or client machine; it is refused for every profile.'));
    case 'START':
      if (w1 === 'TRANSACTION') return fixed('transaction', 'transaction', TRANSACTION);
      return fixed('start', 'admin', SERVER_LEVEL(`START ${w1}`.trim()));
    case 'BEGIN':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'XA':
      return fixed(w0.toLowerCase(), 'transaction', TRANSACTION);
    case 'LOCK':
    case 'UNLOCK':
      if (w1 === 'TABLES' || w1 === 'TABLE') {
        return fixed(`${w0.toLowerCase()}_tables`, 'transaction', risk('lock_statement', 'LOCK/UNLOCK TABLES is refused: it commits the open transaction and holds table locks on a pooled connection that can block other sessions. Rely on the statement\'s own row locks.'), TRANSACTION);
      }
      return fixed(w0.toLowerCase(), 'admin', SERVER_LEVEL(`${w0} ${w1}`.trim()));
    case 'KILL':
    case 'FLUSH':
    case 'SHUTDOWN':
    case 'RESTART':
    case 'INSTALL':
    case 'UNINSTALL':
    case 'RESET':
    case 'PURGE':
    case 'CHANGE':
    case 'STOP':
    case 'BINLOG':
    case 'CLONE':
    case 'BACKUP':
    case 'IMPORT':
      return fixed(w0.toLowerCase(), 'admin', SERVER_LEVEL(w0));
    case 'ANALYZE':
      if (w1 === 'TABLE' || w1 === 'TABLES' || w1 === 'NO_WRITE_TO_BINLOG' || w1 === 'LOCAL') return { family: 'admin', command: 'analyze', risks: [] };
      // MariaDB's ANALYZE <statement> runs the statement and reports its plan.
      return { family: 'explain', inner: skipExplainOptions(tokens, 1), analyze: true };
    case 'OPTIMIZE':
    case 'REPAIR':
    case 'CHECK':
    case 'CHECKSUM':
    case 'CACHE':
      return { family: 'admin', command: w0.toLowerCase(), risks: [] };
  }
  return fixed(w0 === '' ? 'unknown' : w0.toLowerCase(), 'utility', UNRECOGNISED);
}

function setFamily(tokens: readonly Token[], w1: string): Family {
  const text = tokens.map((t) => t.text).join(' ').toUpperCase();
  if (w1 === 'PASSWORD') return fixed('set', 'session', risk('session_state_change', 'SET PASSWORD changes an account\'s password (possibly the broker\'s own login); it is refused for every profile. Ask a database administrator.'));
  if (w1 === 'ROLE' || w1 === 'DEFAULT') return fixed('set', 'session', risk('session_state_change', 'SET ROLE and SET DEFAULT ROLE are refused: the broker chooses the database role from your profile. Ask for a profile with the access you need.'));
  if (w1 === 'TRANSACTION' || /\bTRANSACTION\b/.test(text)) {
    return fixed('set', 'session', risk('session_state_change', 'SET TRANSACTION and transaction characteristics are refused: the broker sets read-only or read-write mode from your profile and the statement.'));
  }
  const risks = [SESSION('SET')];
  if (w1 === 'GLOBAL' || w1 === 'PERSIST' || w1 === 'PERSIST_ONLY' || /@ @ GLOBAL\b|@ @ PERSIST/.test(text)) risks.push(SERVER_LEVEL('SET GLOBAL/PERSIST'));
  return fixed('set', 'session', ...risks);
}

function showFamily(tokens: readonly Token[]): Family {
  let i = 1;
  while (SHOW_MODIFIERS.has(upper(tokens, i))) i++;
  const what = upper(tokens, i);
  const object = upper(tokens, i + 1);
  // SHOW CREATE USER prints the account's password hash; the other SHOW CREATE forms print schema.
  const refused = !SHOW_ALLOWED.has(what) || (what === 'TABLE' && object !== 'STATUS') || (what === 'CREATE' && !SHOW_CREATE_ALLOWED.has(object));
  if (refused) {
    return fixed('show', 'utility', risk('unrecognised_statement', `SHOW ${[what, what === 'CREATE' ? object : ''].join(' ').trim() || '…'} is refused: it shows other sessions' statements, diagnostics, credentials or server internals. Query information_schema for the schema instead.`));
  }
  if (tokens.some((t) => t.type === 'word' && t.upper === 'WHERE')) {
    return fixed('show', 'utility', risk('unrecognised_construct', 'SHOW … WHERE evaluates an expression the broker does not analyse; use SHOW … LIKE \'pattern\', or query information_schema with SELECT.'));
  }
  return fixed('show', 'read');
}

/** The token index after EXPLAIN's options (FORMAT = x, EXTENDED, PARTITIONS, ANALYZE). */
function skipExplainOptions(tokens: readonly Token[], from: number): number {
  let i = from;
  for (;;) {
    const w = upper(tokens, i);
    if (w === 'EXTENDED' || w === 'PARTITIONS' || w === 'ANALYZE') i++;
    else if (w === 'FORMAT' && tokens[i + 1]?.text === '=') i += 3;
    else return i;
  }
}

function explainFamily(tokens: readonly Token[]): Family {
  const inner = skipExplainOptions(tokens, 1);
  const analyze = tokens.slice(1, inner).some((t) => t.type === 'word' && t.upper === 'ANALYZE');
  const w = upper(tokens, inner);
  const t = tokens[inner];
  if (t === undefined) return fixed('explain', 'utility', UNRECOGNISED);
  if (w === 'FOR') return fixed('explain', 'utility', risk('unrecognised_statement', 'EXPLAIN FOR CONNECTION shows another session\'s statement; it is refused. Explain your own statement instead.'));
  if (['SELECT', 'WITH', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'TABLE', 'VALUES'].includes(w) || (t.type === 'punct' && t.text === '(')) {
    return { family: 'explain', inner, analyze };
  }
  if (inner === 1 && (t.type === 'word' || t.type === 'ident')) return { family: 'describe', table: 1 };
  return fixed('explain', 'utility', UNRECOGNISED);
}

/** CREATE/ALTER/DROP/RENAME: schema objects are DDL, accounts are administration, server objects refused. */
function schemaChangeFamily(w0: string, tokens: readonly Token[], words: ReadonlySet<string>): Family {
  const command = w0.toLowerCase();
  // The object type is the first word that names one (after OR REPLACE, DEFINER = …, ALGORITHM = …, TEMPORARY…).
  const objectWords = tokens.filter((t) => t.type === 'word').map((t) => t.upper);
  const object = objectWords.find((x) => OBJECT_TYPES.has(x)) ?? '';
  if (words.has('SONAME')) return fixed(command, 'admin', SERVER_LEVEL(`${w0} FUNCTION … SONAME (loading a shared library into the server)`));
  if (object === 'SERVER' || object === 'TABLESPACE' || object === 'LOGFILE' || object === 'INSTANCE' || object === 'SPATIAL_REFERENCE' || object === 'RESOURCE') {
    return fixed(command, 'admin', SERVER_LEVEL(`${w0} ${object}`));
  }
  if (object === 'USER' || object === 'ROLE') return { family: 'admin', command, risks: [] };
  if (w0 === 'DROP' && object === 'PREPARE') return fixed('deallocate', 'session', risk('session_state_change', 'DROP PREPARE is refused: prepared statements are not used through the broker.'));
  return { family: 'ddl', command, risks: [] };
}

const OBJECT_TYPES = new Set([
  'TABLE', 'TABLES', 'VIEW', 'INDEX', 'DATABASE', 'SCHEMA', 'FUNCTION', 'PROCEDURE', 'TRIGGER', 'EVENT', 'SEQUENCE',
  'USER', 'ROLE', 'SERVER', 'TABLESPACE', 'LOGFILE', 'INSTANCE', 'SPATIAL_REFERENCE', 'RESOURCE', 'PREPARE', 'PACKAGE',
]);
