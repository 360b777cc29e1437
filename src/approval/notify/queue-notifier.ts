/**
 * The Azure notifier: hands the notification to the approvals Service Bus queue and returns. The
 * Service Bus-triggered function (functions/notifier.ts) posts it to Teams, with Service Bus's
 * redelivery and dead-lettering covering a Teams outage.
 */
import type { ServiceBusMessage } from '@azure/service-bus';
import type { ApprovalNotification, ApprovalNotifier } from './notification.js';

export const DEFAULT_APPROVALS_QUEUE = 'approval-notifications';

export interface QueueSender {
  sendMessages(message: ServiceBusMessage, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

export function notificationMessage(n: ApprovalNotification): ServiceBusMessage {
  return {
    body: n,
    contentType: 'application/json',
    subject: 'approval.requested',
    // Duplicate detection (when enabled on the queue) drops a retried activity's second send.
    messageId: `approval-requested:${n.requestId}`,
    correlationId: n.requestId,
  };
}

export function createQueueNotifier(sender: QueueSender, options: { timeoutMs?: number } = {}): ApprovalNotifier {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async notify(n) {
      await sender.sendMessages(notificationMessage(n), { abortSignal: AbortSignal.timeout(timeoutMs) });
    },
  };
}
