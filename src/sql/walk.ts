/**
 * An iterative walk over libpg-query's JSON parse tree. Iterative on purpose: the parser accepts
 * expressions thousands of levels deep, and a recursive walk would overflow the JS stack on them.
 *
 * The tree has two shapes of node: fields typed `Node` are wrapped (`{"RangeVar": {…}}`), while
 * fields typed with a concrete struct are not (`UpdateStmt.relation` is the RangeVar's fields
 * directly). `TYPED_FIELDS` names the unwrapped fields whose type the analyzer cares about.
 */

import { BrokerError } from '../errors.js';

/**
 * The deepest parse tree (in JSON levels, about two per nested expression) the analyzer accepts.
 * Deeper trees may or may not survive the parser depending on the stack it runs on; this limit
 * makes the refusal deterministic and stays well inside what the server itself accepts.
 */
export const MAX_TREE_DEPTH = 4000;

/** CTE names visible at a point of the tree (an unqualified table name there may mean the CTE). */
export type CteScope = ReadonlySet<string>;

export interface Visit {
  /** node type, e.g. `SelectStmt`, `RangeVar` */
  type: string;
  /** the node's fields */
  node: Record<string, unknown>;
  /** the field of the parent that holds this node (for list elements: the list's field) */
  field: string | undefined;
  /** type of the nearest enclosing typed node */
  parentType: string | undefined;
  scope: CteScope;
  /** whether the node came wrapped (`{"Type": {…}}`) rather than as a typed struct field */
  wrapped: boolean;
}

const TYPED_FIELDS: Readonly<Record<string, string>> = {
  larg: 'SelectStmt',
  rarg: 'SelectStmt',
  relation: 'RangeVar',
  rel: 'RangeVar',
  view: 'RangeVar',
  typevar: 'RangeVar',
  sequence: 'RangeVar',
  table: 'RangeVar',
  pktable: 'RangeVar',
  constrrel: 'RangeVar',
  identitySequence: 'RangeVar',
  intoClause: 'IntoClause',
  into: 'IntoClause',
  withClause: 'WithClause',
  onConflictClause: 'OnConflictClause',
  returningClause: 'ReturningClause',
  funccall: 'FuncCall',
  infer: 'InferClause',
  over: 'WindowDef',
  typeName: 'TypeName',
  search_clause: 'CTESearchClause',
  cycle_clause: 'CTECycleClause',
};

const EMPTY_SCOPE: CteScope = new Set<string>();

interface Frame {
  value: unknown;
  field: string | undefined;
  parentType: string | undefined;
  scope: CteScope;
  depth: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{"Type": {…}}` → ['Type', {…}], else undefined. */
function unwrap(obj: Record<string, unknown>): [string, Record<string, unknown>] | undefined {
  let only: string | undefined;
  for (const k in obj) {
    if (only !== undefined) return undefined;
    only = k;
  }
  if (only === undefined) return undefined;
  const code = only.charCodeAt(0);
  if (code < 65 || code > 90) return undefined; // fields are lower-case; node types start upper-case
  const inner = obj[only];
  return isObject(inner) ? [only, inner] : undefined;
}

/** Call `visit` for every typed node under `root` (root included), in no particular order. */
export function walk(root: unknown, visit: (v: Visit) => void): void {
  const stack: Frame[] = [{ value: root, field: undefined, parentType: undefined, scope: EMPTY_SCOPE, depth: 0 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value } = frame;
    if (frame.depth > MAX_TREE_DEPTH) throw tooDeep();
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'object' && item !== null) stack.push({ ...frame, value: item, depth: frame.depth + 1 });
      }
      continue;
    }
    if (!isObject(value)) continue;

    const wrapped = unwrap(value);
    const hinted = wrapped === undefined && frame.field !== undefined ? TYPED_FIELDS[frame.field] : undefined;
    const type = wrapped?.[0] ?? hinted;
    const node = wrapped?.[1] ?? value;
    if (type !== undefined) {
      visit({ type, node, field: frame.field, parentType: frame.parentType, scope: frame.scope, wrapped: wrapped !== undefined });
    }
    const parentType = type ?? frame.parentType;

    let scope = frame.scope;
    const withClause = type === undefined ? undefined : node['withClause'];
    if (isObject(withClause)) {
      scope = pushWithClause(stack, withClause, frame, type, visit);
    }
    for (const field in node) {
      if (field === 'withClause' && withClause !== undefined) continue;
      const child = node[field];
      if (typeof child === 'object' && child !== null) stack.push({ value: child, field, parentType, scope, depth: frame.depth + 1 });
    }
  }
}

/**
 * Visit a WITH clause: a CTE's body sees the CTEs before it (all of them when RECURSIVE); the
 * statement that owns the WITH sees all of them. Returns the owner's scope.
 */
function pushWithClause(stack: Frame[], withClause: Record<string, unknown>, owner: Frame, ownerType: string | undefined, visit: (v: Visit) => void): CteScope {
  const outer = owner.scope;
  visit({ type: 'WithClause', node: withClause, field: 'withClause', parentType: ownerType, scope: outer, wrapped: false });
  const ctes = Array.isArray(withClause['ctes']) ? withClause['ctes'] : [];
  const names: string[] = [];
  for (const cte of ctes) {
    const name = isObject(cte) && isObject(cte['CommonTableExpr']) ? cte['CommonTableExpr']['ctename'] : undefined;
    if (typeof name === 'string') names.push(name);
  }
  const all = new Set([...outer, ...names]);
  const recursive = withClause['recursive'] === true;
  ctes.forEach((cte, i) => {
    const visible = recursive ? all : new Set([...outer, ...names.slice(0, i)]);
    stack.push({ value: cte, field: 'ctes', parentType: 'WithClause', scope: visible, depth: owner.depth + 3 });
  });
  return all;
}

/** Whether a node of `type` occurs anywhere under `root` (iterative, like `walk`). */
export function containsNodeType(root: unknown, type: string): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item);
    } else if (isObject(v)) {
      for (const k in v) {
        if (k === type) return true;
        const child = v[k];
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    }
  }
  return false;
}

export function tooDeep(): BrokerError {
  return new BrokerError(
    'sql_parse_error',
    'The statement is nested too deeply to analyse. Flatten the expression (fewer nested parentheses, sub-queries or operators) and try again.',
    { details: { tooDeep: true } },
  );
}

/**
 * Visit every object under `root` (arrays are walked through, iteratively: parse trees can be very
 * deep). Stops and returns true as soon as `visit` returns true.
 */
export function visitObjects(root: unknown, visit: (o: Record<string, unknown>) => boolean | void): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (visit(o) === true) return true;
    for (const x of Object.values(o)) if (x !== null && typeof x === 'object') stack.push(x);
  }
  return false;
}
