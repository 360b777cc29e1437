/**
 * The impact preview of a MySQL connection (`engine: mysql`) against a real MariaDB: a held UPDATE
 * or DELETE shows on the review page the exact number of rows it would touch and the first 10,
 * masked for the approver, computed by SELECTs built on the statement's tree and run read-only on
 * the profile's MySQL read pool; what cannot be built or would be refused as a read says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../helpers/mariadb.js';
import { createDemoRoles } from '../helpers/mysql-roles.js';
import { startApprovalBroker, WRITER, APPROVER, READER, type ApprovalTestBroker } from '../integration/approval/harness.js';
import { computeImpact } from '../../src/approval/review/impact.js';
import { mysqlPreviewQueries } from '../../src/engine/mysql/preview.js';
import type { ApprovalRequestRecord } from '../../src/approval/types.js';
import type { Principal } from '../../src/identity/principal.js';

const SSN = '987-65-4320';
const EMAIL = 'grace-planted@example.com';
const ROWS = 30;

describe.skipIf(mysqlUnavailable() !== undefined)('impact preview on a MySQL connection', () => {
  let my: TestMysql;
  let b: ApprovalTestBroker;
  const env = `QB_TEST_MYSQL_${randomBytes(4).toString('hex').toUpperCase()}`;

  beforeAll(async () => {
    my = (await startTestMysql())!;
    await createDemoRoles(my);
    await my.rootQuery(`CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100), ssn VARCHAR(11), team INT)`);
    // Rows 1..30; team = id % 3; the planted values sit on the rows of team 1.
    const values = Array.from({ length: ROWS }, (_, i) => {
      const id = i + 1;
      const planted = id % 3 === 1;
      return `(${id}, 'person ${id}', '${planted ? EMAIL : `p${id}@example.org`}', '${planted ? SSN : `000-00-${String(id).padStart(4, '0')}`}', ${id % 3})`;
    });
    await my.rootQuery(`INSERT INTO people VALUES ${values.join(', ')}`);
    await my.rootQuery(`CREATE TABLE teams (id INT PRIMARY KEY, label VARCHAR(20))`);
    await my.rootQuery(`INSERT INTO teams VALUES (0, 'zero'), (1, 'one'), (2, 'two')`);
    process.env[env] = my.url;
    b = await startApprovalBroker({
      policyPatch: (p) => {
        p.connections.shop = { engine: 'mysql', credentials: { env } };
        for (const profile of Object.values(p.profiles) as { connections: string[] }[]) profile.connections.push('shop');
        p.masking.rules.push({ column: `${my.database}.people.ssn`, with: 'redact' }, { column: `${my.database}.people.email`, with: 'email' });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await my?.stop();
    delete process.env[env];
  });

  const snapshot = async () => JSON.stringify(await my.rootQuery('SELECT * FROM people ORDER BY id'));
  const approverToken = () => b.tokenFor([...APPROVER.roles], APPROVER.sub);
  const hold = async (sql: string, params: unknown[] = []) => {
    const held = await b.query({ connection: 'shop', sql, params, reason: 'impact preview' }, [...WRITER.roles], WRITER.sub);
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    return held.body.requestId as string;
  };
  const reviewPage = async (requestId: string) => {
    const res = await b.fetch(`/api/approvals/${requestId}`, { headers: { authorization: `Bearer ${await approverToken()}` } });
    expect(res.status).toBe(200);
    return await res.text();
  };
  const approver = (roles: string[]): Principal => ({ oid: 'dev-approver-x', sub: 'approver-x', roles, groups: [], idtyp: 'user', exp: 0 });
  const record = (sql: string, params: unknown[] = []): ApprovalRequestRecord => {
    const now = new Date().toISOString();
    return {
      v: 1, requestId: 'r_myimpacttest0000000000', sessionId: 's_myimpacttest', state: 'pending_approval', sqlHash: '0'.repeat(64), sql, params, reasons: [],
      requester: { oid: `dev-${WRITER.sub}`, sub: WRITER.sub, roles: [...WRITER.roles], groups: [], idtyp: 'app' },
      connection: 'shop', profile: 'agent-write', createdAt: now, expiresAt: now, updatedAt: now,
    } as ApprovalRequestRecord;
  };
  const impact = (sql: string, params: unknown[] = [], roles = ['Query.Approve']) => computeImpact({ executor: () => b.runtime.broker, policy: b.runtime.policy }, record(sql, params), approver(roles));

  it('a held DELETE with WHERE: the review page shows the exact count and rows, masked; the table is unchanged', async () => {
    const before = await snapshot();
    // 20 rows match (teams 1 and 2): over the approval threshold of 10, so it is held.
    const requestId = await hold('DELETE FROM people WHERE team <> ? AND id > ?', [0, 0]);
    const html = await reviewPage(requestId);
    expect(html).toContain('<strong id="impact-count">20</strong>');
    expect(html).toContain('id="impact-computed-at"');
    const table = /<table id="impact-rows">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
    expect((table.match(/<tr>/g) ?? []).length).toBe(11); // the header and the first 10
    expect(table).toContain('person 2');
    expect(table).not.toContain('person 3<');
    for (const planted of [SSN, EMAIL]) expect(html).not.toContain(planted);
    // The card's one line carries the count only.
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.notifications.find((x) => x.requestId === requestId)?.impact).toMatch(/^would touch 20 row\(s\) \(computed /);
    expect(await snapshot()).toBe(before);
  });

  it('counts and shows only what the statement would touch: its ORDER BY and LIMIT, parameters of SET left out', async () => {
    const limited = await impact('DELETE FROM people WHERE team = ? ORDER BY id DESC LIMIT 4', [1]);
    if (limited?.kind !== 'rows') throw new Error(JSON.stringify(limited));
    expect(limited.rowCount).toBe(4);
    expect(limited.rows.map((r) => Number(r[0]))).toEqual([28, 25, 22, 19]);

    const update = await impact('UPDATE people AS p SET name = ?, team = ? WHERE p.team = ? AND p.id <= ?', ['renamed', 9, 2, 11]);
    if (update?.kind !== 'rows') throw new Error(JSON.stringify(update));
    expect(update.rowCount).toBe(4); // ids 2, 5, 8, 11
    expect(update.rows.map((r) => Number(r[0])).sort((x, y) => x - y)).toEqual([2, 5, 8, 11]);
    expect(update.columns.map((c) => [c.name, c.masked])).toEqual([['id', false], ['name', false], ['email', 'email'], ['ssn', 'redact'], ['team', false]]);

    const exempt = await impact('UPDATE people SET name = ? WHERE team = ? ORDER BY id LIMIT 2', ['x', 1], ['Query.Approve', 'PII.Read']);
    if (exempt?.kind !== 'rows') throw new Error(JSON.stringify(exempt));
    expect(exempt.rowCount).toBe(2);
    expect(JSON.stringify(exempt.rows)).toContain(SSN);
    expect(Number((await my.rootQuery<{ n: number }>("SELECT COUNT(*) AS n FROM people WHERE name IN ('x', 'renamed')"))[0]!.n)).toBe(0);
  });

  it('an UPDATE whose preview SELECT would be refused as a read shows the unavailable sentence', async () => {
    const before = await snapshot();
    // RAND() may be called by a write, not by a read (the MySQL read allow-list): no preview is run.
    const requestId = await hold('UPDATE people SET name = ? WHERE RAND() < 2', ['changed']);
    const html = await reviewPage(requestId);
    expect(html).toMatch(/id="impact-unavailable"[^>]*>No preview: The preview query would not be allowed as a read on this profile \(volatile_function\)/);
    expect(html).not.toContain('impact-count');
    expect(await snapshot()).toBe(before);
  });

  it('an UPDATE whose preview would reveal masked values says so', async () => {
    const p = await impact("UPDATE people SET name = 'n' WHERE CAST(ssn AS SIGNED) > 0");
    expect(p).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^The preview would reveal masked values \(masked_/) });
    expect(JSON.stringify(p)).not.toContain(SSN);
  });

  it('a multi-table UPDATE or DELETE says its rows are not previewed', async () => {
    const before = await snapshot();
    const requestId = await hold('DELETE people FROM people JOIN teams ON people.team = teams.id WHERE teams.label <> ?', ['none']);
    const html = await reviewPage(requestId);
    expect(html).toMatch(/id="impact-unavailable"[^>]*>No preview: The statement changes rows through several tables/);
    expect(await impact('UPDATE people, teams SET people.name = teams.label WHERE people.team = teams.id')).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/several tables/) });
    expect(await snapshot()).toBe(before);
  });

  it('a held TRUNCATE and DROP TABLE show each table\'s row estimate and size from information_schema; nothing is emptied or dropped', async () => {
    const before = await snapshot();
    const truth = (await my.rootQuery<{ TABLE_ROWS: number; bytes: number }>(`SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'people'`))[0]!;
    const truncate = await reviewPage(await hold('TRUNCATE TABLE people'));
    expect(truncate).toContain(`<ul id="impact-objects"><li>table <code>${my.database}.people</code>, about <strong>${Number(truth.TABLE_ROWS).toLocaleString('en-US')}</strong> rows`);
    expect(truncate).toContain(`(${Number(truth.bytes).toLocaleString('en-US')} bytes`);
    const drop = await impact(`DROP TABLE IF EXISTS people, ${my.database}.no_such_table`);
    if (drop?.kind !== 'objects') throw new Error(JSON.stringify(drop));
    expect(drop.statement).toBe('DROP TABLE');
    expect(drop.objects).toEqual(expect.arrayContaining([
      { name: `${my.database}.no_such_table`, exists: false },
      expect.objectContaining({ name: `${my.database}.people`, exists: true, kind: 'table', totalBytes: Number(truth.bytes) }),
    ]));
    expect(await impact('ALTER TABLE people ADD COLUMN extra INT')).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^ALTER is not previewed on MySQL connections/) });
    expect(await impact('DROP VIEW IF EXISTS some_view')).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^DROP VIEW is not previewed on MySQL connections/) });
    expect(await snapshot()).toBe(before);
  });

  it('a WHERE that reads session state gets no preview: the read-only preview session is not the session the approved write runs in', async () => {
    // 12 rows: over the approval threshold of 10. The preview runs in a READ ONLY transaction
    // (tx_read_only = 1, a row cap in sql_select_limit); the approved write in a read-write session.
    await my.rootQuery('CREATE TABLE ledger (id INT PRIMARY KEY, note VARCHAR(20))');
    await my.rootQuery(`INSERT INTO ledger VALUES ${Array.from({ length: 12 }, (_, i) => `(${i + 1}, 'n${i + 1}')`).join(', ')}`);
    const sql = 'DELETE FROM ledger WHERE id > ? AND @@tx_read_only = 0';
    const requestId = await hold(sql, [0]);
    const html = await reviewPage(requestId);
    // Before: "Would touch 0 row(s)" on the page and the card, for a statement that deletes all 12.
    expect(html).not.toContain('impact-count');
    expect(html).toMatch(/id="impact-unavailable"[^>]*>No preview: The statement reads the session&#39;s own state \(@@tx_read_only\)/);
    for (let i = 0; i < 100 && !b.notifications.some((x) => x.requestId === requestId); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.notifications.find((x) => x.requestId === requestId)?.impact).toMatch(/^no preview: The statement reads the session's own state/);
    // What the write touches once approved: every row.
    const sqlHash = (await b.status(requestId, [...WRITER.roles], WRITER.sub)).body.sqlHash as string;
    expect((await b.decide(requestId, { decision: 'approve', sqlHash }, [...APPROVER.roles], APPROVER.sub)).status).toBe(200);
    const done = await b.pollUntilSettled(requestId, [...WRITER.roles], WRITER.sub);
    expect(done.state, JSON.stringify(done)).toBe('executed');
    expect(Number((await my.rootQuery<{ n: number }>('SELECT COUNT(*) AS n FROM ledger'))[0]!.n)).toBe(0);

    // The same for the other variables and for the session's user (an approved statement may run as a just-in-time user).
    for (const [where, shown] of [['@@sql_select_limit > 1000', '@@sql_select_limit'], ['@@session.tx_read_only = 0', '@@session.tx_read_only'], ['@@in_transaction = 0', '@@in_transaction'], ['USER() NOT LIKE ?', 'USER()'], ['CURRENT_USER() <> ?', 'CURRENT_USER()'], ['id IN (SELECT id FROM teams WHERE SESSION_USER() <> ?)', 'SESSION_USER()']] as const) {
      const params = where.includes('?') ? [0, 'x'] : [0];
      const p = await impact(`UPDATE people SET name = 'n' WHERE id > ? AND ${where}`, params);
      expect(p, where).toMatchObject({ kind: 'unavailable', message: expect.stringContaining(`reads the session's own state (${shown})`) });
    }
    // Nor through the server's tables of session state.
    for (const [where, shown] of [["(SELECT VARIABLE_VALUE FROM information_schema.SESSION_VARIABLES WHERE VARIABLE_NAME = 'TX_READ_ONLY') = 'OFF'", 'information_schema.SESSION_VARIABLES'], ["NOT EXISTS (SELECT 1 FROM INFORMATION_SCHEMA.PROCESSLIST WHERE INFO LIKE 'SELECT%')", 'INFORMATION_SCHEMA.PROCESSLIST']] as const) {
      const p = await impact(`UPDATE people SET name = 'n' WHERE id > ? AND ${where}`, [0]);
      expect(p, where).toMatchObject({ kind: 'unavailable', message: expect.stringContaining(`reads the server's own tables (${shown})`) });
    }
    // A variable in ORDER BY or WITH as well.
    expect(mysqlPreviewQueries('DELETE FROM people WHERE id > 0 ORDER BY IF(@@tx_read_only, id, -id) LIMIT 3', [], 10)).toMatchObject({ error: expect.stringContaining('(@@tx_read_only)') });
    expect(mysqlPreviewQueries('WITH w AS (SELECT @@tx_read_only AS r) DELETE FROM people WHERE team IN (SELECT r FROM w)', [], 10)).toMatchObject({ error: expect.stringContaining('(@@tx_read_only)') });
  });

  it('a word beginning with a digit, which the server and the parser read differently, is refused: no masked value through 0X1, no preview of other rows', async () => {
    // The server reads 0X1 as the derived column `0X1` (ssn); node-sql-parser read it as the hex literal 0x1 (no lineage: unmasked).
    const read = await b.query({ connection: 'shop', sql: 'SELECT 0X1 FROM (SELECT ssn AS `0X1` FROM people) AS d', params: [] }, [...READER.roles], READER.sub);
    expect(read.status, JSON.stringify(read.body)).toBe(400);
    expect(read.body.error.code).toBe('sql_parse_error');
    expect(read.body.error.reasons.map((r: { code: string }) => r.code)).toEqual(['ambiguous_number']);
    expect(read.body.error.hint).toMatch(/backquotes/);
    expect(JSON.stringify(read.body)).not.toContain(SSN);
    // The server reads 0e0 as the number 0 (every row), the parser read the column `0e0` (1000): the preview counted 0 rows.
    const before = await snapshot();
    const sql = 'DELETE FROM people WHERE id > (SELECT 0e0 FROM (SELECT 1000 AS `0e0`) AS d)';
    const held = await b.query({ connection: 'shop', sql, params: [], reason: 'impact preview' }, [...WRITER.roles], WRITER.sub);
    expect(held.status, JSON.stringify(held.body)).toBe(400);
    expect(held.body.error.code).toBe('sql_parse_error');
    expect(await impact(sql)).toMatchObject({ kind: 'unavailable', message: 'The statement could not be parsed for a preview.' });
    expect(await snapshot()).toBe(before);
  });

  it('a WITH query named like the table the statement changes gets no preview: the SELECT would read the query, not the table', async () => {
    // Before: "would touch 0 row(s)" (the empty query) for an UPDATE of every row of people.
    const p = await impact("WITH people AS (SELECT id, name, email, ssn, team FROM people WHERE id < 0) UPDATE people SET name = 'n' WHERE id > 0");
    expect(p).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^The statement's WITH defines a query named like the table it changes \(people\)/) });
    expect(mysqlPreviewQueries('WITH People AS (SELECT 1 AS id) DELETE FROM people WHERE id > 0', [], 10)).toMatchObject({ error: expect.stringMatching(/named like the table/) });
    // Qualified, the target is the table whatever the WITH names.
    const q = mysqlPreviewQueries(`WITH people AS (SELECT 1 AS id) DELETE FROM ${my.database}.people WHERE id IN (SELECT id FROM people)`, [], 10);
    if ('error' in q) throw new Error(q.error);
    expect(q.count).toBe(`WITH \`people\` AS (SELECT 1 AS \`id\`) SELECT COUNT(*) FROM \`${my.database}\`.\`people\` WHERE \`id\` IN (SELECT \`id\` FROM \`people\`)`);
  });

  it('a reserved word the server calls without parentheses, read by the parser as a column, gets no preview', async () => {
    // The server calls CURRENT_ROLE() (the profile's role: the IF gives 0, every row is updated);
    // the parser saw the derived column `current_role` (1000), and the preview counted 0 rows.
    const sql = "UPDATE people SET name = 'n' WHERE id > (SELECT IF(current_role = 1000, 1000, 0) FROM (SELECT 1000 AS `current_role`) AS d)";
    expect(await impact(sql)).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^The statement names CURRENT_ROLE, which the server reads as a built-in function/) });
    expect(mysqlPreviewQueries('DELETE FROM people WHERE id > 0 AND utc_date > 0', [], 10)).toMatchObject({ error: expect.stringMatching(/names UTC_DATE/) });
  });

  it('builds the SELECTs on the parsed tree, and gives only the WHERE\'s parameters', () => {
    const q = mysqlPreviewQueries('UPDATE people SET name = ? WHERE id IN (SELECT id FROM teams WHERE label = ?) ORDER BY id LIMIT ?', ['set-only', 'one', 3], 10);
    if ('error' in q) throw new Error(q.error);
    expect(q.params).toEqual(['one']);
    expect(q.count).toBe('SELECT COUNT(*) FROM (SELECT 1 FROM `people` WHERE `id` IN (SELECT `id` FROM `teams` WHERE `label` = ?) ORDER BY `id` ASC LIMIT 3) AS `qb_preview`');
    expect(q.rows).toBe('SELECT `people`.* FROM `people` WHERE `id` IN (SELECT `id` FROM `teams` WHERE `label` = ?) ORDER BY `id` ASC LIMIT 3');
    expect(mysqlPreviewQueries('DELETE FROM people LIMIT ?', ['3'], 10)).toMatchObject({ error: expect.stringMatching(/LIMIT/) });
  });
});
