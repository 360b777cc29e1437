/**
 * MySQL and MariaDB behind the Engine interface (see ./types.ts for the parts): the lexical guard
 * and node-sql-parser for analysis, the read allow-list of built-in functions, information_schema
 * for the catalog, mysql2 for execution, lineage over the AST plus origins by name for masking.
 */
import { CATALOG_PROFILE, CATALOG_POOL_SIZE } from '../catalog-pool.js';
import type { Engine } from '../types.js';
import type { MysqlAnalysis, MysqlCatalog } from './types.js';
import type { QualifiedName } from '../../sql/types.js';
import { BrokerError } from '../../errors.js';
import { chooseMasker } from '../../masking/rules/index.js';
import type { MaskerName } from '../../policy/schema.js';
import { analyzeMysql, checkMysqlParams } from './analyze.js';
import { disallowedMysqlCalls } from './functions.js';
import { createMysqlCatalog } from './catalog.js';
import { MysqlPoolRegistry, mysqlQueryable, type MysqlHandle } from './pools.js';
import { executeMysql, estimateMysqlRows } from './execute.js';
import { isMysqlUnavailable, mysqlErrorInfo } from './errors.js';
import { planMysqlMasking, prepareMysqlOrigins } from './masking.js';
import { withMysqlJitHandle } from './jit.js';


/**
 * The catalog of a connection, opened on first use: the default database is known only once the
 * connection's target (a URL in a secret, perhaps) has been read.
 */
class DeferredMysqlCatalog implements MysqlCatalog {
  private opened: Promise<MysqlCatalog> | undefined;
  private catalog: MysqlCatalog | undefined;

  constructor(private readonly open: () => Promise<MysqlCatalog>) {}

  resolve(): Promise<MysqlCatalog> {
    if (!this.opened) {
      const opening = this.open().then((c) => (this.catalog = c));
      this.opened = opening;
      // A failure (database down) is not kept: the next request tries again.
      opening.catch(() => {
        if (this.opened === opening) this.opened = undefined;
      });
    }
    return this.opened;
  }

  get defaultSchema(): string {
    if (!this.catalog) throw new BrokerError('internal_error', 'The MySQL catalog was read before it was opened.');
    return this.catalog.defaultSchema;
  }
  get generation(): number {
    return this.catalog?.generation ?? 0;
  }
  async relation(name: QualifiedName) {
    return (await this.resolve()).relation(name);
  }
  async routines(names: readonly QualifiedName[]) {
    return (await this.resolve()).routines(names);
  }
  async schema() {
    return (await this.resolve()).schema();
  }
  invalidate(): void {
    this.catalog?.invalidate();
  }
}

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

export const mysqlEngine: Engine<MysqlAnalysis, MysqlHandle, DeferredMysqlCatalog> = {
  name: 'mysql',
  dialect: 'MySQL',
  ready: async () => {},
  analyze: analyzeMysql,
  checkParams: checkMysqlParams,
  createPools: (credentialsFor, poolSize, config) => new MysqlPoolRegistry(credentialsFor, poolSize, (name) => config(name)?.credentials.entra === true),
  createCatalog: (pools, connection) =>
    // MySQL has no per-statement role switch the catalog could take: it reads as the login user.
    new DeferredMysqlCatalog(async () => {
      const handle = await pools.get(connection, '$catalog', CATALOG_PROFILE, 'read', CATALOG_POOL_SIZE);
      const target = await handle.credentials.target();
      return createMysqlCatalog(mysqlQueryable(handle), target.database);
    }),
  // MySQL has no volatility catalog: a read may call only the allow-listed built-ins (functions.ts).
  disallowedCalls: async (_catalog, analysis, allow) => disallowedMysqlCalls(analysis, allow),
  // An unknown function is refused with the calls that are not allow-listed; the server names it.
  unknownFunctions: async () => [],
  planMasking: async (analysis, input, catalog) => planMysqlMasking(analysis.root, input, await catalog.resolve()),
  prepareOrigins: prepareMysqlOrigins,
  async maskedColumns(relation, input, catalog) {
    const sql = `SELECT * FROM ${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}`;
    const plan = await planMysqlMasking(analyzeMysql(sql).root, { ...input, exempt: false }, await catalog.resolve());
    return relation.columns.map((c, i) => {
      const lineage = plan.outputs?.[i]?.lineage ?? plan.reach;
      const maskers = [...lineage.sources].map((s) => plan.rules.get(s)).filter((m): m is MaskerName => m !== undefined);
      return { name: c.name, masked: input.exempt || maskers.length === 0 ? false : chooseMasker(maskers, lineage.identity) };
    });
  },
  estimateAffectedRows: (handle, _analysis, sql, params) => estimateMysqlRows(handle, sql, params),
  // The identity settings of PostgreSQL (qb.*) have no MySQL counterpart a statement could not overwrite.
  execute: (handle, request) => {
    const { identity: _notOnMysql, ...rest } = request;
    return executeMysql(handle, rest);
  },
  withApprovedHandle: withMysqlJitHandle,
  databaseError: mysqlErrorInfo,
  isUnavailable: isMysqlUnavailable,
  quoteIdent,
  quoteQualified: (n) => (n.schema === undefined ? quoteIdent(n.name) : `${quoteIdent(n.schema)}.${quoteIdent(n.name)}`),
};
