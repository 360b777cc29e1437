import type { QualifiedName } from './types.js';

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
