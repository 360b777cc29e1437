import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { ContainerClient } from '@azure/storage-blob';
import { demoPolicy } from '../../../src/local/demo.js';
import { runCli } from '../../../src/cli/run.js';
import { runDoctor, type DoctorLine } from '../../../src/doctor/checks.js';
import { doctorFromSettings } from '../../../src/doctor/from-settings.js';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
let dir = '';
let env: Record<string, string>;
const urlVar = `QB_DOCTOR_URL_${randomBytes(4).toString('hex').toUpperCase()}`;

beforeAll(async () => {
  db = await createDemoDatabase();
  dir = mkdtempSync(join(tmpdir(), 'qb-doctor-'));
  const policy = demoPolicy() as Record<string, any>;
  policy.connections.sales.credentials = { env: urlVar };
  // A profile whose database role the login was never granted: the doctor must say so.
  policy.profiles['broken-role'] = { match: { roles: ['Nobody'] }, connections: ['sales'], access: 'read', dbRole: 'qb_doctor_missing_role' };
  writeFileSync(join(dir, 'qb.yaml'), stringify(policy));
  env = {
    PATH: process.env.PATH ?? '',
    QB_CONFIG: join(dir, 'qb.yaml'),
    QB_AUDIT_CONNECTION_STRING: inject('blobConnectionString'),
    QB_AUDIT_CONTAINER: `audit-doctor-${randomBytes(5).toString('hex')}`,
    [urlVar]: db.brokerUrl,
  };
});
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function doctorCli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(['doctor', ...args], { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env, readStdin: async () => '' });
  return { code, out, err };
}

describe('qb doctor against Azurite and PostgreSQL', () => {
  it('prints one line per dependency: what works, what fails with a fix, what is not configured', async () => {
    const r = await doctorCli(['--json']);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as DoctorLine);
    const by = new Map(lines.map((l) => [l.check, l]));
    expect(by.get('entra')).toMatchObject({ status: 'skipped', detail: expect.stringContaining('not configured') });
    expect(by.get('audit.append')?.status).toBe('ok');
    expect(by.get('audit.worm')).toMatchObject({ status: 'skipped', detail: expect.stringContaining('not configured') });
    expect(by.get('keyvault')?.status).toBe('skipped');
    expect(by.get('servicebus')?.status).toBe('skipped');
    expect(by.get('teams')?.status).toBe('skipped');
    expect(by.get('connection.sales')).toMatchObject({ status: 'ok', detail: expect.stringContaining('reachable as qb_broker_') });
    expect(by.get('connection.sales.agent-read')).toMatchObject({ status: 'ok', detail: 'SET ROLE qb_agent_read works' });
    expect(by.get('connection.sales.broken-role')).toMatchObject({ status: 'fail', fix: expect.stringContaining('GRANT qb_doctor_missing_role') });
    expect(by.get('clock')?.status).toBe('ok');
    // One failure: exit 1, and the planted database password appears nowhere in the output.
    expect(r.code).toBe(1);
    expect(r.out + r.err).not.toContain(db.brokerPassword);
  });

  it('the human output has a fix under each failing line', async () => {
    const r = await doctorCli([]);
    expect(r.out).toMatch(/^FAIL connection\.sales\.broken-role: .*\n {5}fix: GRANT qb_doctor_missing_role/m);
    expect(r.out).toMatch(/^ok {3}audit\.append: /m);
    expect(r.err).toContain('1 check(s) failed');
  });

  it('the WORM check fails on a container that lets the probe be overwritten and deleted (Azurite has no policy)', async () => {
    const { deps, close } = await doctorFromSettings(env as NodeJS.ProcessEnv);
    try {
      const lines = await runDoctor({ ...deps, auditIsAzure: true });
      const worm = lines.find((l) => l.check === 'audit.worm');
      expect(worm).toMatchObject({ status: 'fail', detail: 'the audit container allowed overwrite and delete' });
      expect(worm?.fix).toContain('container-level');
    } finally {
      await close();
    }
  });

  it('with a tenant, unreachable Entra ID metadata is a failure with a fix', async () => {
    const { deps, close } = await doctorFromSettings(env as NodeJS.ProcessEnv);
    try {
      const closedPort = (() => fetch('http://127.0.0.1:9/')) as unknown as typeof fetch;
      const lines = await runDoctor({ ...deps, policy: { ...deps.policy, tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47' }, fetch: closedPort });
      expect(lines.find((l) => l.check === 'entra')).toMatchObject({ status: 'fail', fix: expect.stringContaining('login.microsoftonline.com') });
    } finally {
      await close();
    }
  });

  it('the probe blobs went to the audit container, not elsewhere', async () => {
    const container = new ContainerClient(env.QB_AUDIT_CONNECTION_STRING!, env.QB_AUDIT_CONTAINER!);
    expect(await container.exists()).toBe(true);
  });
});
