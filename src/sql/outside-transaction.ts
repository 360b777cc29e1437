/**
 * Statements PostgreSQL runs only outside a transaction block (and not in a pipeline of several
 * statements): VACUUM, the CONCURRENTLY forms of CREATE/DROP/REINDEX INDEX and DETACH PARTITION,
 * and the subscription and server-level commands. The identity preamble (db/identity.ts) cannot
 * share their transaction, so they run without it.
 */
const ALWAYS = new Set(['VacuumStmt', 'CreateSubscriptionStmt', 'AlterSubscriptionStmt', 'DropSubscriptionStmt', 'CreatedbStmt', 'DropdbStmt', 'AlterSystemStmt', 'CreateTableSpaceStmt', 'DropTableSpaceStmt']);

export function runsOnlyOutsideTransaction(stmt: unknown): boolean {
  if (stmt === null || typeof stmt !== 'object') return false;
  const type = Object.keys(stmt)[0];
  if (type !== undefined && ALWAYS.has(type)) return true;
  // `concurrent: true` (CREATE/DROP INDEX, DETACH PARTITION) or a `concurrently` option (REINDEX).
  const text = JSON.stringify(stmt);
  return /"concurrent":true/.test(text) || /"defname":"concurrently"/i.test(text);
}
