import { describe, it, expect, vi, beforeAll, afterAll } from 'vitest';
import { app, InvocationContext, type Timer, type TimerFunctionOptions } from '@azure/functions';
import pg from 'pg';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoDatabase, holdClusterLock, type TestDatabase } from '../../helpers/db.js';
import { createJitRole } from '../../../src/db/jit.js';
import { demoPolicy } from '../../../src/local/demo.js';

const WRONG_ADMIN_PASSWORD = 'planted-Wrong-Admin-Pa55';

describe('JIT sweeper timer function', () => {
  let db: TestDatabase;
  let registered: { name: string; options: TimerFunctionOptions } | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'qb-sweeper-'));

  let releaseJitLock: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    releaseJitLock = await holdClusterLock('qb-tests-jit-roles');
    // The Functions host never runs in tests: capture the registration instead.
    vi.spyOn(app, 'timer').mockImplementation((name, options) => void (registered = { name, options }));
    await import('../../../functions/jit-sweeper.js');
    db = await createDemoDatabase();
  });
  afterAll(async () => {
    await releaseJitLock?.();
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('registers "jitSweeper" every five minutes', () => {
    expect(registered?.name).toBe('jitSweeper');
    expect(registered?.options.schedule).toBe('0 */5 * * * *');
    expect(typeof registered?.options.handler).toBe('function');
  });

  it('drops a crashed run\'s role with each connection\'s admin credential, and reports a refused admin without its password', async () => {
    const admin = new pg.Pool({ connectionString: db.adminUrl, max: 1 });
    admin.on('error', () => {});
    const crashed = await createJitRole(admin, { requestId: 'req-crash-sweeper', grantRole: 'qb_agent_write', ttlMs: 200 });
    await admin.end();
    await new Promise((r) => setTimeout(r, 300));

    const wrongAdmin = new URL(db.adminUrl);
    wrongAdmin.password = WRONG_ADMIN_PASSWORD;
    const policy = demoPolicy() as { connections: Record<string, unknown> };
    policy.connections = {
      sales: { credentials: { env: 'QB_SALES_DATABASE_URL' }, admin: { credentials: { env: 'QB_SALES_ADMIN_URL' } } },
      broken: { credentials: { env: 'QB_SALES_DATABASE_URL' }, admin: { credentials: { env: 'QB_BROKEN_ADMIN_URL' } } },
      readonly: { credentials: { env: 'QB_SALES_DATABASE_URL' } },
    };
    const policyPath = join(dir, 'qb.yaml');
    writeFileSync(policyPath, JSON.stringify(policy));
    vi.stubEnv('QB_CONFIG', policyPath);
    vi.stubEnv('QB_KEY_VAULT_URL', '');
    vi.stubEnv('QB_SALES_DATABASE_URL', db.brokerUrl);
    vi.stubEnv('QB_SALES_ADMIN_URL', db.adminUrl);
    vi.stubEnv('QB_BROKEN_ADMIN_URL', wrongAdmin.toString());

    const logs: string[] = [];
    const context = new InvocationContext({ functionName: 'jitSweeper', logHandler: (level, ...args) => logs.push(`${level}: ${args.join(' ')}`) });
    const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
    await registered?.options.handler(timer, context);

    expect((await db.query('select 1 from pg_roles where rolname = $1', [crashed.role])).rowCount).toBe(0);
    expect(logs.some((l) => l.startsWith('information') && l.includes('"sales"') && l.includes(crashed.role))).toBe(true);
    const errors = logs.filter((l) => l.startsWith('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/"broken".*password authentication failed/);
    expect(logs.join('\n')).not.toContain(WRONG_ADMIN_PASSWORD);
    expect(logs.join('\n')).not.toContain(db.brokerPassword);
  });
});
