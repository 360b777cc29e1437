/**
 * `qb doctor` on a MySQL connection (engine: mysql), against a private MariaDB: it logs in with the
 * connection's credentials over mysql2 (not the PostgreSQL driver), names the user the server sees,
 * and tries SET ROLE for every profile's dbRole, with the GRANT to run when the login lacks it.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { demoPolicy } from '../../../src/local/demo.js';
import { runCli } from '../../../src/cli/run.js';
import type { DoctorLine } from '../../../src/doctor/checks.js';
import { mysqlUnavailable, startTestMysql, type TestMysql } from '../../helpers/mariadb.js';

const WRONG_PASSWORD = 'planted-Wrong-Pa55word';

describe.skipIf(mysqlUnavailable() !== undefined)('qb doctor against a MySQL connection', () => {
  let my: TestMysql;
  let dir = '';
  let env: Record<string, string>;
  const suffix = randomBytes(4).toString('hex').toUpperCase();

  beforeAll(async () => {
    my = (await startTestMysql())!;
    await my.rootQuery(`CREATE ROLE qb_doctor_granted; GRANT SELECT ON \`${my.database}\`.* TO qb_doctor_granted; GRANT qb_doctor_granted TO '${my.user}'@'%'; CREATE ROLE qb_doctor_not_granted`);
    dir = mkdtempSync(join(tmpdir(), 'qb-doctor-my-'));
    const policy = demoPolicy() as Record<string, any>;
    policy.connections = {
      shop: { engine: 'mysql', credentials: { env: `QB_DOCTOR_MY_${suffix}` } },
      wrongpw: { engine: 'mysql', credentials: { env: `QB_DOCTOR_MY_WRONG_${suffix}` } },
    };
    policy.profiles = {
      granted: { match: { roles: ['A'] }, connections: ['shop'], access: 'read', dbRole: 'qb_doctor_granted' },
      missing: { match: { roles: ['B'] }, connections: ['shop'], access: 'read', dbRole: 'qb_doctor_not_granted' },
      other: { match: { roles: ['C'] }, connections: ['wrongpw'], access: 'read', dbRole: 'qb_doctor_granted' },
    };
    policy.masking.rules = [];
    writeFileSync(join(dir, 'qb.yaml'), stringify(policy));
    const wrong = new URL(my.url);
    wrong.password = WRONG_PASSWORD;
    env = {
      PATH: process.env.PATH ?? '',
      QB_CONFIG: join(dir, 'qb.yaml'),
      QB_AUDIT_CONNECTION_STRING: inject('blobConnectionString'),
      QB_AUDIT_CONTAINER: `audit-doctor-my-${randomBytes(5).toString('hex')}`,
      [`QB_DOCTOR_MY_${suffix}`]: my.url,
      [`QB_DOCTOR_MY_WRONG_${suffix}`]: wrong.toString(),
    };
  }, 120_000);

  afterAll(async () => {
    await my?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the login user, SET ROLE per profile, the GRANT that is missing, and a refused login without its password', async () => {
    let out = '';
    let err = '';
    await runCli(['doctor', '--json'], { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env, readStdin: async () => '' });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as DoctorLine);
    const by = new Map(lines.map((l) => [l.check, l]));
    expect(by.get('connection.shop'), out + err).toMatchObject({ status: 'ok', detail: `reachable as ${my.user}@%` });
    expect(by.get('connection.shop.granted')).toMatchObject({ status: 'ok', detail: 'SET ROLE qb_doctor_granted works' });
    expect(by.get('connection.shop.missing')).toMatchObject({ status: 'fail', fix: expect.stringContaining(`GRANT qb_doctor_not_granted TO '${my.user}'@'%'`) });
    expect(by.get('connection.wrongpw')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/Access denied/) });
    expect(by.has('connection.wrongpw.other')).toBe(false);
    expect(out + err).not.toContain(WRONG_PASSWORD);
    expect(out + err).not.toContain(my.password);
  });
});
