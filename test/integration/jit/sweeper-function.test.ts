import { describe, it, expect, vi, beforeAll, afterAll } from 'vitest';
import { app, InvocationContext, type Timer, type TimerFunctionOptions } from '@azure/functions';
import pg from 'pg';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoDatabase, type TestDatabase } from '../../helpers/db.js';
import { createJitRole, sweepJitRolesOnConnections, type JitAdminConfig } from '../../../src/db/jit.js';
import { ConnectionConfig } from '../../../src/policy/schema.js';
import { createEnvSecretProvider } from '../../../src/secrets/env.js';
import { demoPolicy } from '../../../src/local/demo.js';

describe('JIT sweeper timer function', () => {
  let db: TestDatabase;
  let registered: { name: string; options: TimerFunctionOptions } | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'qb-sweeper-'));

  beforeAll(async () => {
    // The Functions host never runs in tests: capture the registration instead.
    vi.spyOn(app, 'timer').mockImplementation((name, options) => void (registered = { name, options }));
    await import('../../../functions/jit-sweeper.js');
    db = await createDemoDatabase();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('registers "jitSweeper" every five minutes', () => {
    expect(registered?.name).toBe('jitSweeper');
    expect(registered?.options.schedule).toBe('0 */5 * * * *');
    expect(typeof registered?.options.handler).toBe('function');
  });

  it('runs against a policy whose connections have no JIT admin without touching anything', async () => {
    const policyPath = join(dir, 'qb.yaml');
    writeFileSync(policyPath, JSON.stringify(demoPolicy()));
    const logs: string[] = [];
    const context = new InvocationContext({ functionName: 'jitSweeper', logHandler: (level, ...args) => logs.push(`${level}: ${args.join(' ')}`) });
    const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
    vi.stubEnv('QB_CONFIG', policyPath);
    vi.stubEnv('QB_KEY_VAULT_URL', '');
    try {
      await registered?.options.handler(timer, context);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('drops a crashed run\'s role with the admin credential of each connection, and reports a refused admin without its password', async () => {
    const admin = new pg.Pool({ connectionString: db.adminUrl, max: 1 });
    const crashed = await createJitRole(admin, { requestId: 'req-crash-sweeper', grantRole: 'qb_agent_write', ttlMs: 200 });
    await admin.end();
    await new Promise((r) => setTimeout(r, 300));

    const wrongAdmin = new URL(db.adminUrl);
    wrongAdmin.password = 'planted-Wrong-Admin-Pa55';
    const env: NodeJS.ProcessEnv = { QB_ADMIN_URL: db.adminUrl, QB_BAD_ADMIN_URL: wrongAdmin.toString() };
    const withAdmin = (variable: string) => {
      const jitAdmin: JitAdminConfig = { credentials: { env: variable } };
      return Object.assign(ConnectionConfig.parse({ credentials: { env: 'QB_SALES_URL' } }), { jitAdmin });
    };
    const reports = await sweepJitRolesOnConnections(
      { sales: withAdmin('QB_ADMIN_URL'), broken: withAdmin('QB_BAD_ADMIN_URL'), plain: ConnectionConfig.parse({ credentials: { env: 'X' } }) },
      { secrets: createEnvSecretProvider(env), env },
      new Date(),
    );
    expect(reports.map((r) => r.connection)).toEqual(['sales', 'broken']);
    expect(reports[0]?.result?.dropped).toContain(crashed.role);
    expect((await db.query('select 1 from pg_roles where rolname = $1', [crashed.role])).rowCount).toBe(0);
    expect(reports[1]?.error).toMatch(/password authentication failed/);
    expect(JSON.stringify(reports)).not.toContain('planted-Wrong-Admin-Pa55');
  });
});
