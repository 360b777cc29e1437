/** The inbox as a page for people: a table of what waits, then what was settled in the last 24 hours. */
import { escapeHtml, layout, who } from './page.js';
import type { Inbox, InboxEntry } from '../store/inbox.js';

function row(e: InboxEntry): string {
  const settled = e.decision ? `${escapeHtml(e.decision.outcome)} by ${who(e.decision.approver)} at ${escapeHtml(e.decision.time)}` : escapeHtml(e.state);
  return `<tr data-request-id="${escapeHtml(e.requestId)}">
<td><a href="${escapeHtml(e.reviewPath)}"><code>${escapeHtml(e.requestId)}</code></a></td>
<td>${who(e.requester)}</td>
<td>${escapeHtml(e.connection)} (${escapeHtml(e.profile)})</td>
<td>${escapeHtml(e.statementKind)}</td>
<td>${e.estimatedRows === undefined ? 'unknown' : escapeHtml(e.estimatedRows)}</td>
<td class="reason">${e.reason === undefined ? '' : escapeHtml(e.reason)}</td>
<td>${escapeHtml(e.expiresAt)}</td>
<td>${settled}</td>
</tr>`;
}

function table(id: string, entries: InboxEntry[], empty: string): string {
  if (entries.length === 0) return `<p id="${id}-empty">${escapeHtml(empty)}</p>`;
  return `<table id="${id}"><thead><tr><th>Request</th><th>Requested by</th><th>Connection</th><th>Statement</th><th>Estimated rows</th><th>Reason</th><th>Expires (UTC)</th><th>State</th></tr></thead>
<tbody>${entries.map(row).join('')}</tbody></table>`;
}

export function renderInboxPage(inbox: Inbox, viewer: { oid: string; name?: string }): string {
  const body = `<h1>Approvals waiting for you</h1>
<p>Signed in as ${who(viewer)}. Requests you may decide (you are an approver of their profile and not their requester); open one to review and decide.</p>
<h2>Pending (${inbox.pending.length}), oldest first</h2>
${table('pending', inbox.pending, 'Nothing waits for you.')}
<h2>Decided or expired in the last 24 hours</h2>
${table('recent', inbox.recent, 'None.')}`;
  return layout('Approvals waiting for you', body);
}
