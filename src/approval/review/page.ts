/**
 * The server-rendered pages of the approval flow: the review page, the outcome of a form post,
 * and the local dev sign-in. No script at all, one static stylesheet allowed by its hash, every
 * value HTML-escaped, so the page's Content-Security-Policy can be strict.
 */
import type { ImpactPreview } from './impact.js';
import { dependentsSummary, MAX_DEPENDENTS, type ObjectImpact, type ObjectsPreview } from './object-impact.js';
import { createHash } from 'node:crypto';
import type { RequestView } from './view.js';

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
main{max-width:60rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.35rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0 0 1rem}
dt{font-weight:600;color:#444}
dd{margin:0;overflow-wrap:anywhere}
pre{background:#1e2329;color:#e8eaed;padding:1rem;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-word}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.state{display:inline-block;padding:.1rem .5rem;border-radius:4px;background:#e8eaed;font-weight:600}
.warn{background:#fff4e5;border-left:4px solid #f29900;padding:.6rem 1rem;margin:1rem 0}
.ok{background:#e6f4ea;border-left:4px solid #188038;padding:.6rem 1rem;margin:1rem 0}
.err{background:#fce8e6;border-left:4px solid #d93025;padding:.6rem 1rem;margin:1rem 0}
textarea,input[type=text]{width:100%;box-sizing:border-box;font:inherit;padding:.4rem;margin:.3rem 0 1rem}
button{font:inherit;padding:.5rem 1.2rem;margin-right:.6rem;border-radius:4px;border:1px solid #888;cursor:pointer}
button.approve{background:#188038;color:#fff;border-color:#188038}
button.reject{background:#d93025;color:#fff;border-color:#d93025}
button.chosen{outline:3px solid #f29900}
ul{margin:.2rem 0 1rem}
`;

const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

/** No script, no frames, no plugins; forms only back to this origin; the stylesheet by hash. */
export const PAGE_CSP = `default-src 'none'; style-src '${STYLE_HASH}'; img-src 'none'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/** Headers every approval page is sent with. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the form post itself.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

export function who(p: { oid: string; name?: string }): string {
  return p.name ? `${escapeHtml(p.name)} <code>${escapeHtml(p.oid)}</code>` : `<code>${escapeHtml(p.oid)}</code>`;
}

export interface ReviewPageInput {
  view: RequestView;
  viewer: { oid: string; name?: string };
  /** the form is shown only when the viewer may decide now */
  form?: { action: string; csrfToken: string; preselect?: 'approve' | 'reject' };
  /** why there is no form (self-approval, not an approver, already decided…) */
  notice?: string;
  /** UPDATE/DELETE: the rows it would touch now; TRUNCATE/DROP/ALTER TABLE: its objects (impact.ts) */
  impact?: ImpactPreview;
}

/** One object of a TRUNCATE/DROP/ALTER TABLE: kind, row estimate, size (pretty and in bytes). */
function objectItem(o: ObjectImpact): string {
  if (!o.exists && o.hidden) return `<li><code>${escapeHtml(o.name)}</code>: no preview: the profile's role may not use its schema, so the name cannot be resolved as it would be</li>`;
  if (!o.exists) return `<li><code>${escapeHtml(o.name)}</code>: <strong>does not exist now</strong> (as the profile's role resolves the name)</li>`;
  const rows =
    o.rowEstimate === undefined ? '' : o.rowEstimate === 'never analyzed' ? ', row estimate unknown (never analyzed)' : `, about <strong>${escapeHtml(Math.round(o.rowEstimate).toLocaleString('en-US'))}</strong> rows (planner estimate, not a count)`;
  const relations = o.relations === undefined ? '' : `, ${escapeHtml(o.relations)} relation(s)`;
  return `<li>${escapeHtml(o.kind)} <code>${escapeHtml(o.name)}</code>${relations}${rows}, <strong>${escapeHtml(o.totalSize)}</strong> (${escapeHtml(o.totalBytes.toLocaleString('en-US'))} bytes, indexes included)</li>`;
}

function objectsSection(p: ObjectsPreview): string {
  const items = p.objects.map(objectItem).join('');
  const summary = dependentsSummary(p);
  const dependents =
    p.dependents === undefined
      ? ''
      : `<p>With CASCADE: ${escapeHtml(summary ?? '')}${p.dependents.length ? ':' : '.'}</p>${p.dependents.length ? `<ul id="impact-dependents">${p.dependents.slice(0, MAX_DEPENDENTS).map((d) => `<li><code>${escapeHtml(d)}</code></li>`).join('')}</ul>` : ''}`;
  return `<h2>Impact</h2>
<p>${escapeHtml(p.statement)} acts on (computed at <span id="impact-computed-at">${escapeHtml(p.computedAt)}</span> UTC, read-only):</p>
<ul id="impact-objects">${items}</ul>${dependents}`;
}

function impactSection(p: ImpactPreview | undefined): string {
  if (!p) return '';
  if (p.kind === 'unavailable') return `<h2>Impact</h2><p id="impact-unavailable" class="warn">No preview: ${escapeHtml(p.message)} (checked at ${escapeHtml(p.computedAt)} UTC)</p>`;
  if (p.kind === 'objects') return objectsSection(p);
  const head = p.columns.map((c) => `<th>${escapeHtml(c.name)}${c.masked === false ? '' : ` <small>(${escapeHtml(c.masked)})</small>`}</th>`).join('');
  const body = p.rows.map((r) => `<tr>${r.map((v) => `<td>${v === null ? '<i>null</i>' : escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</td>`).join('')}</tr>`).join('');
  return `<h2>Impact</h2>
<p>Would touch <strong id="impact-count">${escapeHtml(p.rowCount)}</strong> row(s) now (computed at <span id="impact-computed-at">${escapeHtml(p.computedAt)}</span> UTC, read-only, masked as your reads are); the first ${p.rows.length}:</p>
<table id="impact-rows"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function renderReviewPage(input: ReviewPageInput): string {
  const v = input.view;
  const reasons = v.reasons.map((r) => `<li>${escapeHtml(r.message)} <code>${escapeHtml(r.code)}</code></li>`).join('');
  const params =
    v.params === undefined
      ? `${v.paramCount} parameter(s)`
      : v.params.length === 0
        ? 'none'
        : `<pre id="params"><code>${escapeHtml(JSON.stringify(v.params, null, 2))}</code></pre>`;
  const decision = v.decision
    ? `<div class="${v.decision.outcome === 'approved' ? 'ok' : 'err'}">${escapeHtml(v.decision.outcome)} by ${who(v.decision.approver)} at ${escapeHtml(v.decision.time)}${
        v.decision.comment ? `: “${escapeHtml(v.decision.comment)}”` : ''
      }</div>`
    : '';
  const outcome = v.error ? `<div class="err">${escapeHtml(v.error.code)}: ${escapeHtml(v.error.message)}</div>` : v.result ? `<div class="ok">Executed: ${escapeHtml(v.result.rowCount)} row(s).</div>` : '';
  const chosen = (d: 'approve' | 'reject') => (input.form?.preselect === d ? ' chosen' : '');
  const form = input.form
    ? `<form method="post" action="${escapeHtml(input.form.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(input.form.csrfToken)}">
<input type="hidden" name="sqlHash" value="${escapeHtml(v.sqlHash)}">
<label for="comment">Comment (recorded with your decision)</label>
<textarea id="comment" name="comment" rows="2" maxlength="1000"></textarea>
<button type="submit" name="decision" value="approve" class="approve${chosen('approve')}" id="approve">Approve and run</button>
<button type="submit" name="decision" value="reject" class="reject${chosen('reject')}" id="reject">Reject</button>
</form>`
    : '';
  const notice = input.notice ? `<div class="warn" id="notice">${escapeHtml(input.notice)}</div>` : '';
  const body = `<h1>Approval request <code>${escapeHtml(v.requestId)}</code></h1>
<p>State: <span class="state" id="state">${escapeHtml(v.state)}</span> · signed in as ${who(input.viewer)}</p>
<dl>
<dt>Requested by</dt><dd id="requester">${who(v.requester)}</dd>
<dt>Connection</dt><dd id="connection">${escapeHtml(v.connection)} (profile ${escapeHtml(v.profile)})</dd>
<dt>Estimated rows</dt><dd id="estimated-rows">${v.estimatedRows === undefined ? 'unknown' : escapeHtml(v.estimatedRows)}</dd>
<dt>Expires</dt><dd id="expires">${escapeHtml(v.expiresAt)} (UTC)</dd>
<dt>SQL hash</dt><dd><code id="sql-hash">${escapeHtml(v.sqlHash)}</code></dd>
${v.reason ? `<dt>Agent's reason</dt><dd id="agent-reason">${escapeHtml(v.reason)}</dd>` : ''}
</dl>
<h2>Statement</h2>
<pre id="sql"><code>${escapeHtml(v.sql)}</code></pre>
<h2>Parameters</h2>
${params}
<h2>Why it needs approval</h2>
<ul id="reasons">${reasons}</ul>
${impactSection(input.impact)}
${decision}${outcome}${notice}${form}
<p><a href="/api/approvals" id="inbox-link">All requests waiting for you</a></p>`;
  return layout(`Approval ${v.requestId}`, body);
}

export function renderMessagePage(title: string, message: string, kind: 'ok' | 'err' | 'warn', link?: { href: string; text: string }): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1><div class="${kind}" id="message">${escapeHtml(message)}</div>${link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : ''}`,
  );
}

export function renderDevSignInPage(input: { action: string; next: string; error?: string }): string {
  return layout(
    'Dev sign-in',
    `<h1>Local dev sign-in</h1>
<div class="warn">Local broker only: signs you in with a token from the dev issuer. In Azure, approvers sign in with Entra ID.</div>
${input.error ? `<div class="err">${escapeHtml(input.error)}</div>` : ''}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="next" value="${escapeHtml(input.next)}">
<label for="sub">User id</label><input type="text" id="sub" name="sub" value="demo-approver" required maxlength="128">
<label for="name">Display name</label><input type="text" id="name" name="name" value="Demo approver" maxlength="256">
<label for="roles">App roles (comma-separated)</label><input type="text" id="roles" name="roles" value="Query.Approve" maxlength="512">
<button type="submit" id="sign-in">Sign in</button>
</form>`,
  );
}
