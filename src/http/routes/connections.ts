/**
 * Discovery for agents: which connections this identity may use (`GET /api/connections`) and which
 * tables and columns it may read there (`GET /api/connections/{name}/schema`), masked columns
 * flagged. The MCP tools `list_connections` and `describe_schema` call the same functions.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { BrokerError, isBrokerError } from '../../errors.js';
import type { ConnectionRuntime } from '../../broker/connections.js';
import type { Logger } from '../../log.js';
import type { Principal } from '../../identity/principal.js';
import type { PolicyConfig } from '../../policy/schema.js';
import { isExemptFromMasking, profilesFor, resolveProfile } from '../../policy/profiles.js';
import type { MaskingPolicyInput } from '../../masking/index.js';
import type { EngineCatalog } from '../../engine/types.js';
import type { SchemaRelation } from '../../db/catalog/index.js';
import type { BrokerApp, HttpEnv } from '../app.js';
import { errorResponse, json } from '../schemas.js';

// ---------------------------------------------------------------------------------------------
// Wire shapes (the OpenAPI document and the MCP tools' structured content use the same ones)

const Access = z.enum(['read', 'write', 'admin']);

export const ConnectionInfo = z
  .object({
    name: z.string().openapi({ example: 'sales' }),
    engine: z.enum(['postgres', 'mysql']),
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
// Schema discovery: what the connection's catalog lists for the profile's role, formatted

export interface SchemaDiscovery {
  /** Tables and columns `principal` may read on `connection`, masked columns flagged; filters by schema and/or table name. */
  describe(principal: Principal, connection: string, filter?: { schema?: string; table?: string }): Promise<ConnectionSchema>;
}

/** Per column name, the masker results get for an identity that is not exempt (false: none). */
type MaskedFlags = ReadonlyMap<string, false | string>;

export interface SchemaDiscoveryDeps {
  policy: PolicyConfig;
  connections: ConnectionRuntime;
  log: Logger;
}

/**
 * The listing comes from the connection's catalog (db/catalog: read on the login role with the
 * privileges of the profile's `dbRole`, cached with the catalog's other answers and forgotten with
 * them). Masked columns are flagged by the masking stage's own verdict (the engine's maskedColumns: views
 * traced to their base columns, rules on inheritance parents covering partitions), computed once
 * per listing; when it cannot be computed the schema is refused, never guessed.
 */
export function createSchemaDiscovery(deps: SchemaDiscoveryDeps): SchemaDiscovery {
  const { policy, connections, log } = deps;
  /** flags per listing object: a new listing (new catalog generation) is flagged afresh */
  const flagsOf = new WeakMap<readonly SchemaRelation[], Promise<MaskedFlags[]>>();

  async function flagListing(listing: readonly SchemaRelation[], catalog: EngineCatalog, connection: string): Promise<MaskedFlags[]> {
    const input: MaskingPolicyInput = { rules: policy.masking.rules, detectors: policy.masking.detectors, exempt: false };
    const out: MaskedFlags[] = [];
    for (const batch of chunks(listing, 8)) {
      out.push(
        ...(await Promise.all(
          batch.map(async (t) => {
            try {
              return new Map((await connections.engine(connection).maskedColumns(t, input, catalog)).map((f) => [f.name, f.masked]));
            } catch (e) {
              log.warn('schema discovery: masking trace failed', { connection, table: `${t.schema}.${t.name}`, error: e instanceof Error ? e.name : 'unknown' });
              throw e;
            }
          }),
        )),
      );
    }
    return out;
  }

  function maskedFlags(listing: readonly SchemaRelation[], catalog: EngineCatalog, connection: string): Promise<MaskedFlags[]> {
    let flags = flagsOf.get(listing);
    if (flags === undefined) {
      flags = flagListing(listing, catalog, connection);
      flagsOf.set(listing, flags);
      // A failed trace must not be served again.
      flags.catch(() => flagsOf.delete(listing));
    }
    return flags;
  }

  return {
    async describe(principal, connection, filter = {}) {
      const { name: profileName, profile } = resolveProfile(policy, principal, connection);
      const exempt = isExemptFromMasking(policy, principal);
      let listing: readonly SchemaRelation[];
      let flags: MaskedFlags[] | undefined;
      try {
        const catalog = connections.catalog(connection, profile.dbRole);
        listing = await catalog.schema();
        if (!exempt) flags = await maskedFlags(listing, catalog, connection);
      } catch (e) {
        // A refusal already says what is true (e.g. a view the masking stage cannot trace); only a
        // failure to read the catalog is a dependency that is down.
        if (isBrokerError(e)) throw e;
        throw new BrokerError('dependency_unavailable', `The catalog of "${connection}" cannot be read right now. Retry in a moment.`, { cause: e });
      }
      // A read profile runs read-only whatever the role may do: report what it can actually do.
      const allowed = new Set<string>(profile.access === 'read' ? ['select'] : ['select', 'insert', 'update', 'delete']);
      const tables: SchemaTable[] = [];
      listing.forEach((t, i) => {
        if ((filter.schema !== undefined && t.schema !== filter.schema) || (filter.table !== undefined && t.name !== filter.table)) return;
        const out: SchemaTable = {
          schema: t.schema,
          name: t.name,
          kind: t.kind,
          privileges: t.privileges.filter((p) => allowed.has(p)),
          estimatedRows: t.estimatedRows,
          primaryKey: t.primaryKey,
          foreignKeys: t.foreignKeys,
          columns: t.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, masked: flags?.[i]?.get(c.name) ?? false })),
        };
        if (t.comment !== undefined) out.comment = t.comment;
        tables.push(out);
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
