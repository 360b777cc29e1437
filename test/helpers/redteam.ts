/**
 * What both red teams (test/e2e/redteam.test.ts on PostgreSQL, test/e2e/mysql-redteam.test.ts on
 * MySQL) judge an attack by: the values planted in the demo data must not come back in an answer
 * or the broker's logs, and the database must be unchanged (each suite says how to read its
 * database: `snapshot`).
 */
import { expect } from 'vitest';
import type { TestBroker } from './broker.js';

/** The personal data both demos seed (src/local/demo.ts, demo-mysql.ts), and two spellings of it. */
export const DEMO_CARDS = ['4111111111111111', '5500005555555559', '340000000000009', '6011000990139424', '4012888888881881'];
export const DEMO_SSNS = ['123-45-6789', '234-56-7890', '345-67-8901', '456-78-9012', '567-89-0123'];
export const DEMO_EMAILS = ['ada@example.com', 'alan@example.org', 'grace@example.net', 'edsger@example.nl', 'barbara@example.com'];
export const DEMO_PLANTED = [...DEMO_CARDS, ...DEMO_SSNS, ...DEMO_EMAILS, '4111 1111 1111 1111', '123456789'];

export const READ = ['Query.Read'];
export const WRITE = ['Query.Write'];
export const APPROVE = ['Query.Approve'];

/** The answer to an attack, and how long it took (milliseconds). */
export interface AttackAnswer {
  status: number;
  body: any;
  ms: number;
}

export interface RedTeam {
  /** Planted values found anywhere in this (serialised) thing. */
  planted(x: unknown): string[];
  /** An `authorization` header value for a dev token with these roles. */
  bearer(roles: string[], sub: string, idtyp?: 'app' | 'user'): Promise<string>;
  /**
   * Send an attack and judge it: `judge` asserts the answer, then nothing planted may be in its
   * body (nor in the log lines written meanwhile, unless `logs` is false) and the database must be
   * unchanged.
   */
  attack(send: () => Promise<{ status: number; body: any }>, judge: (a: AttackAnswer) => void, o?: { logs?: boolean }): Promise<AttackAnswer>;
}

export function redTeam(o: { broker: () => TestBroker; snapshot: () => Promise<string>; planted: readonly string[] }): RedTeam {
  const planted = (x: unknown): string[] => {
    const s = typeof x === 'string' ? x : JSON.stringify(x);
    return o.planted.filter((p) => s.includes(p));
  };
  return {
    planted,
    async bearer(roles, sub, idtyp = 'app') {
      return `Bearer ${await o.broker().token({ sub, roles, idtyp, name: `RT ${sub}` })}`;
    },
    async attack(send, judge, { logs = true } = {}) {
      const b = o.broker();
      const before = await o.snapshot();
      const logsBefore = b.logs.length;
      const started = performance.now();
      const r = await send();
      const answer = { status: r.status, body: r.body, ms: performance.now() - started };
      judge(answer);
      expect(planted(r.body)).toEqual([]);
      if (logs) expect(planted(b.logs.slice(logsBefore).join('\n'))).toEqual([]);
      expect(await o.snapshot()).toBe(before);
      return answer;
    },
  };
}

/** The codes an answer carries: an error's own and its reasons', or an outcome's reasons. */
export function codesOf(body: any): string[] {
  return [body?.error?.code, ...((body?.error?.reasons ?? body?.reasons ?? []) as { code: string }[]).map((x) => x.code)].filter(Boolean);
}
