import pg from 'pg';
import type { QualifiedName } from './types.js';

/** An identifier quoted for SQL text (`"a""b"`), as the server reads it back (pg's own quoting). */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}

/** `"schema"."name"`, or `"name"` without a schema. */
export function quoteQualified(n: QualifiedName): string {
  return n.schema === undefined ? quoteIdent(n.name) : `${quoteIdent(n.schema)}.${quoteIdent(n.name)}`;
}

/** `{schema?, name}` from a parser name list (`[String, String…]`), decoded as the server decodes it. */
export function nameFromList(list: unknown): QualifiedName | undefined {
  if (!Array.isArray(list)) return undefined;
  const parts: string[] = [];
  for (const item of list) {
    const sval = (item as { String?: { sval?: unknown } } | null)?.String?.sval;
    if (typeof sval !== 'string') return undefined;
    parts.push(sval);
  }
  const name = parts.at(-1);
  if (name === undefined) return undefined;
  const schema = parts.length >= 2 ? parts.at(-2) : undefined;
  return schema === undefined ? { name } : { schema, name };
}

/** `schema.name` or `name`, for messages and keys (no quoting: names are shown as decoded). */
export function formatName(n: QualifiedName): string {
  return n.schema === undefined ? n.name : `${n.schema}.${n.name}`;
}

/** Add a name unless an equal one is already listed. */
export function addName(list: QualifiedName[], seen: Set<string>, n: QualifiedName): void {
  const key = `${n.schema ?? ''}\u0000${n.name}`;
  if (seen.has(key)) return;
  seen.add(key);
  list.push(n);
}

/** The operators BETWEEN and its variants call (the parser keeps the keyword as the name). */
const BETWEEN_OPERATORS: readonly QualifiedName[] = [{ name: '>=' }, { name: '<=' }];
/** IS [NOT] DISTINCT FROM and NULLIF compare with `=`. */
const EQUALITY: readonly QualifiedName[] = [{ name: '=' }];

/**
 * The operators an `A_Expr` invokes, by name, as the server will look them up. Operators resolve by
 * search_path and argument types like functions, so a user-defined `||` or `=` may run user code.
 */
export function operatorsOfExpr(kind: unknown, name: unknown): readonly QualifiedName[] {
  switch (kind) {
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return BETWEEN_OPERATORS;
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
    case 'AEXPR_NULLIF':
      return EQUALITY;
    default: {
      const n = nameFromList(name);
      return n === undefined ? [] : [n];
    }
  }
}
