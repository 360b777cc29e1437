/**
 * The names a piece of SQL reaches: functions it calls, operators it uses, relations it reads and
 * types it casts to. Used on the agent's statement and on the DBA's code it reaches (view
 * definitions, SQL function bodies, argument defaults, domain CHECKs, row-level security policies),
 * so the volatility check sees what that code calls (db/catalog/functions.ts, `volatileInReach`).
 */
import type { CodeReach, QualifiedName } from './types.js';
import { nameFromList, operatorsOfExpr } from './names.js';
import { parseStatements } from './parser.js';
import { visitObjects } from './walk.js';

export type { CodeReach };

export function emptyReach(): CodeReach {
  return { functions: [], operators: [], relations: [], types: [] };
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

export function qualifiedText(n: QualifiedName): string {
  return n.schema === undefined ? quoteIdent(n.name) : `${quoteIdent(n.schema)}.${quoteIdent(n.name)}`;
}

function keyOf(n: QualifiedName): string {
  return `${n.schema ?? ''}\u0000${n.name}`;
}

/** Add what `root` (a parse tree or part of one) reaches to `into` (iterative: trees can be deep). */
export function collectReach(root: unknown, into: CodeReach): void {
  const seen = new Set<string>([...into.functions.map((n) => `f${keyOf(n)}`), ...into.operators.map((n) => `o${keyOf(n)}`), ...into.relations.map((n) => `r${keyOf(n)}`), ...into.types.map((t) => `t${t}`)]);
  const add = (kind: 'f' | 'o' | 'r', list: QualifiedName[], n: QualifiedName | undefined): void => {
    if (n === undefined || seen.has(`${kind}${keyOf(n)}`)) return;
    seen.add(`${kind}${keyOf(n)}`);
    list.push(n);
  };
  visitObjects(root, (o) => {
    if (Array.isArray(o.funcname)) add('f', into.functions, nameFromList(o.funcname));
    if (typeof o.relname === 'string' && o.catalogname === undefined) {
      add('r', into.relations, typeof o.schemaname === 'string' ? { schema: o.schemaname, name: o.relname } : { name: o.relname });
    }
    if (typeof o.kind === 'string' && o.kind.startsWith('AEXPR_')) for (const n of operatorsOfExpr(o.kind, o.name)) add('o', into.operators, n);
    if (typeof o.subLinkType === 'string' && Array.isArray(o.operName)) add('o', into.operators, nameFromList(o.operName));
    const typeName = (o.typeName as { names?: unknown } | undefined)?.names;
    if (o.arg !== undefined && Array.isArray(typeName)) {
      // a TypeCast: the cast's function and, for a domain, its CHECK expressions run
      const n = nameFromList(typeName);
      if (n !== undefined && !seen.has(`t${qualifiedText(n)}`)) {
        seen.add(`t${qualifiedText(n)}`);
        into.types.push(qualifiedText(n));
      }
    }
  });
}

/**
 * What a CREATE FUNCTION statement (pg_get_functiondef) runs when called: its argument defaults
 * and its SQL-standard body (BEGIN ATOMIC / RETURN). Its own name, types and options are left out.
 */
export function functionDefinitionReach(definition: string, into: CodeReach): void {
  for (const raw of parseStatements(definition)) {
    const create = (raw.stmt as { CreateFunctionStmt?: { parameters?: unknown[]; sql_body?: unknown } } | undefined)?.CreateFunctionStmt;
    if (create === undefined) throw new Error('not a function definition');
    for (const p of create.parameters ?? []) collectReach((p as { FunctionParameter?: { defexpr?: unknown } }).FunctionParameter?.defexpr, into);
    collectReach(create.sql_body, into);
  }
}

/** What SQL text reaches (a view definition, a SQL function's body: one or more statements). */
export function sqlReach(sql: string, into: CodeReach): void {
  for (const raw of parseStatements(sql)) collectReach(raw.stmt, into);
}

/** What an expression reaches (a domain CHECK, a row-level security policy). */
export function expressionReach(expr: string, into: CodeReach): void {
  sqlReach(`select ${expr}`, into);
}

/** What a statement reaches by name (the agent's own SQL: already parsed). */
export function statementReach(stmt: unknown): CodeReach {
  const reach = emptyReach();
  collectReach(stmt, reach);
  return reach;
}
