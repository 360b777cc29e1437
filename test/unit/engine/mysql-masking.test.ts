import { describe, expect, it } from 'vitest';
import NodeSqlParser from 'node-sql-parser';
import { isBrokerError } from '../../../src/errors.js';
import type { Cell, ResultField } from '../../../src/db/types.js';
import type { QualifiedName } from '../../../src/sql/types.js';
import { applyMasking, prepareOrigins, describeDatabaseError, type MaskingPolicyInput, type MaskPlan } from '../../../src/masking/index.js';
import { planMysqlMasking, prepareMysqlOrigins } from '../../../src/engine/mysql/masking.js';
import type { MysqlCatalog, MysqlRelation, MysqlRoutine } from '../../../src/engine/mysql/types.js';

const parser = new NodeSqlParser.Parser();
const astOf = (sql: string): unknown => parser.astify(sql, { database: 'MySQL' });

/** A small catalog as information_schema would describe database `shop` to the connection's user. */
class PlantedCatalog implements MysqlCatalog {
  readonly defaultSchema = 'shop';
  generation = 1;
  lookups: string[] = [];
  private readonly rels: MysqlRelation[] = [
    { schema: 'shop', name: 'customers', kind: 'table', columns: ['id', 'name', 'email', 'ssn', 'card'] },
    { schema: 'shop', name: 'orders', kind: 'table', columns: ['id', 'customer_id', 'total', 'note'] },
    {
      schema: 'shop',
      name: 'customer_contacts',
      kind: 'view',
      columns: ['id', 'contact', 'tax_id'],
      viewDefinition: 'select `shop`.`customers`.`id` AS `id`,`shop`.`customers`.`email` AS `contact`,`shop`.`customers`.`ssn` AS `tax_id` from `shop`.`customers` where `shop`.`customers`.`ssn` is not null',
    },
    { schema: 'mysql', name: 'column_stats', kind: 'table', columns: ['db_name', 'table_name', 'column_name', 'min_value', 'max_value'] },
    { schema: 'information_schema', name: 'COLUMN_STATISTICS', kind: 'view', columns: ['SCHEMA_NAME', 'TABLE_NAME', 'COLUMN_NAME', 'HISTOGRAM'], viewDefinition: 'select 1, 2, 3, 4' },
    { schema: 'shop', name: 'opaque', kind: 'view', columns: ['a', 'b'], viewDefinition: 'select this is not sql' },
  ];
  private readonly stored: MysqlRoutine[] = [{ schema: 'shop', name: 'peek', deterministic: true, dataAccess: 'READS SQL DATA' }];
  async relation(n: QualifiedName): Promise<MysqlRelation | undefined> {
    this.lookups.push(`${n.schema ?? ''}.${n.name}`);
    const schema = n.schema ?? this.defaultSchema;
    return this.rels.find((r) => r.schema === schema && r.name === n.name);
  }
  async routines(names: readonly QualifiedName[]): Promise<MysqlRoutine[]> {
    return this.stored.filter((r) => names.some((n) => n.name.toLowerCase() === r.name && (n.schema ?? 'shop') === r.schema));
  }
  async schema() {
    return [];
  }
  invalidate(): void {
    this.generation++;
  }
}

const POLICY: MaskingPolicyInput = {
  rules: [
    { column: 'shop.customers.ssn', with: 'redact' },
    { column: 'shop.customers.card', with: 'last4' },
    { column: 'shop.customers.email', with: 'email' },
  ],
  detectors: [],
  exempt: false,
};

const SSN = '123-45-6789';
const CARD = '4111111111111111';
const EMAIL = 'ada@example.com';

async function plan(sql: string, policy = POLICY): Promise<MaskPlan> {
  return planMysqlMasking(astOf(sql), policy, new PlantedCatalog());
}

/** The refusal codes of a statement ([] when it is planned). */
async function refusal(sql: string): Promise<string[]> {
  try {
    await plan(sql);
    return [];
  } catch (e) {
    if (isBrokerError(e) && e.code === 'policy_denied') return e.reasons.map((r) => r.code);
    throw e;
  }
}

async function refusalMessage(sql: string): Promise<string> {
  try {
    await plan(sql);
  } catch (e) {
    if (isBrokerError(e)) return e.message;
    throw e;
  }
  return '';
}

/** Output columns → the masker applyMasking would pick (false: clear), over expression fields (no server origin). */
async function maskers(sql: string): Promise<(string | false)[]> {
  const p = await plan(sql);
  const n = p.outputs?.length ?? 0;
  const fields: ResultField[] = (p.outputs ?? []).map((o, i) => ({ name: o.name ?? `c${i}`, dataTypeID: 25, tableID: 0, columnID: 0 }));
  const rows: Cell[][] = [Array.from({ length: n }, () => 'x')];
  await prepareOrigins(p, fields);
  return applyMasking(p, fields, rows).columns.map((c) => c.masked);
}

let nextTable = 1;
/** A field as mysql2 describes it: origin by name, numbered locally. */
function field(name: string, origin?: { schema: string; table: string; column: string }): ResultField {
  const f: ResultField = { name, dataTypeID: 25, tableID: origin ? nextTable++ : 0, columnID: origin ? 1 : 0, typeName: 'VAR_STRING' };
  if (origin) f.origin = origin;
  return f;
}

describe('MySQL masking: lineage of output columns', () => {
  it('masks a column by its rule whatever the alias (SELECT ssn AS x)', async () => {
    expect(await maskers('SELECT ssn AS x, card AS y, email AS z, name FROM customers')).toEqual(['redact', 'last4', 'email', false]);
  });

  it('passes values through a derived table unchanged', async () => {
    expect(await maskers('SELECT t.x, t.id FROM (SELECT card AS x, id FROM customers) AS t')).toEqual(['last4', false]);
  });

  it('passes values through a CTE unchanged', async () => {
    expect(await maskers('WITH c AS (SELECT email AS e, name FROM customers) SELECT e, name FROM c')).toEqual(['email', false]);
  });

  it('passes values through a scalar sub-query in the select list', async () => {
    expect(await maskers('SELECT (SELECT card FROM customers WHERE id = 1) AS c FROM orders')).toEqual(['last4']);
  });

  it('joins the arms of UNION ALL', async () => {
    expect(await maskers('SELECT note FROM orders UNION ALL SELECT card FROM customers')).toEqual(['last4']);
  });

  it('masks CONCAT and CONCAT_WS whole (redact: last4 of a concatenation would show other digits)', async () => {
    expect(await maskers("SELECT CONCAT(card, 'x'), CONCAT_WS('-', name, ssn), CONCAT(name, 'x') FROM customers")).toEqual(['redact', 'redact', false]);
  });

  it('masks GROUP_CONCAT, JSON_OBJECT, JSON_ARRAY and JSON_ARRAYAGG whole', async () => {
    expect(await maskers("SELECT GROUP_CONCAT(card SEPARATOR ','), JSON_OBJECT('c', card), JSON_ARRAY(email), JSON_ARRAYAGG(ssn) FROM customers")).toEqual(['redact', 'redact', 'redact', 'redact']);
  });

  it('keeps identity through CAST AS CHAR and CONVERT(x, CHAR) (last4 still applies)', async () => {
    expect(await maskers('SELECT CAST(card AS CHAR) AS c, CONVERT(card, CHAR) AS d FROM customers')).toEqual(['last4', 'last4']);
  });

  it('masks UPPER, LOWER, LENGTH, MD5 and SUBSTRING by position whole', async () => {
    expect(await maskers('SELECT UPPER(email), LOWER(card), LENGTH(ssn), MD5(ssn), SUBSTRING(card, 1, 6) FROM customers')).toEqual(['redact', 'redact', 'redact', 'redact', 'redact']);
  });

  it('masks a comparison in the select list whole and allows it', async () => {
    expect(await maskers("SELECT ssn = '123-45-6789' AS guess FROM customers")).toEqual(['redact']);
  });

  it('keeps count(column) clear and count(*) clear, and masks MIN/MAX by their rule', async () => {
    expect(await maskers('SELECT COUNT(*), COUNT(ssn), MAX(card) FROM customers')).toEqual([false, false, 'redact']);
  });

  it('expands SELECT * with the catalog columns in order', async () => {
    const p = await plan('SELECT * FROM customers');
    expect(p.outputs?.map((o) => o.name)).toEqual(['id', 'name', 'email', 'ssn', 'card']);
    expect(await maskers('SELECT * FROM customers')).toEqual([false, false, 'email', 'redact', 'last4']);
  });

  it('expands t.* and * over a join', async () => {
    expect(await maskers('SELECT o.*, c.* FROM orders o JOIN customers c ON c.id = o.customer_id')).toEqual([false, false, false, false, false, false, 'email', 'redact', 'last4']);
    const p = await plan('SELECT * FROM orders o, customers c');
    expect(p.outputs?.length).toBe(9);
  });

  it('expands * over JOIN … USING with the common column once, first (as MySQL does)', async () => {
    const p = await plan('SELECT * FROM customers c JOIN orders o USING (id)');
    expect(p.outputs?.map((o) => o.name)).toEqual(['id', 'name', 'email', 'ssn', 'card', 'customer_id', 'total', 'note']);
    expect(await refusal('SELECT * FROM customers c JOIN customers d USING (ssn)')).toEqual(['masked_column_in_predicate']);
  });

  it('keeps system variables clear', async () => {
    expect(await maskers('SELECT @@version AS v FROM orders')).toEqual([false]);
  });

  it('traces a view through its definition (the view column carries the base rule)', async () => {
    expect(await maskers('SELECT id, contact, tax_id FROM customer_contacts')).toEqual([false, 'email', 'redact']);
  });

  it("does not check a view's own WHERE on a masked column (its author is trusted), but the agent's", async () => {
    expect(await refusal('SELECT contact FROM customer_contacts')).toEqual([]);
    expect(await refusal("SELECT contact FROM customer_contacts WHERE tax_id = '1'")).toEqual(['masked_column_in_predicate']);
  });

  it('fails closed on a view whose definition cannot be parsed: every masked column of the policy', async () => {
    const p = await plan('SELECT a FROM opaque');
    expect(p.outputs?.[0]?.lineage.sources.has('shop.customers.ssn')).toBe(true);
    expect(await maskers('SELECT a FROM opaque')).toEqual(['redact']);
  });

  it('fails closed on a table the catalog does not know (unknown width, every masked column in reach)', async () => {
    const p = await plan('SELECT * FROM secrets');
    expect(p.outputs).toBeUndefined();
    expect(p.maskedInReach).toBe(true);
    expect([...p.reach.sources]).toEqual(expect.arrayContaining(['shop.customers.ssn', 'shop.customers.card', 'shop.customers.email']));
  });

  it("fails closed on relations that hold other tables' values (MariaDB column_stats, MySQL histograms)", async () => {
    expect(await maskers('SELECT min_value, max_value FROM mysql.column_stats')).toEqual(['redact', 'redact']);
    expect(await maskers('SELECT HISTOGRAM FROM information_schema.COLUMN_STATISTICS')).toEqual(['redact']);
    expect(await refusal("SELECT table_name FROM mysql.column_stats WHERE min_value LIKE '1%'")).toEqual(['masked_column_in_predicate']);
    // By server origin too, whatever the plan says the column is.
    const p = await plan('SELECT id FROM orders');
    const fields = [field('a', { schema: 'mysql', table: 'column_stats', column: 'min_value' })];
    await prepareMysqlOrigins(p, fields);
    expect(applyMasking(p, fields, [[SSN]]).rows[0]).toEqual(['[redacted]']);
  });

  it('fails closed on a column name that resolves nowhere', async () => {
    expect(await maskers('SELECT nosuch FROM orders')).toEqual(['redact']);
  });

  it('fails closed on a stored function, and refuses a masked argument to one', async () => {
    expect(await maskers('SELECT peek(id) FROM orders')).toEqual(['redact']);
    expect(await refusal('SELECT peek(ssn) FROM customers')).toEqual(['masked_column_in_fallible_expression']);
    expect(await refusal('SELECT shop.other(ssn) FROM customers')).toEqual(['masked_column_in_fallible_expression']);
  });

  it('reads a double-quoted name that is a column as the column (sql_mode ANSI_QUOTES)', async () => {
    expect(await refusal('SELECT id FROM customers WHERE "ssn" LIKE \'1%\'')).toEqual(['masked_column_in_predicate']);
    expect(await maskers('SELECT "ssn" AS s, "hello" AS h FROM customers')).toEqual(['redact', false]);
  });

  it('lets a LATERAL derived table see the FROM items before it', async () => {
    expect(await maskers('SELECT t.x FROM customers c, LATERAL (SELECT c.card AS x) AS t')).toEqual(['last4']);
  });

  it('fails closed on user variables', async () => {
    expect(await maskers('SELECT @v FROM orders')).toEqual(['redact']);
  });

  it('matches rules whatever the case of the names (and of the rule)', async () => {
    const p = await planMysqlMasking(astOf('SELECT SSN FROM customers'), { ...POLICY, rules: [{ column: 'SHOP.Customers.SSN', with: 'redact' }] }, new PlantedCatalog());
    expect(p.outputs?.[0]?.lineage.sources.has('shop.customers.ssn')).toBe(true);
    expect(p.rules.get('shop.customers.ssn')).toBe('redact');
  });

  it('gives an exempt principal a pass-through plan without catalog look-ups', async () => {
    const catalog = new PlantedCatalog();
    const p = await planMysqlMasking(astOf('SELECT ssn FROM customers WHERE ssn = 1'), { ...POLICY, exempt: true }, catalog);
    expect(p.exempt).toBe(true);
    expect(catalog.lookups).toEqual([]);
  });
});

describe('MySQL masking: refused flows (same codes and sentences as PostgreSQL)', () => {
  const predicate = 'masked_column_in_predicate';
  const fallible = 'masked_column_in_fallible_expression';
  const cases: [string, string][] = [
    ["SELECT id FROM customers WHERE ssn LIKE '1%'", predicate],
    ['SELECT id FROM customers ORDER BY ssn', predicate],
    ['SELECT ssn AS x FROM customers ORDER BY x', predicate],
    ['SELECT ssn FROM customers ORDER BY 1', predicate],
    ['SELECT ssn, COUNT(*) FROM customers GROUP BY ssn', predicate],
    ['SELECT DISTINCT ssn FROM customers', predicate],
    ['SELECT COUNT(*) FROM customers HAVING MAX(ssn) > 0', predicate],
    ['SELECT o.id FROM orders o JOIN customers c ON c.ssn = o.note', predicate],
    ["SELECT CASE WHEN ssn LIKE '1%' THEN 1 ELSE 0 END FROM customers", predicate],
    ["SELECT CASE ssn WHEN '1' THEN 1 END FROM customers", predicate],
    ["SELECT IF(ssn = '1', 1, 0) FROM customers", predicate],
    ["SELECT IFNULL(ssn, 'none') FROM customers", predicate],
    ["SELECT COALESCE(ssn, 'none') FROM customers", predicate],
    ["SELECT NULLIF(ssn, '1') FROM customers", predicate],
    ['SELECT ROW_NUMBER() OVER (PARTITION BY ssn) FROM customers', predicate],
    ['SELECT ROW_NUMBER() OVER (ORDER BY card) FROM customers', predicate],
    ['SELECT ssn FROM customers UNION SELECT note FROM orders', predicate],
    ['SELECT note FROM orders UNION ALL SELECT ssn FROM customers ORDER BY 1', predicate],
    ['SELECT COUNT(DISTINCT ssn) FROM customers', predicate],
    ['SELECT GROUP_CONCAT(name ORDER BY ssn) FROM customers', predicate],
    ["SELECT ssn AND 1 FROM customers", predicate],
    ['SELECT 1 / ssn FROM customers', predicate],
    ['SELECT id FROM orders WHERE id IN (SELECT id FROM customers WHERE card > 4)', predicate],
    ["SELECT JSON_EXTRACT(ssn, '$') FROM customers", fallible],
    ["SELECT ssn->'$.a' FROM customers", fallible],
    ['SELECT ssn / 1 FROM customers', fallible],
    ['SELECT ssn + 0 FROM customers', fallible],
    ['SELECT CAST(ssn AS SIGNED) FROM customers', fallible],
    ['SELECT CAST(ssn AS DECIMAL(10,2)) FROM customers', fallible],
    ['SELECT CAST(ssn AS DATE) FROM customers', fallible],
    ['SELECT CAST(card AS CHAR(4)) FROM customers', fallible],
    ["SELECT ssn REGEXP '^1' FROM customers", fallible],
    ["SELECT REGEXP_LIKE(ssn, '^1') FROM customers", fallible],
    ['SELECT ssn = 1 FROM customers', fallible],
    ['SELECT -card FROM customers', fallible],
    ['SELECT STR_TO_DATE(ssn, \'%Y\') FROM customers', fallible],
  ];
  for (const [sql, code] of cases) {
    it(`refuses ${sql} as ${code}`, async () => {
      expect(await refusal(sql)).toContain(code);
    });
  }

  it('refuses a masked value in LIMIT (a tree the parser would give for a sub-query there)', async () => {
    const ast = astOf('SELECT id FROM customers LIMIT 1') as { limit: { value: unknown[] } };
    ast.limit.value[0] = { ast: astOf('SELECT LENGTH(ssn) FROM customers'), parentheses: true };
    await expect(planMysqlMasking(ast, POLICY, new PlantedCatalog())).rejects.toMatchObject({ code: 'policy_denied', reasons: [{ code: 'masked_column_in_predicate' }] });
  });

  it('says which column and which place, in the shared sentence', async () => {
    expect(await refusalMessage('SELECT id FROM customers ORDER BY ssn')).toContain('shop.customers.ssn is masked for this identity and cannot be used in ORDER BY');
    expect(await refusalMessage("SELECT IFNULL(ssn, 'x') FROM customers")).toContain('IFNULL() (it branches on the value)');
    expect(await refusalMessage('SELECT CAST(ssn AS SIGNED) FROM customers')).toContain('a cast to SIGNED');
  });

  it("reads ORDER BY after UNION ALL as the result's (names of the first arm)", async () => {
    expect(await refusal('SELECT note FROM orders UNION ALL SELECT name FROM customers ORDER BY note')).toEqual([]);
    expect(await refusal('SELECT note FROM orders UNION ALL SELECT ssn FROM customers ORDER BY note')).toEqual(['masked_column_in_predicate']);
  });

  it('allows predicates on clear columns next to masked output', async () => {
    expect(new Set(await refusal("SELECT ssn, card FROM customers WHERE name LIKE 'A%' AND id > 3 GROUP BY ssn, card, id ORDER BY id LIMIT 5"))).toEqual(new Set(['masked_column_in_predicate']));
    expect(await refusal("SELECT ssn, card FROM customers WHERE name LIKE 'A%' AND id > 3 ORDER BY id LIMIT 5")).toEqual([]);
  });
});

describe('MySQL masking: writes', () => {
  it('refuses copying a masked value into a clear column (INSERT … SELECT)', async () => {
    expect(await refusal('INSERT INTO orders (note) SELECT ssn FROM customers')).toEqual(['masked_column_in_write']);
    expect(await refusalMessage('INSERT INTO orders (note) SELECT ssn FROM customers')).toContain('into shop.orders.note');
  });

  it('refuses UPDATE … SET copying a masked value into a clear column, also across a join', async () => {
    expect(await refusal('UPDATE customers SET name = email WHERE id = 1')).toEqual(['masked_column_in_write']);
    expect(await refusal('UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.note = c.card')).toEqual(['masked_column_in_write']);
  });

  it('allows writing a masked column back into itself, or into a column that hides everything (redact)', async () => {
    expect(await refusal('UPDATE customers SET ssn = ssn WHERE id = 1')).toEqual([]);
    expect(await refusal('UPDATE customers SET ssn = card WHERE id = 1')).toEqual([]);
  });

  it('refuses copying into a column that shows more than the source (email into last4)', async () => {
    expect(await refusal('UPDATE customers SET card = email WHERE id = 1')).toEqual(['masked_column_in_write']);
  });

  it('refuses INSERT … VALUES with a masked sub-query, SELECT … INTO @var and CREATE TABLE … AS', async () => {
    expect(await refusal('INSERT INTO orders (note) VALUES ((SELECT ssn FROM customers LIMIT 1))')).toEqual(['masked_column_in_write']);
    expect(await refusal('SELECT ssn INTO @x FROM customers')).toEqual(['masked_column_in_write']);
    expect(await refusal('CREATE TABLE t AS SELECT card FROM customers')).toEqual(['masked_column_in_write']);
  });

  it('follows VALUES(col) in ON DUPLICATE KEY UPDATE to the inserted value', async () => {
    expect(await refusal("INSERT INTO orders (id, note) VALUES (1, 'x') ON DUPLICATE KEY UPDATE note = VALUES(note)")).toEqual([]);
    expect(await refusal('INSERT INTO customers (id, ssn) SELECT id, card FROM customers ON DUPLICATE KEY UPDATE name = VALUES(ssn)')).toEqual(['masked_column_in_write']);
  });

  it('refuses SET @v = a masked value', async () => {
    expect(await refusal('SET @x = (SELECT ssn FROM customers LIMIT 1)')).toEqual(['masked_column_in_write']);
  });

  it('refuses comparing a masked value with a value of unknown type inside a write (strict mode makes the conversion an error)', async () => {
    expect(await refusal('UPDATE customers SET ssn = (ssn = id) WHERE id = 1')).toEqual(['masked_column_in_fallible_expression']);
    expect(await refusal("UPDATE customers SET ssn = (ssn = 'x') WHERE id = 1")).toEqual([]);
  });

  it('refuses a masked predicate in DELETE', async () => {
    expect(await refusal("DELETE FROM customers WHERE ssn = 'x'")).toEqual(['masked_column_in_predicate']);
  });
});

describe('MySQL masking: applyMasking over planted rows', () => {
  it('masks every planted value by plan and by server origin; none appears in the output', async () => {
    const p = await plan('SELECT id, ssn AS x, card, email, CONCAT(name, ssn) AS y FROM customers');
    const fields = [
      field('id', { schema: 'shop', table: 'customers', column: 'id' }),
      field('x', { schema: 'shop', table: 'customers', column: 'ssn' }),
      field('card', { schema: 'shop', table: 'customers', column: 'card' }),
      field('email', { schema: 'shop', table: 'customers', column: 'email' }),
      field('y'),
    ];
    const rows: Cell[][] = [['1', SSN, CARD, EMAIL, `Ada${SSN}`], ['2', null, null, null, null]];
    await prepareMysqlOrigins(p, fields);
    const out = applyMasking(p, fields, rows);
    const text = JSON.stringify(out);
    expect(text).not.toContain('6789');
    expect(text).not.toContain('411111');
    expect(text).not.toContain('ada@');
    expect(out.rows[0]).toEqual(['1', '[redacted]', '****1111', '***@example.com', '[redacted]']);
    expect(out.rows[1]).toEqual(['2', null, null, null, '[redacted]']);
    expect(out.columns.map((c) => c.masked)).toEqual([false, 'redact', 'last4', 'email', 'redact']);
  });

  it('masks a column whose server origin is masked even when the AST lineage is misaligned', async () => {
    // The plan thinks column 1 is `id`; the server says it is customers.ssn.
    const p = await plan('SELECT id FROM customers');
    const fields = [field('id', { schema: 'shop', table: 'customers', column: 'ssn' })];
    await prepareOrigins(p, fields);
    const out = applyMasking(p, fields, [[SSN]]);
    expect(out.rows[0]![0]).toBe('[redacted]');
  });

  it('maps a view origin to its base column, and an unknown origin table fails closed', async () => {
    const p = await plan('SELECT contact FROM customer_contacts');
    const fields = [field('contact', { schema: 'shop', table: 'customer_contacts', column: 'contact' })];
    await prepareMysqlOrigins(p, fields);
    expect(applyMasking(p, fields, [[EMAIL]]).rows[0]![0]).toBe('***@example.com');

    const q = await plan('SELECT note FROM orders');
    const unknown = [field('a', { schema: '', table: 'tmp_derived', column: 'x' })];
    await prepareMysqlOrigins(q, unknown);
    expect(applyMasking(q, unknown, [[SSN]]).rows[0]).toEqual(['[redacted]']);
  });

  it('does not take a derived table named like a real table for that table (the server names only the alias)', async () => {
    // MySQL and MariaDB report `orders` (the alias, in the current database) as the origin table.
    const sql = 'SELECT orders.note FROM (SELECT ssn AS note FROM customers) AS orders';
    const p = await plan(sql);
    const fields = [field('note', { schema: 'shop', table: 'orders', column: 'note' })];
    await prepareMysqlOrigins(p, fields);
    expect(applyMasking(p, fields, [[SSN]]).rows[0]).toEqual(['[redacted]']);
    // Misaligned (the server returned another column too): the analysis did not see what ran, so
    // nothing is returned at all, and the catalog is read again.
    const q = await plan(sql);
    const two = [field('note', { schema: 'shop', table: 'orders', column: 'note' }), field('extra', { schema: 'shop', table: 'orders', column: 'id' })];
    const err = await prepareMysqlOrigins(q, two).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'query_failed', reasons: [{ code: 'result_shape_mismatch' }] });
  });

  it('masks every column of a statement whose positions are unknown unless the server names a clear origin', async () => {
    const p = await plan('SELECT * FROM secrets');
    const fields = [field('a'), field('b', { schema: 'shop', table: 'orders', column: 'total' })];
    await prepareMysqlOrigins(p, fields);
    const out = applyMasking(p, fields, [[SSN, '10']]);
    expect(out.rows[0]).toEqual(['[redacted]', '10']);
  });
});

describe('MySQL masking: database errors', () => {
  const truncated = { sqlstate: 'HY000', message: `Truncated incorrect DOUBLE value: '${SSN}'` };
  const duplicate = { sqlstate: '23000', message: `Duplicate entry '${CARD}' for key 'customers.card'` };
  const date = { sqlstate: '22007', message: `Incorrect datetime value: '${SSN}' for column 'x' at row 1` };

  it('withholds the server text when a masked column is in reach, for MySQL SQLSTATEs', async () => {
    const p = await plan('SELECT card, ssn FROM customers');
    for (const err of [truncated, duplicate, date]) {
      const { info, withheld } = describeDatabaseError(err, p, 'SELECT card, ssn FROM customers');
      expect(withheld).toBe(true);
      expect(JSON.stringify(info)).not.toMatch(/6789|411111/);
      expect(info.sqlstate).toBe(err.sqlstate);
    }
    expect(describeDatabaseError(truncated, p).info.message).toContain('a general error the server gives no finer class for (MySQL HY000)');
    expect(describeDatabaseError(duplicate, p).info.message).toContain('integrity constraint violation');
  });

  it("returns MySQL's unknown-column message when it quotes only the agent's own names", async () => {
    const p = await plan('SELECT nosuch FROM customers');
    const err = { sqlstate: '42S22', message: "Unknown column 'nosuch' in 'field list'" };
    expect(describeDatabaseError(err, p, 'SELECT nosuch FROM customers')).toEqual({ info: err, withheld: false });
    const sneaky = { sqlstate: '42S22', message: `Unknown column '${SSN}' in 'field list'` };
    expect(describeDatabaseError(sneaky, p, 'SELECT nosuch FROM customers').withheld).toBe(true);
  });

  it('keeps the server text, scrubbed by the detectors, when no masked column is in reach', async () => {
    const p = await plan('SELECT note FROM orders');
    const { info, withheld } = describeDatabaseError({ sqlstate: '23000', message: `Duplicate entry '${CARD}' for key 'orders.note'` }, p);
    expect(withheld).toBe(false);
    expect(info.message).not.toContain(CARD);
  });
});
