/**
 * PostgreSQL behind the Engine interface: libpg-query for analysis, the pg_catalog readers of
 * db/catalog, node-postgres for execution, SQLSTATEs for errors, the AST lineage of masking/.
 */
import { CATALOG_PROFILE, CATALOG_POOL_SIZE } from './catalog-pool.js';
import type { Engine, EnginePools } from './types.js';
import type { Analysis, QualifiedName } from '../sql/types.js';
import type { ProfileConfig } from '../policy/schema.js';
import type { Queryable } from '../db/types.js';
import { PoolRegistry, type PoolHandle } from '../db/pools.js';
import { loadSqlParser } from '../sql/parser.js';
import { analyzeSql } from '../sql/analyze.js';
import { checkParamCount } from '../sql/placeholders.js';
import { estimateAffectedRows } from '../sql/estimate.js';
import { quoteIdent, quoteQualified } from '../sql/names.js';
import { addName } from '../sql/names.js';
import { unknownFunctions } from '../sql/function-names.js';
import { runsOnlyOutsideTransaction } from '../sql/outside-transaction.js';
import { createConnectionCatalog, type ConnectionCatalog } from '../db/catalog/index.js';
import type { FunctionCatalog } from '../db/catalog/functions.js';
import { executeStatement } from '../db/execute.js';
import { databaseErrorInfo, UNAVAILABLE_SQLSTATE } from '../db/errors.js';
import { withJitPool } from '../approval/workflow/jit-pool.js';
import { planMasking, prepareOrigins, maskedColumnsOf } from '../masking/index.js';



/**
 * Look-ups read-only on the connection's login role, or as `role` when given: a name resolves on
 * the search_path of the role that runs the statement ("$user" is that role).
 */
function catalogQueryable(pools: EnginePools<PoolHandle>, connection: string, role: string | null): Queryable {
  const profile: ProfileConfig = role === null ? CATALOG_PROFILE : { ...CATALOG_PROFILE, dbRole: role };
  const poolName = role === null ? '$catalog' : `$catalog:${role}`;
  return {
    query: async <R extends Record<string, unknown>>(text: string, values?: unknown[]) => {
      const handle = await pools.get(connection, poolName, profile, 'read', CATALOG_POOL_SIZE);
      const r = await handle.pool.query<R>(text, values);
      return { rows: r.rows };
    },
  };
}

/**
 * The volatile functions a statement may call: by name, behind the operators it uses, and (reads,
 * where volatility decides) in the DBA's code it reaches: views, SQL function bodies and defaults,
 * domain CHECKs, casts, row-level security policies (db/catalog/functions.ts, volatileInReach).
 * The allow-lists are applied by the policy (decide.ts).
 */
async function volatileCalls(catalog: FunctionCatalog, analysis: Analysis): Promise<QualifiedName[]> {
  const reach = analysis.kind === 'read' ? analysis.reach : undefined;
  const reaches = reach !== undefined && reach.relations.length + reach.functions.length + reach.types.length > 0;
  if (analysis.functions.length === 0 && analysis.operators.length === 0 && !reaches) return [];
  const [named, behindOperators, inReach] = await Promise.all([
    analysis.functions.length > 0 ? catalog.volatileAmong(analysis.functions) : Promise.resolve([]),
    catalog.volatileBehindOperators(analysis.operators),
    reaches ? catalog.volatileInReach(reach) : Promise.resolve([]),
  ]);
  if (behindOperators.length === 0 && inReach.length === 0) return named;
  const out = [...named];
  const seen = new Set(out.map((n) => `${n.schema ?? ''}\u0000${n.name}`));
  for (const n of [...behindOperators, ...inReach]) addName(out, seen, n);
  return out;
}

export const postgresEngine: Engine<Analysis, PoolHandle, ConnectionCatalog> = {
  name: 'postgres',
  dialect: 'PostgreSQL',
  ready: loadSqlParser,
  analyze: analyzeSql,
  checkParams: checkParamCount,
  createPools: (credentialsFor, poolSize) => new PoolRegistry(credentialsFor, poolSize),
  createCatalog: (pools, connection, role) => createConnectionCatalog({ asRole: catalogQueryable(pools, connection, role), asLogin: catalogQueryable(pools, connection, null), role }),
  disallowedCalls: (catalog, analysis) => volatileCalls(catalog.functions, analysis),
  unknownFunctions: (handle, candidates) => unknownFunctions(handle.pool, candidates),
  planMasking: (analysis, input, catalog) => planMasking(analysis, input, catalog.relations),
  prepareOrigins,
  maskedColumns: (relation, input, catalog) => maskedColumnsOf(relation, input, catalog.relations),
  estimateAffectedRows: (handle, analysis, sql, params) => estimateAffectedRows(handle.pool, analysis, sql, params),
  execute(handle, request, analysis) {
    // Statements that cannot run in a transaction block (VACUUM, CREATE DATABASE…) run without the
    // transaction-local identity (db/identity.ts).
    if (request.identity === undefined || !runsOnlyOutsideTransaction(analysis.stmt.stmt)) return executeStatement(handle, request);
    const { identity: _omitted, ...rest } = request;
    return executeStatement(handle, rest);
  },
  withApprovedHandle: withJitPool,
  databaseError: databaseErrorInfo,
  isUnavailable: (info) => UNAVAILABLE_SQLSTATE.test(info.sqlstate ?? ''),
  quoteIdent,
  quoteQualified,
};
