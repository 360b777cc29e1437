import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import { createTeamsWebhookNotifier, teamsWebhookUrlFromSettings } from '../../../src/approval/notify/teams-notifier.js';
import { createQueueNotifier, notificationMessage } from '../../../src/approval/notify/queue-notifier.js';
import { createEnvSecretProvider } from '../../../src/secrets/env.js';
import { createJsonLogger } from '../../../src/log.js';
import { captureFunctionRegistrations } from '../../helpers/functions-host.js';
import type { ApprovalNotification } from '../../../src/approval/notify/notification.js';

/** A local stand-in for the Teams Workflows webhook: records what it receives, answers as told. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: any;
}
let server: Server;
let baseUrl: string;
const received: Received[] = [];
let answer = 202;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received.length = 0;
  answer = 202;
});

const notification: ApprovalNotification = {
  requestId: 'r_hook0000test',
  requester: { oid: 'dev-writer', name: 'Writing agent' },
  connection: 'sales',
  profile: 'agent-write',
  sql: 'delete from orders',
  sqlHash: 'b'.repeat(64),
  reasons: [{ code: 'update_without_where', message: 'DELETE without WHERE changes every row.' }],
  expiresAt: '2026-03-01T10:00:00.000Z',
  reviewUrl: 'http://127.0.0.1:7071/api/approvals/r_hook0000test',
};

const lines: string[] = [];
const log = createJsonLogger((l) => lines.push(l));

describe('Teams webhook notifier', () => {
  it('POSTs the approval card as a Workflows message to the webhook URL', async () => {
    const notifier = createTeamsWebhookNotifier({ webhookUrl: async () => `${baseUrl}/workflows/abc?sig=secret-signature`, log });
    await notifier.notify(notification);
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/workflows/abc?sig=secret-signature');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body.type).toBe('message');
    const card = r.body.attachments[0].content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    expect(JSON.stringify(card)).toContain('delete from orders');
    expect(card.actions[0]).toMatchObject({ type: 'Action.OpenUrl', title: 'Review', url: notification.reviewUrl });
    // The webhook URL is a secret: never in the logs.
    expect(lines.join('\n')).not.toContain('secret-signature');
  });

  it('throws when Teams answers with an error, so the caller (Service Bus) retries', async () => {
    answer = 500;
    const notifier = createTeamsWebhookNotifier({ webhookUrl: async () => `${baseUrl}/hook`, log });
    await expect(notifier.notify(notification)).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('throws dependency_unavailable when the webhook cannot be reached', async () => {
    const notifier = createTeamsWebhookNotifier({ webhookUrl: async () => 'http://127.0.0.1:9/hook', log, timeoutMs: 2000 });
    await expect(notifier.notify(notification)).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('without a configured webhook only logs the review link', async () => {
    lines.length = 0;
    const notifier = createTeamsWebhookNotifier({ webhookUrl: async () => undefined, log });
    await notifier.notify(notification);
    expect(received).toHaveLength(0);
    expect(lines.join('\n')).toContain(notification.reviewUrl);
  });

  it('reads the URL from the secret named by QB_TEAMS_WEBHOOK_SECRET (an environment variable locally)', async () => {
    const env = { TEAMS_WEBHOOK_TEST: `${baseUrl}/from-env` };
    const previous = process.env.QB_TEAMS_WEBHOOK_SECRET;
    process.env.QB_TEAMS_WEBHOOK_SECRET = 'teams-webhook-test';
    try {
      const url = await teamsWebhookUrlFromSettings(createEnvSecretProvider(env))();
      expect(url).toBe(`${baseUrl}/from-env`);
    } finally {
      if (previous === undefined) delete process.env.QB_TEAMS_WEBHOOK_SECRET;
      else process.env.QB_TEAMS_WEBHOOK_SECRET = previous;
    }
  });
});

describe('approval notifications through the queue (Azure)', () => {
  it('the activity only enqueues: one message per request, de-duplicable, with the notification as body', async () => {
    const sent: unknown[] = [];
    const notifier = createQueueNotifier({ sendMessages: async (m) => void sent.push(m) });
    await notifier.notify(notification);
    expect(sent).toEqual([notificationMessage(notification)]);
    expect(sent[0]).toMatchObject({ messageId: 'approval-requested:r_hook0000test', subject: 'approval.requested', contentType: 'application/json', body: notification });
    expect(received).toHaveLength(0);
  });

  it('the Service Bus-triggered notifier function posts the queued notification to the webhook', async () => {
    const captured = captureFunctionRegistrations();
    await import('../../../functions/notifier.js');
    const fn = captured.find((f) => f.name === 'approvalNotifier');
    expect(fn).toBeDefined();
    const previous = { secret: process.env.QB_TEAMS_WEBHOOK_SECRET, url: process.env.QB_TEST_TEAMS_HOOK };
    process.env.QB_TEAMS_WEBHOOK_SECRET = 'QB_TEST_TEAMS_HOOK';
    process.env.QB_TEST_TEAMS_HOOK = `${baseUrl}/queued`;
    try {
      const context = new InvocationContext({ functionName: 'approvalNotifier', invocationId: 'test', logHandler: () => {} });
      // The message body as the trigger delivers it: the JSON the activity enqueued.
      await fn!.handler(JSON.parse(JSON.stringify(notification)), context);
      expect(received.map((r) => r.url)).toEqual(['/queued']);
      expect(JSON.stringify(received[0]!.body)).toContain('r_hook0000test');

      answer = 503;
      await expect(fn!.handler(JSON.parse(JSON.stringify(notification)), context)).rejects.toBeTruthy();
      await expect(fn!.handler({ not: 'a notification' }, context)).rejects.toBeTruthy();
    } finally {
      for (const [k, v] of [['QB_TEAMS_WEBHOOK_SECRET', previous.secret], ['QB_TEST_TEAMS_HOOK', previous.url]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
