import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { buildApprovalCard, escapeCardText, teamsWebhookPayload, CARD_VERSION } from '../../../src/approval/notify/card.js';
import type { ApprovalNotification } from '../../../src/approval/notify/notification.js';

// The package's ESM build uses extensionless imports Node cannot load; its UMD bundle is the same code.
const AC = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as typeof import('adaptivecards');

const notification: ApprovalNotification = {
  requestId: 'r_card0000test',
  requester: { oid: 'dev-writer', name: 'Writing agent' },
  connection: 'sales',
  profile: 'agent-write',
  sql: "delete from orders where status = 'open' and note like '%[approve](https://evil.example)%'",
  sqlHash: 'a'.repeat(64),
  reasons: [{ code: 'estimated_rows_over_threshold', message: 'About 34 rows would change; the limit without approval is 10.' }],
  estimatedRows: 34,
  expiresAt: '2026-03-01T10:00:00.000Z',
  reviewUrl: 'https://broker.example.net/api/approvals/r_card0000test',
};

/** Parse with the Adaptive Cards SDK: every parse warning and validation issue, as text. */
function validate(card: unknown): { issues: string[]; parsed: InstanceType<typeof AC.AdaptiveCard> } {
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(new AC.Version(1, 5));
  parsed.parse(card, context);
  const issues: string[] = [];
  for (let i = 0; i < context.eventCount; i++) issues.push(context.getEventAt(i).message);
  for (const e of parsed.validateProperties().validationEvents) issues.push(e.message);
  return { issues, parsed };
}

function allText(card: InstanceType<typeof AC.AdaptiveCard>): string {
  return JSON.stringify(card.toJSON());
}

describe('approval Adaptive Card', () => {
  it('is a valid Adaptive Card 1.5 with no parse or validation issue', () => {
    const card = buildApprovalCard(notification);
    expect(card.version).toBe(CARD_VERSION);
    const { issues } = validate(card);
    expect(issues).toEqual([]);
  });

  it('(the check can fail: a card with an unknown element or a link without url is reported)', () => {
    const card = buildApprovalCard(notification);
    const broken = { ...card, body: [...(card.body as unknown[]), { type: 'Frobnicator' }], actions: [{ type: 'Action.OpenUrl', title: 'Review' }] };
    expect(validate(broken).issues.length).toBeGreaterThanOrEqual(2);
  });

  it('shows requester, connection, estimated rows, expiry, reasons and the SQL in a monospace block', () => {
    const { parsed } = validate(buildApprovalCard(notification));
    const text = allText(parsed);
    expect(text).toContain('Writing agent');
    expect(text).toContain('sales');
    expect(text).toContain('34');
    expect(text).toContain('2026-03-01T10:00:00.000Z');
    expect(text).toContain('estimated\\\\_rows\\\\_over\\\\_threshold');
    const body = (buildApprovalCard(notification).body as Record<string, unknown>[]).find((b) => b.type === 'Container') as { items: Record<string, unknown>[] };
    expect(body.items[0]).toMatchObject({ type: 'TextBlock', fontType: 'Monospace', wrap: true });
    expect(String(body.items[0]!.text)).toContain('delete from orders');
  });

  it('links Review, Approve and Reject to the review page and the inbox (links only: nothing decides from the card)', () => {
    const { parsed } = validate(buildApprovalCard(notification));
    const actions = parsed.getActionCount();
    const urls: [string | undefined, string | undefined][] = [];
    for (let i = 0; i < actions; i++) {
      const a = parsed.getActionAt(i);
      expect(a).toBeInstanceOf(AC.OpenUrlAction);
      urls.push([a?.title, (a as InstanceType<typeof AC.OpenUrlAction>).url]);
    }
    expect(urls).toEqual([
      ['Review', notification.reviewUrl],
      ['Approve…', `${notification.reviewUrl}?decision=approve`],
      ['Reject…', `${notification.reviewUrl}?decision=reject`],
      ['All waiting for me', 'https://broker.example.net/api/approvals'],
    ]);
  });

  it('escapes Markdown so agent-written SQL cannot render as a link in the card', () => {
    const escaped = escapeCardText('[approve](https://evil.example) *now*');
    expect(escaped).toBe('\\[approve\\]\\(https://evil\\.example\\) \\*now\\*');
    const card = JSON.stringify(buildApprovalCard(notification));
    expect(card).not.toContain('[approve](https://evil.example)');
  });

  it('wraps the card the way a Teams Workflows webhook expects', () => {
    const payload = teamsWebhookPayload(buildApprovalCard(notification));
    expect(payload).toMatchObject({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: { type: 'AdaptiveCard', version: '1.5' } }],
    });
  });
});
