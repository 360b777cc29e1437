/**
 * A small reader for the Bicep files under infra/: enough structure (resources, modules, params,
 * outputs, object keys) for tests to check the templates against the code without a Bicep
 * compiler. It understands comments, '…' strings with ${…} interpolation, ''' multi-line strings
 * and nested braces; it is not a full parser and does not try to be.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const INFRA = join(ROOT, 'infra');

export function listFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path, suffix));
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

export function rel(path: string): string {
  return relative(ROOT, path);
}

/** Source with comments blanked out (same length, so offsets still line up). */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      out += src.slice(i, stop);
      i = stop;
    } else if (c === "'") {
      const stop = skipString(src, i);
      out += src.slice(i, stop);
      i = stop;
    } else if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Index just past the single-quoted string that starts at `start` (handles \' and ${…}). */
function skipString(src: string, start: number): number {
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else if (src.startsWith('${', i)) i = matchClose(src, i + 1, '{', '}') + 1;
    else i++;
  }
  return src.length;
}

/** Index of the bracket closing the one at `open` (src[open] must be `openCh`). */
export function matchClose(src: string, open: number, openCh = '{', closeCh = '}'): number {
  let depth = 0;
  let i = open;
  while (i < src.length) {
    const c = src[i];
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      i = end < 0 ? src.length : end + 3;
      continue;
    }
    if (c === "'") {
      i = skipString(src, i);
      continue;
    }
    if (c === openCh) depth++;
    else if (c === closeCh) {
      depth--;
      if (depth === 0) return i;
    }
    i++;
  }
  throw new Error(`unbalanced ${openCh} at offset ${open}`);
}

/** The `{ … }` body that follows `from` (skipping a condition or loop header before it). */
function bodyAfter(src: string, from: number): { start: number; end: number } {
  let i = from;
  let parens = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === "'") {
      i = skipString(src, i);
      continue;
    }
    if (c === '(') parens++;
    else if (c === ')') parens--;
    else if (c === '{' && parens === 0) return { start: i, end: matchClose(src, i) };
    i++;
  }
  throw new Error(`no body after offset ${from}`);
}

export interface BicepResource {
  symbol: string;
  /** type as written: 'Microsoft.Storage/storageAccounts' or, nested, 'containers' */
  type: string;
  apiVersion: string | undefined;
  existing: boolean;
  condition: string | undefined;
  /** text between the braces, comments blanked */
  body: string;
  start: number;
  end: number;
}

export interface BicepModule {
  symbol: string;
  path: string;
  condition: string | undefined;
  body: string;
}

export interface BicepParam {
  name: string;
  type: string;
  defaultValue: string | undefined;
  secure: boolean;
}

export class BicepFile {
  readonly path: string;
  readonly source: string;
  /** source with comments blanked */
  readonly code: string;

  constructor(path: string) {
    this.path = path;
    this.source = readFileSync(path, 'utf8');
    this.code = stripComments(this.source);
  }

  get name(): string {
    return rel(this.path);
  }

  resources(): BicepResource[] {
    const out: BicepResource[] = [];
    const re = /^\s*resource\s+(\w+)\s+'([^'@]+)(?:@([^']+))?'\s+(existing\s+)?=\s*/gm;
    for (const m of this.code.matchAll(re)) {
      const after = (m.index ?? 0) + m[0].length;
      const { start, end } = bodyAfter(this.code, after);
      const header = this.code.slice(after, start).trim();
      const cond = /^if\s*\((.*)\)\s*$/s.exec(header);
      out.push({
        symbol: m[1] ?? '',
        type: m[2] ?? '',
        apiVersion: m[3],
        existing: m[4] !== undefined,
        condition: cond?.[1],
        body: this.code.slice(start + 1, end),
        start,
        end,
      });
    }
    return out;
  }

  /** Resources whose type (as written, or nested under a parent) ends with `typeSuffix`. */
  resourcesOfType(typeSuffix: string): BicepResource[] {
    return this.resources().filter((r) => r.type === typeSuffix || r.type.endsWith(`/${typeSuffix}`) || typeSuffix.endsWith(`/${r.type}`));
  }

  modules(): BicepModule[] {
    const out: BicepModule[] = [];
    const re = /^\s*module\s+(\w+)\s+'([^']+)'\s*=\s*/gm;
    for (const m of this.code.matchAll(re)) {
      const after = (m.index ?? 0) + m[0].length;
      const { start, end } = bodyAfter(this.code, after);
      const header = this.code.slice(after, start).trim();
      const cond = /^if\s*\((.*)\)\s*$/s.exec(header);
      out.push({ symbol: m[1] ?? '', path: m[2] ?? '', condition: cond?.[1], body: this.code.slice(start + 1, end) });
    }
    return out;
  }

  params(): BicepParam[] {
    const out: BicepParam[] = [];
    const re = /^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+))?$/gm;
    for (const m of this.code.matchAll(re)) {
      const before = this.code.slice(Math.max(0, (m.index ?? 0) - 400), m.index ?? 0);
      const decorators = before.split(/\n\s*\n/).pop() ?? '';
      out.push({ name: m[1] ?? '', type: m[2] ?? '', defaultValue: m[3]?.trim(), secure: /@secure\(\)\s*(@[^\n]*\s*)*$/.test(decorators) });
    }
    return out;
  }

  outputs(): string[] {
    return [...this.code.matchAll(/^output\s+(\w+)\s+/gm)].map((m) => m[1] ?? '');
  }

  /** The body of `var <name> = { … }`. */
  varObject(name: string): string {
    const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(this.code);
    if (!m) throw new Error(`${this.name}: no var ${name}`);
    const { start, end } = bodyAfter(this.code, m.index + m[0].length);
    return this.code.slice(start + 1, end);
  }
}

/** Top-level `key: value` pairs of an object body (values as raw text, multi-line values whole). */
export function objectEntries(body: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  let depth = 0;
  let lineStart = true;
  while (i < body.length) {
    const c = body[i];
    if (c === "'" || body.startsWith("'''", i)) {
      if (lineStart && depth === 0) {
        const m = /^'([^']*)'\s*:\s*/.exec(body.slice(i));
        if (m) {
          const valueStart = i + m[0].length;
          const valueEnd = valueEndAt(body, valueStart);
          out.set(m[1] ?? '', body.slice(valueStart, valueEnd).trim());
          i = valueEnd;
          continue;
        }
      }
      i = body.startsWith("'''", i) ? body.indexOf("'''", i + 3) + 3 : skipString(body, i);
      lineStart = false;
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    } else if (lineStart && depth === 0 && /\w/.test(c ?? '')) {
      const m = /^(\w+)\s*:\s*/.exec(body.slice(i));
      if (m) {
        const valueStart = i + m[0].length;
        const valueEnd = valueEndAt(body, valueStart);
        out.set(m[1] ?? '', body.slice(valueStart, valueEnd).trim());
        i = valueEnd;
        lineStart = false;
        continue;
      }
    }
    if (!/\s/.test(c ?? '')) lineStart = false;
    i++;
  }
  return out;
}

/** End of a value starting at `from`: the newline at bracket depth 0. */
function valueEndAt(body: string, from: number): number {
  let i = from;
  let depth = 0;
  while (i < body.length) {
    const c = body[i];
    if (body.startsWith("'''", i)) {
      const end = body.indexOf("'''", i + 3);
      i = end < 0 ? body.length : end + 3;
      continue;
    }
    if (c === "'") {
      i = skipString(body, i);
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (c === '\n' && depth === 0) return i;
    i++;
  }
  return body.length;
}

/** Value of a property path (`properties.enableRbacAuthorization`) inside an object body. */
export function propertyAt(body: string, path: string): string | undefined {
  let current: string | undefined = body;
  for (const key of path.split('.')) {
    if (current === undefined) return undefined;
    const value = objectEntries(current).get(key);
    if (value === undefined) return undefined;
    current = value.startsWith('{') && value.endsWith('}') ? value.slice(1, -1) : value;
  }
  return current?.trim();
}

export function loadInfra(): BicepFile[] {
  return listFiles(INFRA, '.bicep').map((p) => new BicepFile(p));
}
