/**
 * A real local broker (socket, embedded PostgreSQL database of its own, Azurite) with the
 * approval flow's test knobs: a short expiry and a recording notifier. Like
 * test/helpers/broker.ts, plus `approvals` options and helpers for the approval routes.
 */
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startLocalBroker, type LocalBroker, type LocalBrokerOptions } from '../../../src/local/host.js';
import { createJsonLogger } from '../../../src/log.js';
import type { AuditRecord } from '../../../src/broker/ports.js';
import type { ApprovalNotification } from '../../../src/approval/notify/notification.js';
import { createDemoSetup, type TestDatabase } from '../../helpers/db.js';

export interface ApprovalTestBroker extends LocalBroker {
  db: TestDatabase;
  logs: string[];
  /** notifications the flow sent (instead of Teams) */
  notifications: ApprovalNotification[];
  /** a token for these roles and subject (cached) */
  tokenFor(roles: string[], sub: string): Promise<string>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST /api/query as `sub` with `roles` */
  query(body: Record<string, unknown>, roles: string[], sub: string): Promise<{ status: number; body: any; headers: Headers }>;
  /** GET /api/requests/{id} as `sub` with `roles` */
  status(requestId: string, roles: string[], sub: string): Promise<{ status: number; body: any }>;
  /** poll the status until it leaves `pending_approval`/`approved` (or the time runs out) */
  pollUntilSettled(requestId: string, roles: string[], sub: string, timeoutMs?: number): Promise<any>;
  /** POST /api/approvals/{id} as JSON with a bearer token */
  decide(requestId: string, body: Record<string, unknown>, roles: string[], sub: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** the session's audit events of one request */
  events(sessionId: string, requestId: string): Promise<AuditRecord[]>;
}

export async function startApprovalBroker(
  options: { policyPatch?: (p: Record<string, any>) => void; approvals?: LocalBrokerOptions['approvals'] } = {},
): Promise<ApprovalTestBroker> {
  const { db, policy, releaseEnv } = await createDemoSetup(options.policyPatch);
  const logs: string[] = [];
  const notifications: ApprovalNotification[] = [];
  const broker = await startLocalBroker({
    policy,
    blobConnectionString: inject('blobConnectionString'),
    auditContainer: `audit-${randomBytes(6).toString('hex')}`,
    log: createJsonLogger((l) => logs.push(l)),
    approvals: {
      requestsContainer: `requests-${randomBytes(6).toString('hex')}`,
      notifier: { notify: async (n) => void notifications.push(n) },
      ...options.approvals,
    },
  });
  const tokens = new Map<string, string>();
  const tokenFor = async (roles: string[], sub: string) => {
    const key = `${sub}|${roles.join(',')}`;
    let t = tokens.get(key);
    if (!t) {
      t = await broker.token({ sub, roles, name: `Test ${sub}`, idtyp: roles.includes('Query.Approve') ? 'user' : 'app' });
      tokens.set(key, t);
    }
    return t;
  };
  const fetchIt = (path: string, init?: RequestInit) => fetch(`${broker.url}${path}`, init);
  const readJson = async (res: Response) => {
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
  const status = async (requestId: string, roles: string[], sub: string) => {
    const res = await fetchIt(`/api/requests/${requestId}`, { headers: { authorization: `Bearer ${await tokenFor(roles, sub)}` } });
    return { status: res.status, body: await readJson(res) };
  };
  return {
    ...broker,
    db,
    logs,
    notifications,
    tokenFor,
    fetch: fetchIt,
    async query(body, roles, sub) {
      const res = await fetchIt('/api/query', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(roles, sub)}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await readJson(res), headers: res.headers };
    },
    status,
    async pollUntilSettled(requestId, roles, sub, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await status(requestId, roles, sub);
        if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(r.body)}`);
        if (!['pending_approval', 'approved'].includes(r.body.state) || Date.now() > deadline) return r.body;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async decide(requestId, body, roles, sub, headers = {}) {
      const res = await fetchIt(`/api/approvals/${requestId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(roles, sub)}`, ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await readJson(res) };
    },
    async events(sessionId, requestId) {
      return (await broker.audit.read(sessionId)).filter((e) => e.requestId === requestId);
    },
    async close() {
      await broker.close();
      await db.drop();
      releaseEnv();
    },
  };
}

export const WRITER = { roles: ['Query.Read', 'Query.Write'], sub: 'writer-agent' } as const;
export const APPROVER = { roles: ['Query.Approve'], sub: 'approver-1' } as const;
export const SECOND_APPROVER = { roles: ['Query.Approve'], sub: 'approver-2' } as const;
export const AUDITOR = { roles: ['Audit.Read'], sub: 'auditor-1' } as const;
export const READER = { roles: ['Query.Read'], sub: 'reader-agent' } as const;
