/**
 * How both engines judge a query or DML statement by what its parts do, once their classifier has
 * walked its tree: the counts below are the walk's, the judgement is the same for every engine.
 */
import { RISK_MESSAGES, risk, type Risk } from './risks.js';

/** What a walk over a query or DML statement counted. */
export interface QueryWalkFacts {
  /** statements in it that change rows, and those of them nested in another (a CTE, a sub-query) */
  writes: number;
  nestedWrites: number;
  /** those that may change any number of rows (UPDATE, DELETE, INSERT … SELECT…) */
  bulkWrites: number;
  updatesOrDeletes: number;
  /** an UPDATE or DELETE without a WHERE clause that refers to a column */
  missingWhere: boolean;
  /** a locking clause (FOR UPDATE, FOR SHARE…) */
  locking: boolean;
  /** node types or clauses the classifier does not know */
  unrecognised: ReadonlySet<string>;
}

/** It writes, or locks the rows it reads (`locking_clause` added to `risks`): a write; else a read. */
export function readOrWrite(c: QueryWalkFacts, risks: Risk[]): 'read' | 'write' {
  if (c.writes > 0) return 'write';
  if (c.locking) {
    risks.push(risk('locking_clause', RISK_MESSAGES.locking_clause));
    return 'write';
  }
  return 'read';
}

/** Risks of its parts: a data-changing statement nested in it, constructs not recognised (fail closed). */
export function partRisks(c: QueryWalkFacts): Risk[] {
  const out: Risk[] = [];
  if (c.nestedWrites > 0) out.push(risk('data_modifying_cte', RISK_MESSAGES.data_modifying_cte));
  if (c.unrecognised.size > 0) {
    out.push(
      risk(
        'unrecognised_construct',
        `The statement uses constructs the broker does not recognise (${[...c.unrecognised].sort().join(', ')}), so it is refused (fail closed). Rewrite it with plain SELECT/INSERT/UPDATE/DELETE syntax.`,
      ),
    );
  }
  return out;
}

/** `hasWhere` (when it updates or deletes) and `needsRowEstimate`, for the policy. */
export function rowFacts(c: QueryWalkFacts): { hasWhere?: boolean; needsRowEstimate: boolean } {
  return c.updatesOrDeletes > 0 ? { hasWhere: !c.missingWhere, needsRowEstimate: c.bulkWrites > 0 } : { needsRowEstimate: c.bulkWrites > 0 };
}
