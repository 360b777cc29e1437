/**
 * The requester's identity inside the database (issue 21): qb.* settings and application_name,
 * set transaction-locally with each statement. Checked by effect: a DBA's row-level security policy
 * gives two agents different rows through the same profile and the same single pooled connection,
 * a trigger records who wrote, pg_stat_activity names the request while it waits, and attempts to
 * set the settings are refused with the database unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let b: TestBroker;
const A = { sub: 'agent-a', oid: 'dev-agent-a' };
const B = { sub: 'agent-b', oid: 'dev-agent-b' };

const PLANT = `
  create table public.qb_owned (id int primary key, owner_oid text not null, note text not null);
  insert into public.qb_owned values (1, '${A.oid}', 'a-one'), (2, '${A.oid}', 'a-two'), (3, '${B.oid}', 'b-three');
  alter table public.qb_owned enable row level security;
  create policy qb_owned_own on public.qb_owned using (owner_oid = current_setting('qb.principal_oid'));
  grant select, update on public.qb_owned to qb_agent_read, qb_agent_write;
  create table public.qb_written_by (id int, principal_oid text, principal_name text, request_id text, session_id text, approved_by text, app_name text);
  create function public.qb_record_writer() returns trigger language plpgsql security definer as $$
  begin
    insert into public.qb_written_by values (new.id, current_setting('qb.principal_oid'), current_setting('qb.principal_name'),
      current_setting('qb.request_id'), current_setting('qb.session_id'), current_setting('qb.approved_by'), current_setting('application_name'));
    return new;
  end $$;
  create trigger qb_owned_written after update on public.qb_owned for each row execute function public.qb_record_writer();
`;

beforeAll(async () => {
  b = await startTestBroker({
    policyPatch: (p) => {
      // One connection per pool: both agents are served by the same backend, one after the other.
      p.connections.sales.poolSize = 1;
      p.profiles['agent-read'].lockTimeoutMs = 20_000;
      p.profiles['agent-read'].statementTimeoutMs = 30_000;
    },
  });
  await b.db.query(PLANT);
});
afterAll(async () => b?.close());

const ids = async (sub: string, roles = ['Query.Read']) => {
  const r = await b.query({ connection: 'sales', sql: 'select id from qb_owned order by id' }, roles, sub);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows.map((row: unknown[]) => Number(row[0]));
};

describe('row-level security sees the requesting agent', () => {
  it('two agents get their own rows through the same profile and the same pooled connection', async () => {
    const backends = new Set<number>();
    for (const sub of [A.sub, B.sub, A.sub]) {
      const r = await b.query({ connection: 'sales', sql: 'select pg_backend_pid() as pid' }, ['Query.Read'], sub);
      backends.add(Number(r.body.rows[0][0]));
    }
    expect(backends.size).toBe(1);
    expect(await ids(A.sub)).toEqual([1, 2]);
    expect(await ids(B.sub)).toEqual([3]);
    expect(await ids(A.sub)).toEqual([1, 2]);
    // the write profile's pool too
    expect(await ids(B.sub, ['Query.Write'])).toEqual([3]);
  });

  it('reading the settings returns the broker\'s values for this request', async () => {
    const r = await b.query(
      { connection: 'sales', sql: "select current_setting('qb.principal_oid'), current_setting('qb.principal_name'), current_setting('qb.request_id'), current_setting('qb.session_id'), current_setting('qb.approved_by'), current_setting('application_name')", sessionId: 'identity-session-1' },
      ['Query.Read'],
      A.sub,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const [oid, name, requestId, sessionId, approvedBy, appName] = r.body.rows[0];
    expect({ oid, name, requestId, sessionId, approvedBy }).toEqual({ oid: A.oid, name: `Test ${A.sub}`, requestId: r.body.requestId, sessionId: 'identity-session-1', approvedBy: '' });
    expect(appName).toBe(`qb ${r.body.requestId} Test ${A.sub}`);
  });

  it('a write is seen by the DBA\'s trigger as the requester\'s, and RLS limits what it can change', async () => {
    const r = await b.query({ connection: 'sales', sql: "update qb_owned set note = note || '!' where id > 0", sessionId: 'identity-session-2' }, ['Query.Write'], B.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rowCount).toBe(1);
    const notes = (await b.db.query<{ id: number; note: string }>('select id, note from qb_owned order by id')).rows;
    expect(notes).toEqual([{ id: 1, note: 'a-one' }, { id: 2, note: 'a-two' }, { id: 3, note: 'b-three!' }]);
    const written = (await b.db.query('select * from qb_written_by')).rows;
    expect(written).toEqual([
      { id: 3, principal_oid: B.oid, principal_name: `Test ${B.sub}`, request_id: r.body.requestId, session_id: 'identity-session-2', approved_by: '', app_name: `qb ${r.body.requestId} Test ${B.sub}` },
    ]);
  });

  it('after a request the connection is back to its start-up application_name', async () => {
    await ids(A.sub);
    const app = await b.db.query<{ application_name: string }>("select application_name from pg_stat_activity where application_name like 'query-broker/agent-read/%' or application_name like 'qb %'");
    expect(app.rows.map((x) => x.application_name)).toEqual(app.rows.map(() => 'query-broker/agent-read/read'));
    expect(app.rows.length).toBeGreaterThan(0);
  });
});

describe('an agent cannot set the settings', () => {
  const attempts = [
    `select set_config('qb.principal_oid', '${A.oid}', true)`,
    `select id from qb_owned where set_config('qb.principal_oid', '${A.oid}', true) is not null`,
    `set qb.principal_oid = '${A.oid}'`,
    `set local qb.principal_oid = '${A.oid}'`,
    `set session qb.principal_oid to '${A.oid}'`,
    'reset qb.principal_oid',
    'reset all',
    `update pg_settings set setting = '${A.oid}' where name = 'qb.principal_oid'`,
    `update qb_owned set note = 'forged' where set_config('qb.principal_oid', '${A.oid}', true) is not null`,
    `set application_name = 'someone else'`,
  ];
  for (const roles of [['Query.Read'], ['Query.Write']]) {
    it(`refused for a ${roles[0] === 'Query.Read' ? 'read' : 'write'} profile as a session state change, and nothing changed`, async () => {
      const before = (await b.db.query('select id, note from qb_owned order by id')).rows;
      for (const sql of attempts) {
        const r = await b.query({ connection: 'sales', sql }, roles, B.sub);
        expect(r.status, `${sql}: ${JSON.stringify(r.body)}`).toBe(403);
        expect(JSON.stringify(r.body.error.reasons), sql).toContain('session_state_change');
      }
      expect((await b.db.query('select id, note from qb_owned order by id')).rows).toEqual(before);
      expect(await ids(B.sub)).toEqual([3]);
    });
  }
});

describe('pg_stat_activity names the request while it runs', () => {
  it('another connection sees application_name with the request id during a lock wait, and the start-up name after', async () => {
    const locker = new pg.Client({ connectionString: b.db.adminUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table public.qb_owned in access exclusive mode');
      const running = b.query({ connection: 'sales', sql: 'select id from qb_owned' }, ['Query.Read'], A.sub);
      let seen: { application_name: string; wait_event_type: string | null } | undefined;
      for (let i = 0; i < 200 && !seen; i++) {
        const r = await b.db.query<{ application_name: string; wait_event_type: string | null }>(
          "select application_name, wait_event_type from pg_stat_activity where application_name like 'qb r\\_%' and wait_event_type = 'Lock'",
        );
        seen = r.rows[0];
        if (!seen) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await locker.query('commit');
      const r = await running;
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(seen).toBeDefined();
      expect(seen!.application_name).toBe(`qb ${r.body.requestId} Test ${A.sub}`);
      const after = await b.db.query("select count(*)::int as n from pg_stat_activity where application_name like 'qb r\\_%'");
      expect(after.rows[0]!.n).toBe(0);
    } finally {
      await locker.end();
    }
  });
});
