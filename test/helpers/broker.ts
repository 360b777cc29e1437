import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startLocalBroker, type LocalBroker } from '../../src/local/host.js';
import type { PolicyConfig } from '../../src/policy/schema.js';
import type { AuditLog } from '../../src/broker/ports.js';
import { createDemoSetup, type TestDatabase } from './db.js';

export interface TestBroker extends LocalBroker {
  db: TestDatabase;
  /** every log line the broker wrote */
  logs: string[];
  /** POST /api/query with a token for these roles */
  query(body: Record<string, unknown>, roles?: string[], sub?: string): Promise<{ status: number; body: any; headers: Headers }>;
  /** a raw fetch against the broker */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * A real broker on a real socket, against its own seeded demo database on the run's PostgreSQL and
 * its own audit container on the run's Azurite. `policyPatch` edits the demo policy before validation.
 */
export async function startTestBroker(options: { policyPatch?: (p: Record<string, any>) => void; audit?: AuditLog; blobConnectionString?: string } = {}): Promise<TestBroker> {
  const { db, policy, releaseEnv } = await createDemoSetup(options.policyPatch);
  const logs: string[] = [];
  const broker = await startLocalBroker({
    policy,
    blobConnectionString: options.blobConnectionString ?? inject('blobConnectionString'),
    auditContainer: `audit-${randomBytes(6).toString('hex')}`,
    log: (await import('../../src/log.js')).createJsonLogger((l) => logs.push(l)),
    ...(options.audit ? { audit: options.audit } : {}),
  });
  const tokens = new Map<string, string>();
  const tokenFor = async (roles: string[], sub: string) => {
    const key = `${sub}|${roles.join(',')}`;
    let t = tokens.get(key);
    if (!t) {
      t = await broker.token({ sub, roles, name: `Test ${sub}` });
      tokens.set(key, t);
    }
    return t;
  };
  return {
    ...broker,
    db,
    logs,
    fetch: (path, init) => fetch(`${broker.url}${path}`, init),
    async query(body, roles = ['Query.Read'], sub = 'agent-1') {
      const res = await fetch(`${broker.url}/api/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(roles, sub)}` },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await broker.close();
      await db.drop();
      releaseEnv();
    },
  };
}
