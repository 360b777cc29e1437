import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, holdClusterLock, type TestDatabase } from '../../helpers/db.js';
import { createJitRole, dropJitRole, runAsJitRole, sweepExpiredJitRoles, isJitRoleName } from '../../../src/db/jit.js';
import type { Queryable } from '../../../src/db/types.js';

/** The admin credential as the broker holds it: a pool on the connection's database. */
describe('just-in-time roles on a real PostgreSQL', () => {
  let db: TestDatabase;
  let admin: pg.Pool;
  let adminUser: string;
  let target: { host: string; port: number; database: string; ssl: boolean };

  let releaseJitLock: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    releaseJitLock = await holdClusterLock('qb-tests-jit-roles');
    db = await createDemoDatabase();
    admin = new pg.Pool({ connectionString: db.adminUrl, max: 3 });
    admin.on('error', () => {}); // idle clients may be terminated by the tests' own role drops
    const url = new URL(db.adminUrl);
    adminUser = decodeURIComponent(url.username);
    target = { host: url.hostname, port: Number(url.port), database: db.name, ssl: false };
  });
  afterAll(async () => {
    await releaseJitLock?.();
    await admin?.end();
    await db?.drop();
  });

  const roleExists = async (role: string) => (await db.query('select 1 from pg_roles where rolname = $1', [role])).rowCount === 1;

  it('runs the approved statement as a JIT role that exists only while it runs', async () => {
    let seen: Record<string, unknown> | undefined;
    let sessionsDuring = 0;
    const updated = await runAsJitRole(admin, { requestId: 'req-approved-1', grantRole: 'qb_agent_write', ttlMs: 60_000, target }, async (client) => {
      const who = await client.query(
        `select current_user as "currentUser", session_user as "sessionUser",
                (select rolsuper from pg_roles where rolname = current_user) as super,
                exists (select 1 from pg_roles where rolname = current_user) as "roleExists",
                (select rolvaliduntil > now() from pg_roles where rolname = current_user) as "stillValid"`,
      );
      seen = who.rows[0];
      // Seen from outside at the same moment: the role and its one session.
      sessionsDuring = (await db.query('select 1 from pg_stat_activity where usename = $1', [seen?.currentUser])).rowCount ?? 0;
      const r = await client.query("update orders set status = 'cancelled' where id = 7");
      return r.rowCount;
    });
    expect(updated).toBe(1);
    const role = String(seen?.currentUser);
    expect(isJitRoleName(role)).toBe(true);
    expect(seen).toMatchObject({ sessionUser: role, super: false, roleExists: true, stillValid: true });
    expect(role).not.toBe(adminUser);
    expect(sessionsDuring).toBe(1);
    // Afterwards: the effect is there, the role is not.
    expect((await db.query("select status from orders where id = 7")).rows[0]?.status).toBe('cancelled');
    expect(await roleExists(role)).toBe(false);
  });

  it('holds only the profile role\'s privileges (agent SQL never runs with admin rights)', async () => {
    const error = await runAsJitRole(admin, { requestId: 'req-approved-2', grantRole: 'qb_agent_read', ttlMs: 60_000, target }, (client) =>
      client.query("update orders set status = 'x' where id = 1"),
    ).catch((e: unknown) => e as { code?: string });
    expect(error).toMatchObject({ code: '42501' }); // permission denied
    expect((await db.query('select status from orders where id = 1')).rows[0]?.status).not.toBe('x');
    const left = await db.query("select rolname from pg_roles where rolname like 'qb\\_jit\\_%' and shobj_description(oid, 'pg_authid') like '%req-approved-2%'");
    expect(left.rowCount).toBe(0); // dropped although the statement failed
  });

  it('ends the role\'s sessions when it is dropped', async () => {
    const jit = await createJitRole(admin, { requestId: 'req-drop', grantRole: 'qb_agent_read', ttlMs: 60_000 });
    const client = new pg.Client({ ...target, user: jit.role, password: jit.password });
    client.on('error', () => {});
    await client.connect();
    await expect(client.query('select count(*) from customers')).resolves.toBeTruthy();
    expect(await dropJitRole(admin, jit.role)).toBe(true);
    await expect(client.query('select 1')).rejects.toThrow();
    expect(await roleExists(jit.role)).toBe(false);
    expect(await dropJitRole(admin, jit.role)).toBe(false);
    await client.end().catch(() => {});
  });

  it('hands objects an approved DDL created to the profile role, so the drop succeeds', async () => {
    await db.query('grant create on schema public to qb_agent_write');
    try {
      await runAsJitRole(admin, { requestId: 'req-ddl', grantRole: 'qb_agent_write', ttlMs: 60_000, target }, (client) =>
        client.query('create table approved_archive (id int)'),
      );
      const owner = await db.query<{ owner: string }>("select tableowner as owner from pg_tables where tablename = 'approved_archive'");
      expect(owner.rows[0]?.owner).toBe('qb_agent_write');
    } finally {
      await db.query('drop table if exists approved_archive');
      await db.query('revoke create on schema public from qb_agent_write');
    }
  });

  it('after a crash (role created, never dropped), one sweep removes it and leaves live roles alone', async () => {
    const crashed = await createJitRole(admin, { requestId: 'req-crashed', grantRole: 'qb_agent_write', ttlMs: 1_500 });
    // The crashed run's connection may still be open.
    const orphan = new pg.Client({ ...target, user: crashed.role, password: crashed.password });
    orphan.on('error', () => {});
    await orphan.connect();
    const live = await createJitRole(admin, { requestId: 'req-live', grantRole: 'qb_agent_write', ttlMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, Math.max(0, crashed.validUntil.getTime() - Date.now()) + 50));
      const result = await sweepExpiredJitRoles(admin, new Date());
      expect(result.dropped).toContain(crashed.role);
      expect(result.dropped).not.toContain(live.role);
      expect(await roleExists(crashed.role)).toBe(false);
      expect(await roleExists(live.role)).toBe(true);
      await expect(orphan.query('select 1')).rejects.toThrow();
    } finally {
      await orphan.end().catch(() => {});
      await dropJitRole(admin, live.role);
    }
  });

  it('sweeps by age too, and never touches roles it did not create', async () => {
    // Created "two hours ago" with a three-hour lifetime: still valid, but older than an hour.
    const twoHoursAgo = { now: () => new Date(Date.now() - 2 * 3_600_000) };
    const old = await createJitRole(admin, { requestId: 'req-age', grantRole: 'qb_agent_read', ttlMs: 3 * 3_600_000, clock: twoHoursAgo });
    const notOurs = `qb_jit_not_ours_${Math.random().toString(36).slice(2, 8)}`;
    await db.query(`create role ${notOurs} nologin valid until '2000-01-01'`);
    try {
      const kept = await sweepExpiredJitRoles(admin, new Date(), { maxAgeMs: 3 * 3_600_000 });
      expect(kept.dropped).not.toContain(old.role);
      expect(await roleExists(old.role)).toBe(true);
      const swept = await sweepExpiredJitRoles(admin, new Date(), { maxAgeMs: 3_600_000 });
      expect(swept.dropped).toContain(old.role);
      expect(await roleExists(old.role)).toBe(false);
      // Expired and named qb_jit_*, but not in the format this module creates: reported, kept.
      expect(swept.ignored).toContain(notOurs);
      expect(await roleExists(notOurs)).toBe(true);
      await expect(dropJitRole(admin, notOurs)).rejects.toMatchObject({ code: 'internal_error' });
    } finally {
      await db.query(`drop role if exists ${notOurs}`);
      await dropJitRole(admin, old.role);
    }
  });

  it('never sends the password to the server: only its SCRAM verifier, which logs in', async () => {
    const sent: string[] = [];
    const recording: Queryable = {
      query: (text, values) => {
        sent.push(text, JSON.stringify(values ?? []));
        return admin.query(text, values);
      },
    };
    const jit = await createJitRole(recording, { requestId: 'req-secret', grantRole: 'qb_agent_read', ttlMs: 60_000 });
    try {
      expect(sent.join('\n')).not.toContain(jit.password);
      expect(sent.join('\n')).toContain('SCRAM-SHA-256$4096:');
      const stored = await db.query<{ note: string }>("select shobj_description(oid, 'pg_authid') as note from pg_roles where rolname = $1", [jit.role]);
      expect(stored.rows[0]?.note).not.toContain(jit.password);
      const client = new pg.Client({ ...target, user: jit.role, password: jit.password });
      await client.connect();
      const r = await client.query<{ u: string }>('select current_user as u');
      expect(r.rows[0]?.u).toBe(jit.role);
      await client.end();
      const wrong = new pg.Client({ ...target, user: jit.role, password: `${jit.password}x` });
      const refused = await wrong.connect().then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(refused?.code).toBe('28P01');
      expect(`${refused?.message}${refused?.stack}${JSON.stringify(refused)}`).not.toContain(jit.password);
    } finally {
      await dropJitRole(recording, jit.role);
    }
    expect(sent.join('\n')).not.toContain(jit.password);
  });
});
