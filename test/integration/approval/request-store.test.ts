import { describe, it, expect, beforeAll } from 'vitest';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ContainerClient } from '@azure/storage-blob';
import { createBlobRequestStore } from '../../../src/approval/store/blob-request-store.js';
import { updateRequest, type RequestStore } from '../../../src/approval/store/request-store.js';
import { createApprovalDecisions } from '../../../src/approval/workflow/decide.js';
import { createBlobAuditLog } from '../../../src/audit/blob-log.js';
import { demoPolicy } from '../../../src/local/demo.js';
import { validatePolicy } from '../../../src/policy/load.js';
import { silentLogger } from '../../../src/log.js';
import { systemClock, type AuditLog } from '../../../src/broker/ports.js';
import { sqlHash } from '../../../src/sql/analyze.js';
import type { Principal } from '../../../src/identity/principal.js';
import type { ApprovalRequestRecord, DecisionEvent } from '../../../src/approval/types.js';

let store: RequestStore;
let audit: AuditLog;

beforeAll(async () => {
  const suffix = randomBytes(5).toString('hex');
  store = createBlobRequestStore({ containerClient: new ContainerClient(inject('blobConnectionString'), `requests-${suffix}`) });
  const auditContainer = new ContainerClient(inject('blobConnectionString'), `audit-${suffix}`);
  audit = createBlobAuditLog({ containerClient: auditContainer });
});

function newRecord(overrides: Partial<ApprovalRequestRecord> = {}): ApprovalRequestRecord {
  const now = new Date();
  const sql = 'delete from orders';
  return {
    v: 1,
    requestId: `r_${randomBytes(12).toString('base64url')}`,
    sessionId: `s_${randomBytes(12).toString('base64url')}`,
    state: 'pending_approval',
    sqlHash: sqlHash(sql),
    sql,
    params: [],
    reasons: [{ code: 'update_without_where', message: 'DELETE without WHERE.' }],
    requester: { oid: 'dev-writer', sub: 'writer', roles: ['Query.Write'], groups: [], idtyp: 'app', name: 'Writer' },
    connection: 'sales',
    profile: 'agent-write',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 60_000).toISOString(),
    updatedAt: now.toISOString(),
    ...overrides,
  };
}

const approver = (oid: string): Principal => ({ oid, sub: oid, name: `Approver ${oid}`, roles: ['Query.Approve'], groups: [], idtyp: 'user', exp: 0 });

describe('request store on Blob Storage (Azurite)', () => {
  it('stores, reads back, and refuses a second create of the same id', async () => {
    const record = newRecord();
    await store.create(record);
    const got = await store.get(record.requestId);
    expect(got?.record).toEqual(record);
    expect(got?.etag).toBeTruthy();
    await expect(store.create(record)).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.get('r_doesnotexist0')).toBeUndefined();
    await expect(store.get('../audit/x')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('writes conditionally: of two writers holding the same ETag exactly one wins', async () => {
    const record = newRecord();
    await store.create(record);
    const { etag } = (await store.get(record.requestId))!;
    const results = await Promise.all([
      store.replace({ ...record, state: 'approved' }, etag),
      store.replace({ ...record, state: 'rejected' }, etag),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = (await store.get(record.requestId))!.record.state;
    expect(after).toBe(results[0] ? 'approved' : 'rejected');
  });

  it('two approvers racing: exactly one decision is taken, the other gets 409 and is recorded', async () => {
    const policy = validatePolicy(demoPolicy());
    const raised: DecisionEvent[] = [];
    const decisions = createApprovalDecisions({
      store,
      audit,
      policy,
      clock: systemClock,
      log: silentLogger,
      client: { start: async () => undefined, raiseDecision: async (_id, e) => void raised.push(e) },
    });
    const record = newRecord();
    await store.create(record);
    // The requester's session exists (the pipeline's decision event made it).
    await audit.append(record.sessionId, { type: 'decision', requestId: record.requestId, actor: { oid: record.requester.oid }, data: {} });

    const outcomes = await Promise.allSettled([
      decisions.decide(record, approver('approver-a'), { decision: 'approve', sqlHash: record.sqlHash }),
      decisions.decide(record, approver('approver-b'), { decision: 'reject', sqlHash: record.sqlHash }),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 'conflict', status: 409, reasons: [{ code: 'already_decided' }] });
    expect(raised).toHaveLength(1);

    const events = await audit.read(record.sessionId);
    expect(events.filter((e) => e.type === 'approval.decided')).toHaveLength(1);
    const refused = events.filter((e) => e.type === 'approval.attempt_refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.data).toMatchObject({ code: 'already_decided' });
    expect((await audit.verify(record.sessionId)).valid).toBe(true);
  });

  it('updateRequest re-reads and retries when it loses a race', async () => {
    const record = newRecord();
    await store.create(record);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => updateRequest(store, record.requestId, (r) => ({ ...r, params: [...r.params, i] }))),
    );
    expect(results.every((r) => r.changed)).toBe(true);
    expect(((await store.get(record.requestId))!.record.params as number[]).sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
