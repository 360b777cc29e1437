/**
 * MySQL's lexical rules, applied before node-sql-parser sees the text. The parser is approximate
 * (it reads `--1` as a comment where the server reads two minus signs, and it drops `/*! … *\/`
 * version comments the server executes), so where statements begin and end, what is a string and
 * what is a comment is decided here, by the server's rules, and the parser is handed a text whose
 * comments are blanked out: it cannot disagree about what they hide.
 *
 * Refused here (BrokerError, 400):
 * - NUL characters (`invalid_request`, as for PostgreSQL);
 * - executable comments `/*! … *\/`, `/*M! … *\/` and optimizer hints `/*+ … *\/` (a hint such as
 *   MAX_EXECUTION_TIME or SET_VAR overrides the broker's session limits);
 * - `--` not followed by a space or control character (a comment to most tools, arithmetic to
 *   the server), unterminated strings, identifiers and comments (`sql_parse_error`);
 * - unquoted words beginning with a digit other than integers and `0x…` hexadecimals (`0X1` is a
 *   name to the server and a literal to the parser, `1e3` the other way round);
 * - text whose strings end in different places depending on the server's NO_BACKSLASH_ESCAPES or
 *   ANSI_QUOTES mode (`'a\';DROP …`): the broker cannot know which one the server applies;
 * - the client-side `DELIMITER` command; more than one statement (`multiple_statements`).
 */
import { BrokerError } from '../../errors.js';

export type TokenType = 'word' | 'number' | 'string' | 'ident' | 'punct' | 'param';

export interface Token {
  type: TokenType;
  /** the exact source text of the token (quotes included) */
  text: string;
  start: number;
  end: number;
  /** words: the text upper-cased, for keyword tests */
  upper: string;
}

export interface MysqlScan {
  /** the tokens of the one statement (comments, whitespace and a trailing `;` left out) */
  tokens: Token[];
  /** the SQL with every comment blanked (newlines kept, so positions match the original) */
  parserText: string;
  /** `?` placeholders outside strings, identifiers and comments */
  placeholders: number;
}

interface Span {
  start: number;
  end: number;
}

interface LexResult {
  tokens: Token[];
  comments: Span[];
}

class LexFailure {
  constructor(
    readonly reason: string,
    readonly message: string,
  ) {}
}

const MULTI_CHAR_PUNCT = [':=', '<=>', '->>', '->', '<=', '>=', '<>', '!=', '<<', '>>', '&&', '||'];

/**
 * The unquoted words beginning with a digit that the server and node-sql-parser read alike: digits
 * (an integer) and `0x` with hexadecimal digits. Any other (`0X1`, `0x1g`, `0x`: names to the
 * server, a hex literal to the parser; `1e3`, `0b1`: numbers to the server, names to the parser;
 * `2fa`) is refused.
 */
const PLAIN_NUMBER = /^(?:[0-9]+|0x[0-9a-fA-F]+)$/;

function isWordChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36 || code >= 0x80;
}

/** The server's test after `--`: whitespace or a control character (or the end of the text) starts a comment. */
/** Whether `--` at `i` starts a comment, as the server reads it (the binder of execute.ts asks the same). */
export function startsDashComment(sql: string, i: number): boolean {
  if (i + 2 >= sql.length) return true;
  const c = sql.charCodeAt(i + 2);
  return c <= 32 || c === 127;
}

function lineNumber(sql: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < sql.length; i++) if (sql.charCodeAt(i) === 10) line++;
  return line;
}

function where(sql: string, offset: number): string {
  return `at offset ${offset} (line ${lineNumber(sql, offset)})`;
}

/**
 * One pass of the lexer. `backslashEscapes` is the server's default; without it (NO_BACKSLASH_ESCAPES)
 * a backslash is an ordinary character in strings, and double-quoted text may be an identifier
 * (ANSI_QUOTES), where a backslash is ordinary too.
 */
function lex(sql: string, backslashEscapes: boolean): LexResult | LexFailure {
  const tokens: Token[] = [];
  const comments: Span[] = [];
  const n = sql.length;
  let i = 0;
  const push = (type: TokenType, start: number, end: number): void => {
    const text = sql.slice(start, end);
    tokens.push({ type, text, start, end, upper: type === 'word' ? text.toUpperCase() : text });
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const ch = sql[i]!;
    if (c <= 32 || c === 127) {
      i++;
      continue;
    }
    if (ch === '#' || (ch === '-' && sql[i + 1] === '-' && startsDashComment(sql, i))) {
      const nl = sql.indexOf('\n', i);
      const end = nl < 0 ? n : nl;
      comments.push({ start: i, end });
      i = end;
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      return new LexFailure(
        'double_dash',
        `"--" ${where(sql, i)} is not followed by a space: MySQL reads it as two minus signs, other tools as a comment, so the broker refuses it. Put a space after "--" to start a comment, or write "- -" for two minus signs.`,
      );
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const next = sql[i + 2];
      if (next === '!' || (next === 'M' && sql[i + 3] === '!')) {
        return new LexFailure(
          'executable_comment',
          `The SQL contains an executable comment ("/*!" or "/*M!") ${where(sql, i)}: MySQL and MariaDB run the text inside it as SQL, so the broker refuses it. Write the SQL without the comment markers.`,
        );
      }
      if (next === '+') {
        return new LexFailure(
          'optimizer_hint',
          `The SQL contains an optimizer hint ("/*+") ${where(sql, i)}: hints such as MAX_EXECUTION_TIME and SET_VAR override the broker's limits for the statement, so they are refused. Remove the hint.`,
        );
      }
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) return new LexFailure('unterminated_comment', `A "/*" comment ${where(sql, i)} is never closed. Close it with "*/" or remove it.`);
      comments.push({ start: i, end: close + 2 });
      i = close + 2;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') {
      const escapes = ch !== '`' && backslashEscapes;
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = sql[j]!;
        if (escapes && d === '\\') {
          j += 2;
          continue;
        }
        if (d === ch) {
          if (sql[j + 1] === ch) {
            j += 2;
            continue;
          }
          closed = true;
          j += 1;
          break;
        }
        j++;
      }
      if (!closed) {
        const what = ch === '`' ? 'quoted identifier' : 'string';
        return new LexFailure('unterminated_string', `A ${what} opened with ${ch} ${where(sql, i)} is never closed. Close it, or pass the value as a ? parameter.`);
      }
      push(ch === '`' ? 'ident' : 'string', i, j);
      i = j;
      continue;
    }
    if (ch === '?') {
      push('param', i, i + 1);
      i++;
      continue;
    }
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(sql.charCodeAt(j))) j++;
      if (c >= 48 && c <= 57 && !PLAIN_NUMBER.test(sql.slice(i, j))) {
        const word = sql.slice(i, j);
        return new LexFailure(
          'ambiguous_number',
          `"${word}" ${where(sql, i)} begins with a digit: the server and the broker's parser read such a word differently (0X1 and 0x1g are names to the server, 1e3 and 0b1 are numbers), so the broker refuses it. Quote a name in backquotes (\`${word.replaceAll('`', '``')}\`), write a hexadecimal value as 0x1f or X'1f', a bit value as b'101', and a number in plain decimals (1500, 0.5).`,
        );
      }
      push(c >= 48 && c <= 57 ? 'number' : 'word', i, j);
      i = j;
      continue;
    }
    const multi = MULTI_CHAR_PUNCT.find((p) => sql.startsWith(p, i));
    const len = multi?.length ?? 1;
    push('punct', i, i + len);
    i += len;
  }
  return { tokens, comments };
}

function sameSpans(a: LexResult, b: LexResult): boolean {
  if (a.tokens.length !== b.tokens.length || a.comments.length !== b.comments.length) return false;
  for (let k = 0; k < a.tokens.length; k++) {
    const x = a.tokens[k]!;
    const y = b.tokens[k]!;
    if (x.start !== y.start || x.end !== y.end || x.type !== y.type) return false;
  }
  for (let k = 0; k < a.comments.length; k++) {
    if (a.comments[k]!.start !== b.comments[k]!.start || a.comments[k]!.end !== b.comments[k]!.end) return false;
  }
  return true;
}

function parseError(f: LexFailure): BrokerError {
  return new BrokerError('sql_parse_error', f.message, { reasons: [{ code: f.reason, message: f.message }] });
}

/**
 * Scan one MySQL statement by the server's lexical rules. Throws BrokerError `invalid_request` (NUL),
 * `sql_parse_error` (the refusals above, or no statement) or `multiple_statements`.
 */
export function scanMysql(sql: string): MysqlScan {
  const nul = sql.indexOf('\u0000');
  if (nul >= 0) {
    const message = `The SQL contains a NUL character (U+0000) at offset ${nul}, which the broker refuses. Remove it; pass binary data as a ? parameter.`;
    throw new BrokerError('invalid_request', message, { reasons: [{ code: 'nul_character', message }] });
  }
  const lexed = lex(sql, true);
  if (lexed instanceof LexFailure) throw parseError(lexed);
  const plain = lex(sql, false);
  if (plain instanceof LexFailure || !sameSpans(lexed, plain)) {
    const message =
      'A backslash inside a quoted string or identifier changes where it ends depending on the server\'s sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES), so the broker cannot tell what would run. Double a quote to escape it (\'\' inside \'…\') or pass the value as a ? parameter.';
    throw new BrokerError('sql_parse_error', message, { reasons: [{ code: 'ambiguous_backslash_escape', message }] });
  }

  // Split on `;` outside strings and comments: the segments that hold any token are statements.
  const statements: Token[][] = [[]];
  for (const t of lexed.tokens) {
    if (t.type === 'punct' && t.text === ';') statements.push([]);
    else statements[statements.length - 1]!.push(t);
  }
  const nonEmpty = statements.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) {
    throw new BrokerError('sql_parse_error', 'The SQL contains no statement (only whitespace, comments or semicolons). Send exactly one statement.');
  }
  for (const s of nonEmpty) {
    if (s[0]!.upper === 'DELIMITER') {
      const message = 'DELIMITER is a command of the mysql command-line client, not SQL. Send exactly one statement without it (no trailing delimiter needed).';
      throw new BrokerError('sql_parse_error', message, { reasons: [{ code: 'client_command', message }] });
    }
  }
  if (nonEmpty.length > 1) {
    throw new BrokerError('multiple_statements', `The SQL contains ${nonEmpty.length} statements; the broker runs exactly one per request. Send each statement as its own request.`, {
      details: { statements: nonEmpty.length },
    });
  }
  // A `;` may only end the statement (`select 1;`), never start it.
  if (statements[0]!.length === 0) {
    throw new BrokerError('sql_parse_error', 'The SQL starts with ";". Send exactly one statement.');
  }

  const chars = sql.split('');
  for (const c of lexed.comments) for (let k = c.start; k < c.end; k++) if (chars[k] !== '\n') chars[k] = ' ';
  const tokens = nonEmpty[0]!;
  return { tokens, parserText: chars.join(''), placeholders: tokens.filter((t) => t.type === 'param').length };
}

/** An identifier token's name: backquotes removed and doubled backquotes undone; words as written. */
export function identifierName(t: Token): string {
  if (t.type === 'ident') return t.text.slice(1, -1).replace(/``/g, '`');
  return t.text;
}
