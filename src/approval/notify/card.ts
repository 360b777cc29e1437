/**
 * The Adaptive Card approvers see in Teams: who asks, where, the statement, why it is held, how
 * many rows, until when, and links to the review page. The buttons are links, never actions that
 * decide: the decision is taken on the page, signed in, with the exact text and its hash in view.
 */
import type { ApprovalNotification } from './notification.js';

/** Teams renders Adaptive Cards up to 1.5 in Workflows posts. */
export const CARD_VERSION = '1.5';
const MAX_SQL_CHARS = 3000;

/**
 * TextBlocks render a Markdown subset: agent-written text (SQL, names) must not become links or
 * emphasis in a card people trust, so every Markdown sign is escaped.
 */
export function escapeCardText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

function truncated(sql: string): string {
  return sql.length <= MAX_SQL_CHARS ? sql : `${sql.slice(0, MAX_SQL_CHARS)}\n… (${sql.length - MAX_SQL_CHARS} more characters: see the review page)`;
}

const MAX_REASON_CHARS = 500;

function truncatedReason(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}… (see the review page)`;
}

export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

export function buildApprovalCard(n: ApprovalNotification): AdaptiveCardJson {
  const requester = n.requester.name ? `${n.requester.name} (${n.requester.oid})` : n.requester.oid;
  const choose = (decision: 'approve' | 'reject') => {
    const url = new URL(n.reviewUrl);
    url.searchParams.set('decision', decision);
    return url.toString();
  };
  const facts = [
    { title: 'Requested by', value: escapeCardText(requester) },
    { title: 'Connection', value: escapeCardText(`${n.connection} (profile ${n.profile})`) },
    ...(n.reason === undefined ? [] : [{ title: "Agent's reason", value: escapeCardText(truncatedReason(n.reason)) }]),
    { title: 'Estimated rows', value: n.estimatedRows === undefined ? 'unknown' : String(n.estimatedRows) },
    ...(n.impact === undefined ? [] : [{ title: 'Impact now', value: escapeCardText(n.impact) }]),
    { title: 'Expires', value: `${n.expiresAt} (UTC)` },
    { title: 'SQL hash', value: n.sqlHash },
  ];
  return {
    type: 'AdaptiveCard',
    version: CARD_VERSION,
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    msteams: { width: 'Full' },
    body: [
      { type: 'TextBlock', text: 'Query Broker: approval needed', weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: 'An agent asks to run the statement below. Review the exact text on the approval page before you decide.', wrap: true, isSubtle: true },
      { type: 'FactSet', facts },
      { type: 'TextBlock', text: 'Statement', weight: 'Bolder', spacing: 'Medium' },
      {
        type: 'Container',
        style: 'emphasis',
        items: [{ type: 'TextBlock', text: escapeCardText(truncated(n.sql)), fontType: 'Monospace', wrap: true }],
      },
      { type: 'TextBlock', text: 'Why it needs approval', weight: 'Bolder', spacing: 'Medium' },
      ...n.reasons.map((r) => ({ type: 'TextBlock', text: `• ${escapeCardText(r.message)} (${escapeCardText(r.code)})`, wrap: true })),
    ],
    actions: [
      { type: 'Action.OpenUrl', title: 'Review', url: n.reviewUrl },
      { type: 'Action.OpenUrl', title: 'Approve…', url: choose('approve') },
      { type: 'Action.OpenUrl', title: 'Reject…', url: choose('reject') },
      { type: 'Action.OpenUrl', title: 'All waiting for me', url: new URL('/api/approvals', n.reviewUrl).toString() },
    ],
  };
}

/** The body a Teams Workflows "when a webhook request is received" flow expects. */
export function teamsWebhookPayload(card: AdaptiveCardJson): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
  };
}
