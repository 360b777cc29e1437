import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startApprovalBroker, WRITER, type ApprovalTestBroker } from '../integration/approval/harness.js';
import { launchChromium } from '../helpers/browser.js';

/**
 * The approval page in a real browser (the headless Chromium that `npm ci` installs): dev sign-in, review, approve or reject,
 * and the agent's poll; then forged posts from other origins, which must be refused, recorded,
 * and leave the database as it was.
 */
let b: ApprovalTestBroker;
let browser: Browser;

beforeAll(async () => {
  [b, browser] = await Promise.all([
    startApprovalBroker(),
    launchChromium(),
  ]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await b?.close();
});

const ordersCount = async () => (await b.db.query<{ n: number }>('select count(*)::int as n from orders')).rows[0]!.n;

async function holdDelete(): Promise<{ requestId: string; sessionId: string; sqlHash: string }> {
  const r = await b.query({ connection: 'sales', sql: 'delete from orders', reason: 'browser test' }, [...WRITER.roles], WRITER.sub);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body;
}

/** Open the review page signed out, sign in on the dev sign-in page, land back on the review page. */
async function signInAndOpen(context: BrowserContext, requestId: string, sub = 'browser-approver'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${b.url}/api/approvals/${requestId}`);
  expect(new URL(page.url()).pathname).toBe('/api/dev/sign-in');
  await page.fill('#sub', sub);
  await page.fill('#name', 'Browser Approver');
  await page.fill('#roles', 'Query.Approve');
  await Promise.all([page.waitForURL(`**/api/approvals/${requestId}`), page.click('#sign-in')]);
  return page;
}

async function refusedCodes(sessionId: string, requestId: string): Promise<string[]> {
  return (await b.events(sessionId, requestId)).filter((e) => e.type === 'approval.attempt_refused').map((e) => String(e.data.code));
}

describe('approval page in a browser', () => {
  it('signs in as the dev approver, shows exactly what will run, approves; the agent\'s poll returns the executed result', async () => {
    const held = await holdDelete();
    const context = await browser.newContext();
    try {
      const page = await signInAndOpen(context, held.requestId);
      const response = await page.reload();
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(await page.textContent('#sql')).toBe('delete from orders');
      expect(await page.textContent('#sql-hash')).toBe(held.sqlHash);
      expect(await page.textContent('#reasons')).toContain('delete_without_where');
      expect(await page.textContent('#requester')).toContain(`dev-${WRITER.sub}`);
      expect(await page.textContent('#state')).toBe('pending_approval');
      // The session and CSRF cookies are out of script's reach.
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'qb_approver_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
      expect(cookies.find((c) => c.name === 'qb_csrf')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

      const before = await ordersCount();
      expect(before).toBe(50);
      await page.fill('#comment', 'approved in the browser test');
      await Promise.all([page.waitForLoadState('load'), page.click('#approve')]);
      expect(await page.textContent('#message')).toContain('Approved');

      const done = await b.pollUntilSettled(held.requestId, [...WRITER.roles], WRITER.sub);
      expect(done.state).toBe('executed');
      expect(done.result).toMatchObject({ rowCount: 50 });
      expect(done.decision).toMatchObject({ outcome: 'approved', approver: { oid: 'dev-browser-approver', name: 'Browser Approver' }, comment: 'approved in the browser test' });
      expect(await ordersCount()).toBe(0);
      const decided = (await b.events(held.sessionId, held.requestId)).find((e) => e.type === 'approval.decided');
      expect(decided?.actor.oid).toBe('dev-browser-approver');
    } finally {
      await context.close();
    }
  });

  it('rejects from the page: nothing runs and the poll says rejected', async () => {
    await b.db.query("insert into orders (customer_id, amount_cents) select 1, 100 from generate_series(1, 20)");
    const before = await ordersCount();
    const held = await holdDelete();
    const context = await browser.newContext();
    try {
      const page = await signInAndOpen(context, held.requestId, 'browser-rejecter');
      await Promise.all([page.waitForLoadState('load'), page.click('#reject')]);
      expect(await page.textContent('#message')).toContain('Rejected');
      expect((await b.pollUntilSettled(held.requestId, [...WRITER.roles], WRITER.sub)).state).toBe('rejected');
      // Opening the page again shows the outcome and no form.
      await page.goto(`${b.url}/api/approvals/${held.requestId}`);
      expect(await page.textContent('#state')).toBe('rejected');
      expect(await page.$('#approve')).toBeNull();
      expect(await ordersCount()).toBe(before);
    } finally {
      await context.close();
    }
  });
});

describe('impact of a held TRUNCATE in a browser', () => {
  it('shows the table\'s row estimate and total size', async () => {
    await b.db.query('analyze orders');
    const truth = (await b.db.query<{ rows: number; pretty: string }>("select reltuples::int as rows, pg_size_pretty(pg_total_relation_size('orders')) as pretty from pg_class where oid = 'orders'::regclass")).rows[0]!;
    const r = await b.query({ connection: 'sales', sql: 'truncate orders', reason: 'browser test' }, [...WRITER.roles], WRITER.sub);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const context = await browser.newContext();
    try {
      const page = await signInAndOpen(context, r.body.requestId, 'browser-truncate-reviewer');
      const impact = await page.textContent('#impact-objects');
      expect(impact).toContain(`table public.orders, about ${truth.rows.toLocaleString('en-US')} rows (planner estimate, not a count), ${truth.pretty}`);
      expect(await ordersCount()).toBeGreaterThan(0);
    } finally {
      await context.close();
    }
  });
});

describe('forged decisions against a signed-in approver', () => {
  let evil: Server;
  let evilPort: number;
  let evilHtml = '';

  beforeAll(async () => {
    // An attacker's page: auto-submits a form to the broker's decision endpoint.
    evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(evilHtml);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilPort = (evil.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  });

  function attackPage(requestId: string, sqlHash: string, extraField = ''): string {
    return `<!doctype html><html><body>
<form id="f" method="post" action="${b.url}/api/approvals/${requestId}">
<input name="decision" value="approve"><input name="sqlHash" value="${sqlHash}">${extraField}
</form><script>document.getElementById('f').submit()</script></body></html>`;
  }

  it('refuses cross-site and cross-origin form posts and posts without a valid CSRF token; all recorded, nothing runs', async () => {
    await b.db.query("insert into orders (customer_id, amount_cents) select 1, 100 from generate_series(1, 5)");
    const before = await ordersCount();
    const held = await holdDelete();
    const context = await browser.newContext();
    try {
      // A real approver signed in (so the browser holds the session and the CSRF cookie).
      const approverPage = await signInAndOpen(context, held.requestId, 'victim-approver');
      const csrfToken = await approverPage.getAttribute('input[name=csrf]', 'value');
      expect(csrfToken).toBeTruthy();

      // 1. Another site (localhost ≠ 127.0.0.1): the browser does not even send the session cookie.
      evilHtml = attackPage(held.requestId, held.sqlHash);
      const crossSite = await context.newPage();
      const crossSiteResponse = crossSite.waitForResponse((r) => r.url().includes(`/api/approvals/${held.requestId}`) && r.request().method() === 'POST');
      await crossSite.goto(`http://localhost:${evilPort}/`);
      expect((await crossSiteResponse).status()).toBe(401);

      // 2. Same site, another origin (another port): cookies go along, the Origin check refuses it.
      evilHtml = attackPage(held.requestId, held.sqlHash, `<input name="csrf" value="${csrfToken}">`);
      const crossOrigin = await context.newPage();
      const crossOriginResponse = crossOrigin.waitForResponse((r) => r.url().includes(`/api/approvals/${held.requestId}`) && r.request().method() === 'POST');
      await crossOrigin.goto(`http://127.0.0.1:${evilPort}/`);
      expect((await crossOriginResponse).status()).toBe(403);

      // 3. Right origin, but no or someone else's CSRF token (a replayed session cookie, e.g.).
      // All of them: cookies(url) would filter by the path of `url` (/).
      const cookieHeader = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const form = (fields: Record<string, string>) => ({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: b.url, cookie: cookieHeader },
        body: new URLSearchParams({ decision: 'approve', sqlHash: held.sqlHash, ...fields }).toString(),
      });
      expect((await b.fetch(`/api/approvals/${held.requestId}`, form({}))).status).toBe(403);
      expect((await b.fetch(`/api/approvals/${held.requestId}`, form({ csrf: 'A'.repeat(43) }))).status).toBe(403);
      // 4. A JSON decision carried by the session cookie alone (no bearer token).
      const json = await b.fetch(`/api/approvals/${held.requestId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: b.url, cookie: cookieHeader },
        body: JSON.stringify({ decision: 'approve', sqlHash: held.sqlHash }),
      });
      expect(json.status).toBe(403);

      const codes = await refusedCodes(held.sessionId, held.requestId);
      expect(codes).toEqual(['unauthenticated', 'cross_site_request', 'csrf_token_invalid', 'csrf_token_invalid', 'bearer_token_required']);
      expect((await b.status(held.requestId, [...WRITER.roles], WRITER.sub)).body.state).toBe('pending_approval');
      expect(await ordersCount()).toBe(before);

      // The approver's own page still works: the token was theirs all along.
      await approverPage.reload();
      await Promise.all([approverPage.waitForLoadState('load'), approverPage.click('#reject')]);
      expect(await approverPage.textContent('#message')).toContain('Rejected');
      expect(await ordersCount()).toBe(before);
    } finally {
      await context.close();
    }
  });

  it('the page itself refuses a forged App Service principal header outside Azure, and records it', async () => {
    const held = await holdDelete();
    const forged = Buffer.from(JSON.stringify({ claims: [{ typ: 'oid', val: 'forged-admin' }, { typ: 'roles', val: 'Query.Approve' }] })).toString('base64');
    const res = await b.fetch(`/api/approvals/${held.requestId}`, { headers: { 'x-ms-client-principal': forged } });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('delete from orders');
    expect(await refusedCodes(held.sessionId, held.requestId)).toEqual(['untrusted_principal_header']);
  });
});
