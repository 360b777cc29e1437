/**
 * PostgreSQL behind the Engine interface: libpg-query for analysis, the pg_catalog readers of
 * db/catalog, node-postgres for execution, SQLSTATEs for errors.
 */
import type { Engine } from './types.js';
import type { Analysis } from '../sql/types.js';
import type { PoolHandle } from '../db/pools.js';
import { loadSqlParser } from '../sql/parser.js';
import { analyzeSql } from '../sql/analyze.js';
import { checkParamCount } from '../sql/placeholders.js';
import { estimateAffectedRows } from '../sql/estimate.js';
import { quoteIdent, quoteQualified } from '../sql/names.js';
import { createConnectionCatalog } from '../db/catalog/index.js';
import { executeStatement } from '../db/execute.js';
import { databaseErrorInfo, UNAVAILABLE_SQLSTATE } from '../db/errors.js';

export const postgresEngine: Engine<Analysis, PoolHandle> = {
  name: 'postgres',
  ready: loadSqlParser,
  analyze: analyzeSql,
  checkParams: checkParamCount,
  estimateAffectedRows,
  createCatalog: (db) => createConnectionCatalog(db),
  execute: executeStatement,
  databaseError: databaseErrorInfo,
  isUnavailable: (info) => UNAVAILABLE_SQLSTATE.test(info.sqlstate ?? ''),
  quoteIdent,
  quoteQualified,
};
