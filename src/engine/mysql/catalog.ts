/**
 * The MySQL catalog of one connection as its user sees it (MysqlCatalog of ./types.ts), read from
 * information_schema, which shows a user only the objects it holds some privilege on.
 *
 * Public surface: `createMysqlCatalog(db, defaultSchema, options)`.
 * - relation(name): TABLES + COLUMNS (ordinal order) + VIEWS.VIEW_DEFINITION, in one query. The
 *   definition is empty when the user may not see it (no SHOW VIEW): it is then left out, and the
 *   masking, unable to trace the view, masks what it reaches.
 * - routines(names): stored functions (ROUTINES, ROUTINE_TYPE = 'FUNCTION'); function names are
 *   case-insensitive on MySQL, schema names are compared exactly.
 * - schema(): the engine-neutral listing: tables and views the user may read (SELECT on the table,
 *   its database or globally, or on some column), outside the system databases, with columns
 *   (COLUMN_TYPE, nullable), primary key, foreign keys (KEY_COLUMN_USAGE), the row estimate
 *   (TABLES.TABLE_ROWS; null for views) and the comment. Privileges are the user's own grants
 *   (USER_PRIVILEGES, SCHEMA_PRIVILEGES with their wildcards, TABLE_PRIVILEGES); grants that reach
 *   the user only through a role are not seen there, so such a relation lists fewer privileges
 *   than it has (never more).
 *
 * Every answer is cached for the current generation: a new generation starts after `ttlMs`
 * (default 60 s) or `invalidate()` (after DDL); a failed read is not kept.
 */
import type { Queryable } from '../../db/types.js';
import type { QualifiedName } from '../../sql/types.js';
import type { ForeignKey, SchemaColumn, SchemaRelation, TablePrivilege } from '../../db/catalog/schema.js';
import type { MysqlCatalog, MysqlRelation, MysqlRoutine } from './types.js';

export interface MysqlCatalogOptions {
  /** how long answers stay valid; default 60 s */
  ttlMs?: number;
  now?: () => number;
}

const SYSTEM_SCHEMAS = ['mysql', 'sys', 'information_schema', 'performance_schema'];
const SYSTEM_LIST = SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(', ');

const RELATION_SQL = `
SELECT t.TABLE_TYPE AS table_type, c.COLUMN_NAME AS column_name, v.VIEW_DEFINITION AS view_definition
  FROM information_schema.TABLES t
  LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
  LEFT JOIN information_schema.VIEWS v ON v.TABLE_SCHEMA = t.TABLE_SCHEMA AND v.TABLE_NAME = t.TABLE_NAME
 WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?
 ORDER BY c.ORDINAL_POSITION`;

const ROUTINES_SQL = `
SELECT ROUTINE_SCHEMA AS routine_schema, ROUTINE_NAME AS routine_name, IS_DETERMINISTIC AS is_deterministic, SQL_DATA_ACCESS AS sql_data_access
  FROM information_schema.ROUTINES
 WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_SCHEMA IN (?) AND LOWER(ROUTINE_NAME) IN (?)`;

const TABLES_SQL = `
SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name, TABLE_TYPE AS table_type, TABLE_ROWS AS table_rows, TABLE_COMMENT AS table_comment
  FROM information_schema.TABLES
 WHERE TABLE_SCHEMA NOT IN (${SYSTEM_LIST})
 ORDER BY TABLE_SCHEMA, TABLE_NAME`;

const COLUMNS_SQL = `
SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name, COLUMN_NAME AS column_name, COLUMN_TYPE AS column_type, IS_NULLABLE AS is_nullable
  FROM information_schema.COLUMNS
 WHERE TABLE_SCHEMA NOT IN (${SYSTEM_LIST})
 ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`;

const KEYS_SQL = `
SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, COLUMN_NAME AS column_name,
       REFERENCED_TABLE_SCHEMA AS ref_schema, REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_column
  FROM information_schema.KEY_COLUMN_USAGE
 WHERE TABLE_SCHEMA NOT IN (${SYSTEM_LIST}) AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)
 ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`;

/** The grantee string information_schema uses for the current user: 'user'@'host'. */
const GRANTEE = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`;

const PRIVILEGES_SQL = `
SELECT 'global' AS level, NULL AS s, NULL AS t, PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${GRANTEE}
UNION ALL
SELECT 'schema', TABLE_SCHEMA, NULL, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${GRANTEE}
UNION ALL
SELECT 'table', TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ${GRANTEE}
UNION ALL
SELECT 'column', TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ${GRANTEE}`;

const TABLE_PRIVILEGES: readonly TablePrivilege[] = ['select', 'insert', 'update', 'delete'];

type Row = Record<string, unknown>;

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** A database pattern of a schema-level grant (`%`, `_`, backslash escapes) as a test. */
function schemaPattern(pattern: string): (schema: string) => boolean {
  if (!/[%_]/.test(pattern)) return (s) => s === pattern.replace(/\\(.)/g, '$1');
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const compiled = new RegExp(`^${re}$`);
  return (s) => compiled.test(s);
}

interface Grants {
  global: Set<string>;
  schemas: { matches: (schema: string) => boolean; privilege: string }[];
  tables: Map<string, Set<string>>;
  /** relations with some column-level SELECT */
  columnSelect: Set<string>;
}

function readGrants(rows: Row[]): Grants {
  const grants: Grants = { global: new Set(), schemas: [], tables: new Map(), columnSelect: new Set() };
  for (const r of rows) {
    const privilege = str(r.p).toUpperCase();
    const key = `${str(r.s)}\u0000${str(r.t)}`;
    switch (str(r.level)) {
      case 'global':
        grants.global.add(privilege);
        break;
      case 'schema':
        grants.schemas.push({ matches: schemaPattern(str(r.s)), privilege });
        break;
      case 'table': {
        const set = grants.tables.get(key) ?? new Set<string>();
        set.add(privilege);
        grants.tables.set(key, set);
        break;
      }
      case 'column':
        if (privilege === 'SELECT') grants.columnSelect.add(key);
        break;
    }
  }
  return grants;
}

function privilegesOf(grants: Grants, schema: string, table: string): TablePrivilege[] {
  const held = new Set<string>(grants.global);
  for (const g of grants.schemas) if (g.matches(schema)) held.add(g.privilege);
  for (const p of grants.tables.get(`${schema}\u0000${table}`) ?? []) held.add(p);
  if (held.has('ALL PRIVILEGES')) return [...TABLE_PRIVILEGES];
  return TABLE_PRIVILEGES.filter((p) => held.has(p.toUpperCase()));
}

export function createMysqlCatalog(db: Queryable, defaultSchema: string, options: MysqlCatalogOptions = {}): MysqlCatalog {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  let generation = 0;
  let generationStarted = now();
  let relations = new Map<string, Promise<MysqlRelation | undefined>>();
  let routineCache = new Map<string, Promise<MysqlRoutine | undefined>>();
  let listing: Promise<readonly SchemaRelation[]> | undefined;

  function forget(): void {
    generation++;
    generationStarted = now();
    relations = new Map();
    routineCache = new Map();
    listing = undefined;
  }

  /** Start a new generation when the current one is older than the TTL. */
  function current(): void {
    if (now() - generationStarted >= ttlMs) forget();
  }

  /** Cache a promise; a failed read is dropped so the next call asks again. */
  function remember<T>(map: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> {
    let p = map.get(key);
    if (!p) {
      p = read();
      map.set(key, p);
      const mine = p;
      p.catch(() => {
        if (map.get(key) === mine) map.delete(key);
      });
    }
    return p;
  }

  async function readRelation(schema: string, name: string): Promise<MysqlRelation | undefined> {
    const { rows } = await db.query(RELATION_SQL, [schema, name]);
    if (rows.length === 0) return undefined;
    const first = rows[0]!;
    const kind = str(first.table_type).toUpperCase() === 'VIEW' ? 'view' : 'table';
    const relation: MysqlRelation = { schema, name, kind, columns: rows.map((r) => str(r.column_name)).filter((c) => c !== '') };
    const definition = str(first.view_definition);
    if (kind === 'view' && definition !== '') relation.viewDefinition = definition;
    return relation;
  }

  async function readRoutines(names: readonly QualifiedName[]): Promise<Map<string, MysqlRoutine>> {
    const schemas = [...new Set(names.map((n) => n.schema ?? defaultSchema))];
    const lowered = [...new Set(names.map((n) => n.name.toLowerCase()))];
    const { rows } = await db.query(ROUTINES_SQL, [schemas, lowered]);
    const found = new Map<string, MysqlRoutine>();
    for (const r of rows) {
      const routine: MysqlRoutine = {
        schema: str(r.routine_schema),
        name: str(r.routine_name),
        deterministic: str(r.is_deterministic).toUpperCase() === 'YES',
        dataAccess: str(r.sql_data_access),
      };
      found.set(`${routine.schema}\u0000${routine.name.toLowerCase()}`, routine);
    }
    return found;
  }

  async function readListing(): Promise<readonly SchemaRelation[]> {
    const [tables, columns, keys, privileges] = await Promise.all([db.query(TABLES_SQL), db.query(COLUMNS_SQL), db.query(KEYS_SQL), db.query(PRIVILEGES_SQL)]);
    const grants = readGrants(privileges.rows);
    const columnsOf = new Map<string, SchemaColumn[]>();
    for (const c of columns.rows) {
      const key = `${str(c.table_schema)}\u0000${str(c.table_name)}`;
      const list = columnsOf.get(key) ?? [];
      list.push({ name: str(c.column_name), type: str(c.column_type), nullable: str(c.is_nullable).toUpperCase() === 'YES' });
      columnsOf.set(key, list);
    }
    const primaryKeys = new Map<string, string[]>();
    const foreignKeys = new Map<string, Map<string, ForeignKey>>();
    for (const k of keys.rows) {
      const key = `${str(k.table_schema)}\u0000${str(k.table_name)}`;
      if (str(k.constraint_name) === 'PRIMARY' && (k.ref_table === null || k.ref_table === undefined)) {
        const list = primaryKeys.get(key) ?? [];
        list.push(str(k.column_name));
        primaryKeys.set(key, list);
        continue;
      }
      const byName = foreignKeys.get(key) ?? new Map<string, ForeignKey>();
      const fk = byName.get(str(k.constraint_name)) ?? { columns: [], references: { schema: str(k.ref_schema), table: str(k.ref_table), columns: [] } };
      fk.columns.push(str(k.column_name));
      fk.references.columns.push(str(k.ref_column));
      byName.set(str(k.constraint_name), fk);
      foreignKeys.set(key, byName);
    }
    const out: SchemaRelation[] = [];
    for (const t of tables.rows) {
      const schema = str(t.table_schema);
      const name = str(t.table_name);
      const key = `${schema}\u0000${name}`;
      const privilegeList = privilegesOf(grants, schema, name);
      // Listed when the user may read it: SELECT on it (at any level) or on some of its columns.
      if (!privilegeList.includes('select') && !grants.columnSelect.has(key)) continue;
      const kind = str(t.table_type).toUpperCase() === 'VIEW' ? 'view' : 'table';
      const rowsEstimate = t.table_rows === null || t.table_rows === undefined || kind === 'view' ? null : Number(t.table_rows);
      const relation: SchemaRelation = {
        oid: out.length + 1,
        schema,
        name,
        kind,
        privileges: privilegeList,
        estimatedRows: rowsEstimate !== null && Number.isFinite(rowsEstimate) ? rowsEstimate : null,
        primaryKey: primaryKeys.get(key) ?? [],
        foreignKeys: [...(foreignKeys.get(key)?.values() ?? [])],
        columns: columnsOf.get(key) ?? [],
      };
      const comment = str(t.table_comment);
      // MySQL describes every view with the comment "VIEW".
      if (comment !== '' && !(kind === 'view' && comment === 'VIEW')) relation.comment = comment;
      out.push(relation);
    }
    return out;
  }

  return {
    defaultSchema,
    get generation() {
      current();
      return generation;
    },
    relation(name) {
      current();
      const schema = name.schema ?? defaultSchema;
      return remember(relations, `${schema}\u0000${name.name}`, () => readRelation(schema, name.name));
    },
    async routines(names) {
      current();
      if (names.length === 0) return [];
      const keys = names.map((n) => `${n.schema ?? defaultSchema}\u0000${n.name.toLowerCase()}`);
      const missing = names.filter((_, i) => !routineCache.has(keys[i]!));
      if (missing.length > 0) {
        const batch = readRoutines(missing);
        const cache = routineCache;
        for (const n of missing) {
          const key = `${n.schema ?? defaultSchema}\u0000${n.name.toLowerCase()}`;
          remember(cache, key, async () => (await batch).get(key));
        }
      }
      const answers = await Promise.all([...new Set(keys)].map((k) => routineCache.get(k)!));
      return answers.filter((r): r is MysqlRoutine => r !== undefined);
    },
    schema() {
      current();
      if (!listing) {
        const p = readListing();
        listing = p;
        p.catch(() => {
          if (listing === p) listing = undefined;
        });
      }
      return listing;
    },
    invalidate: forget,
  };
}
