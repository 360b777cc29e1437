/**
 * The PostgreSQL parser (libpg-query, WASM). Loading the module costs ~40 ms, so it happens once
 * at start-up; after that `parseStatements` is synchronous.
 */
import { loadModule, parseSync, scanSync } from 'libpg-query';
import type { RawStmt } from '@pgsql/types';
import { BrokerError } from '../errors.js';
import { tooDeep } from './walk.js';

let loading: Promise<void> | undefined;
let loaded = false;

/** Load the parser's WASM module once; later calls return the same promise. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true;
    },
    (e: unknown) => {
      loading = undefined; // let a later call retry
      throw e;
    },
  );
  return loading;
}

/** The longest piece of the agent's own SQL an error message may quote back. */
const MAX_QUOTED = 40;

/**
 * Parse SQL into its top-level statements, exactly as the server would split them.
 * Empty statements (`;;`, comments only) yield nothing. Every failure is a `sql_parse_error`.
 */
export function parseStatements(sql: string): RawStmt[] {
  if (!loaded) {
    throw new BrokerError('internal_error', 'The SQL parser is not loaded yet; call loadSqlParser() at start-up.');
  }
  if (sql.trim() === '') return [];
  let stmts: RawStmt[];
  try {
    stmts = parseSync(sql).stmts ?? [];
  } catch (e) {
    throw toParseError(e);
  }
  // Cheap pre-check: without a backslash before a quote nothing can be ambiguous.
  if (sql.includes("\\'")) refuseAmbiguousBackslash(sql);
  return stmts;
}

/**
 * The parser reads '…' strings as the server does with standard_conforming_strings = on, where a
 * backslash is an ordinary character. A server (database, role) configured with it off reads \'
 * as an escaped quote instead, so the string would end elsewhere and one statement for us could
 * be two for the server. Such literals are refused; E'…', dollar quotes and parameters are not
 * ambiguous.
 */
function refuseAmbiguousBackslash(sql: string): void {
  let tokens: { text: string; tokenName: string }[];
  try {
    tokens = scanSync(sql).tokens;
  } catch {
    throw new BrokerError('sql_parse_error', 'PostgreSQL cannot tokenize this SQL. Fix the syntax and send exactly one PostgreSQL statement.');
  }
  for (const t of tokens) {
    if (t.tokenName === 'SCONST' && t.text.startsWith("'") && t.text.includes("\\'")) {
      throw new BrokerError(
        'sql_parse_error',
        "A '…' string literal contains a backslash before a quote, which PostgreSQL reads differently depending on standard_conforming_strings. Write the value as E'…' (\\\\ for a backslash, \\' or '' for a quote), as a $$…$$ string, or pass it as a parameter.",
        { details: { ambiguousBackslash: true } },
      );
    }
  }
}

function toParseError(e: unknown): BrokerError {
  // Very deep nesting exhausts the parser's stack or memory; the module stays usable afterwards.
  if (e instanceof RangeError || (e instanceof Error && /memory exhausted|stack depth/i.test(e.message))) {
    return tooDeep();
  }
  const raw = e instanceof Error ? e.message : String(e);
  const details = (e as { sqlDetails?: { cursorPosition?: number } } | undefined)?.sqlDetails;
  const position = typeof details?.cursorPosition === 'number' ? details.cursorPosition + 1 : undefined;
  // Quote no more of the agent's text than needed to find the error.
  const message = raw.replace(/"([^"]*)"/, (_m, near: string) => `"${near.length > MAX_QUOTED ? `${near.slice(0, MAX_QUOTED)}…` : near}"`).slice(0, 200);
  return new BrokerError(
    'sql_parse_error',
    `PostgreSQL cannot parse this SQL: ${message}${position === undefined ? '' : ` (at character ${position})`}. Fix the syntax and send exactly one PostgreSQL statement.`,
    { details: position === undefined ? {} : { position } },
  );
}
