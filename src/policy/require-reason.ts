/**
 * Required justification: a profile's `requireReason` (never | writes | all) makes `reason`
 * mandatory for every statement that is not a read (`writes`) or for every statement (`all`).
 * A blank reason counts as none. The reason then travels with the request: the audit record
 * (request.received), the approval request (card, review page, Service Bus event).
 */
import { BrokerError } from '../errors.js';
import type { ProfileConfig } from './schema.js';
import type { StatementKind } from '../sql/types.js';

export function checkReason(profile: Pick<ProfileConfig, 'requireReason'>, profileName: string, kind: StatementKind, reason: string | undefined): void {
  const rule = profile.requireReason ?? 'never';
  if (rule === 'never') return;
  if (rule === 'writes' && kind === 'read') return;
  if (reason !== undefined && reason.trim() !== '') return;
  const what = rule === 'all' ? 'every statement' : 'every statement that changes something';
  const message = `Profile "${profileName}" requires a reason for ${what}; nothing was executed.`;
  throw new BrokerError('invalid_request', message, {
    reasons: [{ code: 'reason_required', message }],
    details: { hint: 'Send the same request again with "reason": one sentence saying why you run it (CLI: --reason TEXT); approvers and auditors read it.' },
  });
}
