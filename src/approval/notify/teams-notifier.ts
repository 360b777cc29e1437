/**
 * Posts the approval card to a Teams Workflows webhook. The URL carries its own signature, so it
 * is a secret: read from the secret named by QB_TEAMS_WEBHOOK_SECRET (Key Vault in Azure, an
 * environment variable locally) and never logged.
 */
import { BrokerError } from '../../errors.js';
import type { SecretProvider } from '../../broker/ports.js';
import { readSetting } from '../../settings.js';
import type { Logger } from '../../log.js';
import { buildApprovalCard, teamsWebhookPayload } from './card.js';
import type { ApprovalNotification, ApprovalNotifier } from './notification.js';

export interface TeamsWebhookNotifierOptions {
  /** the webhook URL, or undefined when none is configured (then the review link is only logged) */
  webhookUrl: () => Promise<string | undefined>;
  log: Logger;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function createTeamsWebhookNotifier(options: TeamsWebhookNotifierOptions): ApprovalNotifier {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async notify(n: ApprovalNotification) {
      const url = await options.webhookUrl();
      if (url === undefined) {
        options.log.info('approval requested; no Teams webhook configured, share the review link', { requestId: n.requestId, reviewUrl: n.reviewUrl });
        return;
      }
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(teamsWebhookPayload(buildApprovalCard(n))),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        throw new BrokerError('dependency_unavailable', `The Teams webhook could not be reached (${e instanceof Error ? e.name : 'error'}).`, { cause: e });
      }
      // Drain the body so the connection is reused; its content is not needed.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new BrokerError('dependency_unavailable', `The Teams webhook answered ${res.status}.`);
      options.log.info('approval card posted to Teams', { requestId: n.requestId });
    },
  };
}

/** The webhook URL from the secret QB_TEAMS_WEBHOOK_SECRET names; undefined when the setting is empty. */
export function teamsWebhookUrlFromSettings(secrets: SecretProvider): () => Promise<string | undefined> {
  return async () => {
    const name = readSetting('QB_TEAMS_WEBHOOK_SECRET');
    return name === undefined ? undefined : await secrets.getSecret(name);
  };
}
