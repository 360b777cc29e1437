/** The pool every engine's catalog look-ups run on: read-only, short limits, few connections. */
import type { ProfileConfig } from '../policy/schema.js';

export const CATALOG_PROFILE: ProfileConfig = {
  match: { roles: [], groups: [], oids: [] },
  connections: [],
  access: 'read',
  maxRows: 100_000,
  maxResultBytes: 64 * 1024 * 1024,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 1000,
  allowVolatile: [],
};

/** Catalog look-ups are few and short (answers are cached): a pool per role needs few connections. */
export const CATALOG_POOL_SIZE = 3;
