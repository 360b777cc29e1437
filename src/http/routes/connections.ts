/**
 * Discovery for agents: which connections this identity may use (`GET /api/connections`) and which
 * tables and columns it may read there (`GET /api/connections/{name}/schema`), masked columns
 * flagged. The MCP tools `list_connections` and `describe_schema` call the same functions.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { BrokerError } from '../../errors.js';
import type { ConnectionRuntime } from '../../broker/connections.js';
import type { Logger } from '../../log.js';
import type { Principal } from '../../identity/principal.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { isExemptFromMasking, profilesFor, resolveProfile } from '../../policy/profiles.js';
import { maskedColumnsOf, type MaskingPolicyInput, type RelationInfo } from '../../masking/index.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { errorResponse, json } from '../schemas.js';

// ---------------------------------------------------------------------------------------------
// Wire shapes (the OpenAPI document and the MCP tools' structured content use the same ones)

const Access = z.enum(['read', 'write', 'admin']);

export const ConnectionInfo = z
  .object({
    name: z.string().openapi({ example: 'sales' }),
    engine: z.literal('postgres'),
    access: Access.openapi({ description: 'What this identity may do here: read, write (some writes need approval) or admin' }),
    profile: z.string().openapi({ description: 'The policy profile that applies', example: 'agent-read' }),
    maxRows: z.number().int().openapi({ description: 'Most rows one query returns; more are cut off with `truncated: true`' }),
    statementTimeoutMs: z.number().int(),
    approval: z
      .object({ estimatedRowsOver: z.number().int(), expiresAfterMinutes: z.number().int() })
      .nullable()
      .openapi({ description: 'How writes that need a human are handled; null when nobody can approve (they are refused)' }),
    maskingExempt: z.boolean().openapi({ description: 'This identity sees masked columns in clear' }),
  })
  .openapi('Connection');
export type ConnectionInfo = z.infer<typeof ConnectionInfo>;

export const ConnectionList = z.object({ connections: z.array(ConnectionInfo) }).openapi('ConnectionList');

export const SchemaColumn = z
  .object({
    name: z.string(),
    type: z.string().openapi({ example: 'text' }),
    nullable: z.boolean(),
    masked: z.union([z.literal(false), z.string()]).openapi({ description: 'false, or the masker applied to this column in results (redact, last4, email, hash, null)' }),
  })
  .openapi('SchemaColumn');

export const SchemaTable = z
  .object({
    schema: z.string().openapi({ example: 'public' }),
    name: z.string().openapi({ example: 'customers' }),
    kind: z.enum(['table', 'partitioned table', 'view', 'materialized view', 'foreign table']),
    privileges: z
      .array(z.enum(['select', 'insert', 'update', 'delete']))
      .openapi({ description: 'Table-level privileges of this profile (only select for a read profile); with column-level grants this may be empty while `columns` lists what may be read' }),
    estimatedRows: z.number().nullable().openapi({ description: "The planner's row estimate; null when the table was never analyzed" }),
    primaryKey: z.array(z.string()),
    foreignKeys: z
      .array(z.object({ columns: z.array(z.string()), references: z.object({ schema: z.string(), table: z.string(), columns: z.array(z.string()) }) }))
      .openapi({ description: 'Foreign keys: join these columns to the referenced table\'s columns' }),
    comment: z.string().optional(),
    columns: z.array(SchemaColumn).openapi({ description: 'The columns this profile may read' }),
  })
  .openapi('SchemaTable');
export type SchemaTable = z.infer<typeof SchemaTable>;

export const ConnectionSchema = z
  .object({
    connection: z.string(),
    profile: z.string(),
    access: Access,
    maskingExempt: z.boolean(),
    detectors: z.array(z.string()).openapi({ description: 'Content detectors that also mask matching values (card numbers, emails, SSNs, secrets) in any text column' }),
    tables: z.array(SchemaTable),
  })
  .openapi('ConnectionSchema');
export type ConnectionSchema = z.infer<typeof ConnectionSchema>;

// ---------------------------------------------------------------------------------------------
// Connections the identity may use

/** Every connection a profile grants this principal, with the most capable profile (the one queries use). */
export function listConnectionsFor(policy: PolicyConfig, principal: Principal): ConnectionInfo[] {
  const exempt = isExemptFromMasking(policy, principal);
  const out: ConnectionInfo[] = [];
  for (const [name, connection] of Object.entries(policy.connections)) {
    const [best] = profilesFor(policy, principal, name);
    if (!best) continue;
    const { profile } = best;
    out.push({
      name,
      engine: connection.engine,
      access: profile.access,
      profile: best.name,
      maxRows: profile.maxRows,
      statementTimeoutMs: profile.statementTimeoutMs,
      approval: profile.approval ? { estimatedRowsOver: profile.approval.estimatedRowsOver, expiresAfterMinutes: profile.approval.expiresAfterMinutes } : null,
      maskingExempt: exempt,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema discovery: a cached catalog read per connection and database role

interface CatalogColumn {
  name: string;
  type: string;
  nullable: boolean;
  /** the masker results of this column get for an identity that is not exempt */
  masked: false | string;
}

interface CatalogTable {
  schema: string;
  name: string;
  kind: SchemaTable['kind'];
  privileges: SchemaTable['privileges'];
  estimatedRows: number | null;
  primaryKey: string[];
  foreignKeys: SchemaTable['foreignKeys'];
  comment?: string;
  columns: CatalogColumn[];
}

const KINDS: Record<string, SchemaTable['kind']> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table' };

/**
 * Relations the role may read (table-level SELECT, or SELECT on some column) in schemas it may
 * use. `$1` is the role the profile runs as; null means the login role itself.
 */
const TABLES_SQL = `
with r as (select coalesce($1::name, current_user) as role)
select c.oid::text as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind,
       case when c.reltuples < 0 then null else c.reltuples::float8 end as estimated_rows,
       obj_description(c.oid, 'pg_class') as comment,
       has_table_privilege(r.role, c.oid, 'SELECT') as can_select,
       has_table_privilege(r.role, c.oid, 'INSERT') as can_insert,
       has_table_privilege(r.role, c.oid, 'UPDATE') as can_update,
       has_table_privilege(r.role, c.oid, 'DELETE') as can_delete,
       coalesce((select array_agg(a.attname::text order by k.ord)
                   from pg_index i
                   cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
                   join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                  where i.indrelid = c.oid and i.indisprimary), '{}') as primary_key,
       coalesce((select json_agg(json_build_object(
                          'columns', (select array_agg(a.attname::text order by k.ord) from unnest(f.conkey) with ordinality k(attnum, ord)
                                        join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum),
                          'references', json_build_object(
                            'schema', rn.nspname, 'table', rc.relname,
                            'columns', (select array_agg(a.attname::text order by k.ord) from unnest(f.confkey) with ordinality k(attnum, ord)
                                          join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum)))
                          order by f.conname)
                   from pg_constraint f
                   join pg_class rc on rc.oid = f.confrelid
                   join pg_namespace rn on rn.oid = rc.relnamespace
                  where f.conrelid = c.oid and f.contype = 'f'), '[]'::json) as foreign_keys
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join r
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'
   and has_schema_privilege(r.role, n.oid, 'USAGE')
   and has_any_column_privilege(r.role, c.oid, 'SELECT')
 order by n.nspname, c.relname`;

const COLUMNS_SQL = `
with r as (select coalesce($1::name, current_user) as role)
select a.attrelid::text as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable
  from pg_attribute a cross join r
 where a.attrelid = any($2::oid[]) and a.attnum > 0 and not a.attisdropped
   and has_column_privilege(r.role, a.attrelid, a.attnum, 'SELECT')
 order by a.attrelid, a.attnum`;

export interface SchemaDiscovery {
  /** Tables and columns `principal` may read on `connection`, masked columns flagged; filters by schema and/or table name. */
  describe(principal: Principal, connection: string, filter?: { schema?: string; table?: string }): Promise<ConnectionSchema>;
}

export interface SchemaDiscoveryDeps {
  policy: PolicyConfig;
  connections: ConnectionRuntime;
  log: Logger;
}

interface CacheEntry {
  at: number;
  tables: Promise<CatalogTable[]>;
}

/**
 * Reads the catalog on the connection's own login role (read-only, short timeouts) and checks
 * privileges for the profile's `dbRole`, so the answer is what the agent's queries will meet.
 * Results are cached per connection and role for `ttlMs`: discovery must not load the database.
 */
export function createSchemaDiscovery(deps: SchemaDiscoveryDeps, options: { ttlMs?: number; now?: () => number } = {}): SchemaDiscovery {
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  const { policy, connections, log } = deps;

  async function readCatalog(connection: string, role: string | null): Promise<CatalogTable[]> {
    const db = connections.catalogQueryable(connection);
    const tables = await db.query<{
      oid: string;
      schema: string;
      name: string;
      kind: string;
      estimated_rows: number | null;
      comment: string | null;
      can_select: boolean;
      can_insert: boolean;
      can_update: boolean;
      can_delete: boolean;
      primary_key: string[];
      foreign_keys: SchemaTable['foreignKeys'];
    }>(TABLES_SQL, [role]);
    const oids = tables.rows.map((t) => t.oid);
    const [columns, relations] = await Promise.all([
      db.query<{ oid: string; name: string; type: string; nullable: boolean }>(COLUMNS_SQL, [role, oids]),
      // Warms the masking catalog for the tracing below, and serves its fallback.
      connections.columnCatalog(connection, role ?? undefined).relationsByOid(oids.map(Number)),
    ]);
    const columnsOf = groupBy(columns.rows, (c) => c.oid);
    const out: CatalogTable[] = [];
    for (const batch of chunks(tables.rows, 8)) {
      out.push(
        ...(await Promise.all(
          batch.map(async (t) => {
            const masked = await maskedFlags(connection, role, t, relations.get(Number(t.oid)) ?? null);
            const privileges: SchemaTable['privileges'] = [];
            if (t.can_select) privileges.push('select');
            if (t.can_insert) privileges.push('insert');
            if (t.can_update) privileges.push('update');
            if (t.can_delete) privileges.push('delete');
            const table: CatalogTable = {
              schema: t.schema,
              name: t.name,
              kind: KINDS[t.kind] ?? 'table',
              privileges,
              estimatedRows: t.estimated_rows === null ? null : Number(t.estimated_rows),
              primaryKey: t.primary_key,
              foreignKeys: t.foreign_keys,
              columns: (columnsOf.get(t.oid) ?? []).map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, masked: masked.get(c.name) ?? false })),
            };
            if (t.comment) table.comment = t.comment;
            return table;
          }),
        )),
      );
    }
    return out;
  }

  /**
   * The masking stage's own verdict per column (views traced to their base columns, rules on
   * inheritance parents covering partitions), for an identity that is not exempt. Should tracing
   * fail, the rules are matched on the relation's own column names and its relatives'.
   */
  async function maskedFlags(connection: string, role: string | null, t: { schema: string; name: string }, relation: RelationInfo | null): Promise<Map<string, false | string>> {
    const input: MaskingPolicyInput = { rules: policy.masking.rules, detectors: policy.masking.detectors, exempt: false };
    try {
      const flags = await maskedColumnsOf(t, input, connections.columnCatalog(connection, role ?? undefined));
      return new Map(flags.map((f) => [f.name, f.masked]));
    } catch (e) {
      log.warn('schema discovery: masking trace failed, matching rules by name', { connection, table: `${t.schema}.${t.name}`, error: e instanceof Error ? e.name : 'unknown' });
      const rules = new Map(policy.masking.rules.map((r) => [r.column, r.with]));
      return new Map((relation?.columns ?? []).map((c) => [c.name, c.keys.map((k) => rules.get(k)).find((m) => m !== undefined) ?? false]));
    }
  }

  function cachedCatalog(connection: string, role: string | null): Promise<CatalogTable[]> {
    const key = `${connection}\u0000${role ?? ''}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at <= ttl) return hit.tables;
    const tables = readCatalog(connection, role);
    cache.set(key, { at: now(), tables });
    // A failed read must not be served from the cache.
    tables.catch(() => {
      if (cache.get(key)?.tables === tables) cache.delete(key);
    });
    return tables;
  }

  return {
    async describe(principal, connection, filter = {}) {
      const { name: profileName, profile } = resolveProfile(policy, principal, connection);
      let catalog: CatalogTable[];
      try {
        catalog = await cachedCatalog(connection, profile.dbRole ?? null);
      } catch (e) {
        throw new BrokerError('dependency_unavailable', `The catalog of "${connection}" cannot be read right now. Retry in a moment.`, { cause: e });
      }
      const exempt = isExemptFromMasking(policy, principal);
      // A read profile runs read-only whatever the role may do: report what it can actually do.
      const allowed = new Set<string>(profile.access === 'read' ? ['select'] : ['select', 'insert', 'update', 'delete']);
      const tables: SchemaTable[] = catalog
        .filter((t) => (filter.schema === undefined || t.schema === filter.schema) && (filter.table === undefined || t.name === filter.table))
        .map((t) => {
          const out: SchemaTable = {
            schema: t.schema,
            name: t.name,
            kind: t.kind,
            privileges: t.privileges.filter((p) => allowed.has(p)),
            estimatedRows: t.estimatedRows,
            primaryKey: t.primaryKey,
            foreignKeys: t.foreignKeys,
            columns: t.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, masked: exempt ? false : c.masked })),
          };
          if (t.comment !== undefined) out.comment = t.comment;
          return out;
        });
      return { connection, profile: profileName, access: profile.access, maskingExempt: exempt, detectors: exempt ? [] : [...policy.masking.detectors], tables };
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface ConnectionRouteDeps {
  policy: PolicyConfig;
  schema: SchemaDiscovery;
}

const ConnectionName = z.object({ name: z.string().min(1).max(128).openapi({ param: { name: 'name', in: 'path' }, example: 'sales' }) });
const SchemaFilter = z.object({
  schema: z.string().min(1).max(128).optional().openapi({ param: { name: 'schema', in: 'query' }, description: 'Only this schema', example: 'public' }),
  table: z.string().min(1).max(128).optional().openapi({ param: { name: 'table', in: 'query' }, description: 'Only tables of this name', example: 'customers' }),
});

export function registerConnectionRoutes(app: BrokerApp, _auth: MiddlewareHandler<HttpEnv>, deps: ConnectionRouteDeps): void {
  const { policy } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/connections',
      summary: 'Connections this identity may use, with its access level',
      security: [{ bearer: [] }],
      responses: {
        200: json(ConnectionList, 'The connections a profile grants this identity (empty when none)'),
        401: errorResponse('invalid_token'),
        429: errorResponse('rate_limited'),
      },
    }),
    (c) => c.json({ connections: listConnectionsFor(policy, c.get('principal')) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/connections/{name}/schema',
      summary: 'Tables and columns this identity may read on a connection, masked columns flagged',
      description:
        'Read from the database catalog (cached for about a minute) with the privileges of the database role the profile runs as. ' +
        '`masked` names the masker the policy applies to the column in results; content detectors may mask matching values in any text column as well.',
      security: [{ bearer: [] }],
      request: { params: ConnectionName, query: SchemaFilter },
      responses: {
        200: json(ConnectionSchema, 'Readable tables and columns'),
        401: errorResponse('invalid_token'),
        403: errorResponse('policy_denied: unknown connection, or no profile grants this identity access to it'),
        429: errorResponse('rate_limited'),
        503: errorResponse('dependency_unavailable: the catalog cannot be read'),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const q = c.req.valid('query');
      const filter: { schema?: string; table?: string } = {};
      if (q.schema !== undefined) filter.schema = q.schema;
      if (q.table !== undefined) filter.table = q.table;
      return c.json(await deps.schema.describe(c.get('principal'), name, filter), 200);
    },
  );
}
