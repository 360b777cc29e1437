import { describe, it, expect, beforeAll } from 'vitest';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ContainerClient } from '@azure/storage-blob';
import { createBlobRequestStore } from '../../../src/approval/store/blob-request-store.js';
import type { RequestStore } from '../../../src/approval/store/request-store.js';
import { createApprovalDecisions, refusal, unverifiedActor } from '../../../src/approval/workflow/decide.js';
import { createBlobAuditLog } from '../../../src/audit/blob-log.js';
import { demoPolicy } from '../../../src/local/demo.js';
import { validatePolicy } from '../../../src/policy/load.js';
import type { AuditLog } from '../../../src/broker/ports.js';
import type { Logger } from '../../../src/log.js';
import { sqlHash } from '../../../src/sql/analyze.js';
import type { Principal } from '../../../src/identity/principal.js';
import type { ApprovalRequestRecord } from '../../../src/approval/types.js';

let store: RequestStore;
let audit: AuditLog;

beforeAll(() => {
  const suffix = randomBytes(5).toString('hex');
  store = createBlobRequestStore({ containerClient: new ContainerClient(inject('blobConnectionString'), `requests-${suffix}`) });
  audit = createBlobAuditLog({ containerClient: new ContainerClient(inject('blobConnectionString'), `audit-${suffix}`) });
});

function newRecord(): ApprovalRequestRecord {
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
    reasons: [{ code: 'delete_without_where', message: 'DELETE without WHERE.' }],
    requester: { oid: 'dev-writer', sub: 'writer', roles: ['Query.Write'], groups: [], idtyp: 'app', name: 'Writer' },
    connection: 'sales',
    profile: 'agent-write',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
    updatedAt: now.toISOString(),
  };
}

describe('refused attempts of unverified callers are throttled before they reach the audit chain', () => {
  it('records 5 a minute per request, answers every one, and reports the suppressed count in the next recorded refusal', async () => {
    let now = Date.now();
    const logs: string[] = [];
    const log: Logger = { info: () => undefined, warn: (m) => void logs.push(m), error: (m) => void logs.push(m) };
    const decisions = createApprovalDecisions({
      store,
      audit,
      policy: validatePolicy(demoPolicy()),
      clock: { now: () => new Date(now) },
      log,
      client: { start: async () => undefined, raiseDecision: async () => undefined },
    });
    const record = newRecord();
    await store.create(record);
    await audit.append(record.sessionId, { type: 'decision', requestId: record.requestId, actor: { oid: record.requester.oid }, data: {} });

    const anonymous = () => decisions.refuse(record, unverifiedActor(), refusal('invalid_token', 'unauthenticated', 'Sign in.'), { clientAddress: '127.0.0.1' });
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await anonymous());
    // Every caller still gets its refusal.
    expect(answers.every((e) => e.code === 'invalid_token' && e.status === 401)).toBe(true);
    let refused = (await audit.read(record.sessionId)).filter((e) => e.type === 'approval.attempt_refused');
    expect(refused).toHaveLength(5);
    expect(refused.every((e) => e.data.suppressed === undefined)).toBe(true);
    expect(logs.filter((m) => /throttled/.test(m))).toHaveLength(1);

    // A verified caller's refusal is never throttled (the per-identity rate limit covers them).
    const outsider: Principal = { oid: 'dev-outsider', sub: 'outsider', roles: ['Query.Read'], groups: [], idtyp: 'user', exp: 0 };
    await expect(decisions.decide(record, outsider, { decision: 'approve', sqlHash: record.sqlHash })).rejects.toMatchObject({ status: 403 });
    refused = (await audit.read(record.sessionId)).filter((e) => e.type === 'approval.attempt_refused');
    expect(refused.map((e) => e.data.code)).toEqual([...Array(5).fill('unauthenticated'), 'not_an_approver']);

    // The next window: recorded again, with the count of those that were not.
    now += 60_000;
    await anonymous();
    refused = (await audit.read(record.sessionId)).filter((e) => e.type === 'approval.attempt_refused');
    expect(refused).toHaveLength(7);
    expect(refused[6]!.data).toMatchObject({ code: 'unauthenticated', suppressed: 25 });
    expect((await audit.verify(record.sessionId)).valid).toBe(true);
  });
});
