// Service Bus-triggered notifier: posts the approval card of each queued notification to Teams.
// A failure throws, so Service Bus redelivers the message and finally dead-letters it: a Teams
// outage delays a notification, it never loses one, and it never holds up an orchestration.
import { app, type InvocationContext } from '@azure/functions';
import type { ApprovalNotifier } from '../src/approval/notify/notification.js';

let notifier: Promise<ApprovalNotifier> | undefined;

async function buildNotifier(): Promise<ApprovalNotifier> {
  const [{ createTeamsWebhookNotifier, teamsWebhookUrlFromSettings }, { createSecretProviderFromSettings }, { createJsonLogger }, { azureCredential }] = await Promise.all([
    import('../src/approval/notify/teams-notifier.js'),
    import('../src/secrets/from-settings.js'),
    import('../src/log.js'),
    import('../src/identity/azure-credential.js'),
  ]);
  const credential = azureCredential();
  return createTeamsWebhookNotifier({ webhookUrl: teamsWebhookUrlFromSettings(createSecretProviderFromSettings({ credential })), log: createJsonLogger() });
}

export async function postApprovalNotification(message: unknown, context: InvocationContext): Promise<void> {
  const { isApprovalNotification } = await import('../src/approval/notify/notification.js');
  if (!isApprovalNotification(message)) {
    // Retrying cannot fix a malformed body; throwing sends it to the dead-letter queue for a person to see.
    throw new Error('approval notification message has an unexpected shape');
  }
  notifier ??= buildNotifier().catch((e: unknown) => {
    notifier = undefined;
    throw e;
  });
  await (await notifier).notify(message);
  context.log(`approval card posted for ${message.requestId}`);
}

app.serviceBusQueue('approvalNotifier', {
  connection: 'ServiceBusConnection',
  queueName: '%QB_APPROVALS_QUEUE%',
  handler: postApprovalNotification,
});
