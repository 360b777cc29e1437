/**
 * The Azure EventPublisher: a Service Bus topic reached with the Function App's managed identity.
 * Publishing is best effort by design: the audit blob is the record, the topic only tells others
 * (notifier, SIEM) that something happened. So `publish` never throws and never waits long: a
 * failure or a timeout is logged and the caller carries on.
 */
import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import type { TokenCredential } from '@azure/identity';
import type { BrokerEvent, EventPublisher } from '../broker/ports.js';
import { readSetting } from '../settings.js';
import { silentLogger, type Logger } from '../log.js';

export const DEFAULT_EVENTS_TOPIC = 'broker-events';

export interface ServiceBusPublisherOptions {
  /** managed identity (Azure); with `fullyQualifiedNamespace` or QB_SERVICE_BUS_NAMESPACE */
  credential?: TokenCredential;
  /** e.g. sb-name.servicebus.windows.net; default QB_SERVICE_BUS_NAMESPACE */
  fullyQualifiedNamespace?: string;
  /** instead of a credential: a connection string (the Service Bus emulator) */
  connectionString?: string;
  /** default QB_EVENTS_TOPIC, else `broker-events` */
  topic?: string;
  /** longest a publish may take before it is abandoned and logged; default 3000 ms */
  timeoutMs?: number;
  logger?: Logger;
}

export interface ServiceBusPublisher extends EventPublisher {
  /** false when no namespace is configured: events are dropped with one warning */
  readonly configured: boolean;
  close(): Promise<void>;
}

export function createServiceBusPublisher(options: ServiceBusPublisherOptions = {}): ServiceBusPublisher {
  const logger = options.logger ?? silentLogger;
  const topic = options.topic ?? readSetting('QB_EVENTS_TOPIC') ?? DEFAULT_EVENTS_TOPIC;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const client = createClient(options);
  if (!client) {
    logger.warn('Service Bus events are off: set QB_SERVICE_BUS_NAMESPACE to publish broker events', { topic });
    return { configured: false, publish: async () => undefined, close: async () => undefined };
  }
  let sender: ServiceBusSender | undefined;

  return {
    configured: true,
    async publish(event) {
      try {
        sender ??= client.createSender(topic);
        await sender.sendMessages(toMessage(event), { abortSignal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        logger.warn('event publish failed', { topic, type: event.type, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      }
    },
    async close() {
      await client.close().catch(() => undefined);
    },
  };
}

function createClient(options: ServiceBusPublisherOptions): ServiceBusClient | undefined {
  // The SDK's own retries would outlast the caller's budget; one retry, then log and move on.
  const clientOptions = { retryOptions: { maxRetries: 1, retryDelayInMs: 200 } };
  if (options.connectionString !== undefined) return new ServiceBusClient(options.connectionString, clientOptions);
  const namespace = options.fullyQualifiedNamespace ?? readSetting('QB_SERVICE_BUS_NAMESPACE');
  if (namespace === undefined) return undefined;
  if (options.credential === undefined) throw new Error('createServiceBusPublisher: a credential (managed identity) is needed with a namespace');
  return new ServiceBusClient(namespace, options.credential, clientOptions);
}

/** Subject = event type, so subscriptions filter without reading bodies; ids let Service Bus de-duplicate. */
export function toMessage(event: BrokerEvent): ServiceBusMessage {
  const { sessionId, seq, requestId } = event.data;
  const message: ServiceBusMessage = {
    body: event,
    contentType: 'application/json',
    subject: event.type,
    applicationProperties: { type: event.type, time: event.time },
  };
  if (typeof sessionId === 'string' && typeof seq === 'number') message.messageId = `${sessionId}:${seq}`;
  if (typeof requestId === 'string') message.correlationId = requestId;
  return message;
}
