/**
 * Masking by origin against a real MariaDB: the server's own field metadata (db, orgTable, orgName)
 * decides, so an alias, a derived table or a view cannot hide a masked column, and the planted
 * values appear nowhere in what the agent would receive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import NodeSqlParser from 'node-sql-parser';
import type { Cell, ResultField } from '../../../src/db/types.js';
import type { QualifiedName } from '../../../src/sql/types.js';
import { applyMasking, prepareOrigins, type MaskingPolicyInput } from '../../../src/masking/index.js';
import { planMysqlMasking } from '../../../src/engine/mysql/masking.js';
import type { MysqlCatalog, MysqlRelation, MysqlRoutine } from '../../../src/engine/mysql/types.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';

const missing = mysqlUnavailable();
const parser = new NodeSqlParser.Parser();

const SSN = '123-45-6789';
const CARD = '4111111111111111';
const EMAIL = 'ada@example.com';

/** information_schema as the login user sees it (the part of MysqlCatalog masking reads). */
function informationSchemaCatalog(db: mysql.Connection, defaultSchema: string): MysqlCatalog {
  return {
    defaultSchema,
    generation: 1,
    async relation(n: QualifiedName): Promise<MysqlRelation | undefined> {
      const schema = n.schema ?? defaultSchema;
      const [tables] = await db.query<mysql.RowDataPacket[]>('select TABLE_TYPE as t from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME = ?', [schema, n.name]);
      if (tables.length === 0) return undefined;
      const [cols] = await db.query<mysql.RowDataPacket[]>('select COLUMN_NAME as c from information_schema.COLUMNS where TABLE_SCHEMA = ? and TABLE_NAME = ? order by ORDINAL_POSITION', [schema, n.name]);
      const rel: MysqlRelation = { schema, name: n.name, kind: tables[0]!.t === 'VIEW' ? 'view' : 'table', columns: cols.map((r) => String(r.c)) };
      if (rel.kind === 'view') {
        const [v] = await db.query<mysql.RowDataPacket[]>('select VIEW_DEFINITION as d from information_schema.VIEWS where TABLE_SCHEMA = ? and TABLE_NAME = ?', [schema, n.name]);
        rel.viewDefinition = String(v[0]?.d ?? '');
      }
      return rel;
    },
    async routines(): Promise<MysqlRoutine[]> {
      return [];
    },
    async schema() {
      return [];
    },
    invalidate() {},
  };
}

describe.skipIf(missing !== undefined)('MySQL masking by server origin (real MariaDB)', () => {
  let my: TestMysql;
  let db: mysql.Connection;
  let policy: MaskingPolicyInput;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    db = await mysql.createConnection(my.url);
    await db.query('create table customers (id int primary key, name varchar(50), email varchar(100), ssn varchar(20), card varchar(20))');
    await db.query('create table orders (id int primary key, customer_id int, total decimal(10,2), note varchar(100))');
    await db.query('create view customer_contacts as select id, email as contact, ssn as tax_id from customers');
    await db.query('insert into customers values (1, ?, ?, ?, ?)', ['Ada', EMAIL, SSN, CARD]);
    await db.query("insert into orders values (1, 1, 10.00, 'first')");
    policy = {
      rules: [
        { column: `${my.database}.customers.ssn`, with: 'redact' },
        { column: `${my.database}.customers.card`, with: 'last4' },
        { column: `${my.database}.customers.email`, with: 'email' },
      ],
      detectors: [],
      exempt: false,
    };
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await my?.stop();
  });

  /** Run the statement, describe its fields as the engine does (origin by name), plan and mask. */
  async function run(sql: string, misplan?: string) {
    const [rows, fields] = await db.query<mysql.RowDataPacket[][]>({ sql, rowsAsArray: true });
    const resultFields: ResultField[] = fields.map((f, i) => {
      const out: ResultField = { name: f.name, dataTypeID: 25, tableID: f.orgTable ? i + 1 : 0, columnID: f.orgTable ? 1 : 0 };
      if (f.orgTable) out.origin = { schema: f.db ?? '', table: f.orgTable, column: f.orgName };
      return out;
    });
    const cells: Cell[][] = (rows as unknown as unknown[][]).map((r) => r.map((v) => (v === null ? null : String(v))));
    const plan = await planMysqlMasking(parser.astify(misplan ?? sql, { database: 'MySQL' }), policy, informationSchemaCatalog(db, my.database));
    await prepareOrigins(plan, resultFields);
    return { fields, out: applyMasking(plan, resultFields, cells) };
  }

  it('masks by the base column the server names, whatever the alias', async () => {
    const { fields, out } = await run('select ssn as x, card as y, email as z, name from customers');
    expect(fields.map((f) => f.orgName)).toEqual(['ssn', 'card', 'email', 'name']);
    expect(out.rows[0]).toEqual(['[redacted]', '****1111', '***@example.com', 'Ada']);
  });

  it('masks by origin even when the statement planned is not the one that ran (misaligned lineage)', async () => {
    // The plan is of a clear column; the server's metadata names customers.ssn and customers.card.
    const { out } = await run('select ssn as id, card as note from customers', 'select id, note from orders');
    expect(JSON.stringify(out)).not.toMatch(/6789|411111/);
  });

  it('masks a view column and a derived-table column, and leaks no planted value', async () => {
    const view = await run('select contact, tax_id from customer_contacts');
    expect(view.out.rows[0]).toEqual(['***@example.com', '[redacted]']);
    const derivedTable = await run('select t.x from (select card as x from customers) as t');
    expect(derivedTable.out.rows[0]).toEqual(['****1111']);
    expect(JSON.stringify([view.out, derivedTable.out])).not.toMatch(/6789|411111|ada@/);
  });

  it('keeps clear columns clear', async () => {
    const { out } = await run('select o.id, o.note, c.name from orders o join customers c on c.id = o.customer_id');
    expect(out.rows[0]).toEqual(['1', 'first', 'Ada']);
    expect(out.columns.map((c) => c.masked)).toEqual([false, false, false]);
  });
});
