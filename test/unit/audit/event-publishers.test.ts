import { describe, it, expect, afterAll } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { BrokerEvent, EventPublisher } from '../../../src/broker/ports.js';
import type { Logger } from '../../../src/log.js';
import { createInProcessPublisher } from '../../../src/events/in-process.js';
import { createServiceBusPublisher, toMessage } from '../../../src/events/service-bus.js';
import { withEventPublishing } from '../../../src/audit/publishing-log.js';
import { createMemoryAuditLog } from '../../../src/audit/memory-log.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, error() {}, warn: (m) => void warnings.push(m) };
}

const event: BrokerEvent = { type: 'audit.decision', time: new Date().toISOString(), data: { sessionId: 's_pub_00001', seq: 3, requestId: 'r_1' } };

/** A credential that answers at once, so the test exercises the AMQP path and not token acquisition. */
const staticCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'not-a-real-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let silent: Server | undefined;
const sockets: Socket[] = [];
afterAll(async () => {
  sockets.forEach((s) => s.destroy());
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
});

describe('in-process publisher', () => {
  it('delivers to listeners of the type and of every type', async () => {
    const bus = createInProcessPublisher();
    const seen: string[] = [];
    bus.subscribe('audit.decision', (e) => void seen.push(`typed:${e.type}`));
    bus.subscribe('*', (e) => void seen.push(`any:${e.type}`));
    bus.subscribe('audit.executed', () => void seen.push('wrong'));
    await bus.publish(event);
    await bus.settled();
    expect(seen.sort()).toEqual(['any:audit.decision', 'typed:audit.decision']);
  });

  it('survives a failing listener and still delivers to the others', async () => {
    const logger = recordingLogger();
    const bus = createInProcessPublisher({ logger });
    const seen: string[] = [];
    bus.subscribe('*', () => {
      throw new Error('boom');
    });
    bus.subscribe('*', async () => Promise.reject(new Error('async boom')));
    bus.subscribe('*', (e) => void seen.push(e.type));
    await expect(bus.publish(event)).resolves.toBeUndefined();
    await bus.settled();
    expect(seen).toEqual(['audit.decision']);
    expect(logger.warnings).toHaveLength(2);
  });

  it('stops delivering after unsubscribe', async () => {
    const bus = createInProcessPublisher();
    let n = 0;
    const off = bus.subscribe('*', () => void n++);
    await bus.publish(event);
    off();
    await bus.publish(event);
    await bus.settled();
    expect(n).toBe(1);
  });
});

describe('Service Bus publisher', () => {
  it('sends the event type as subject and a de-duplication id', () => {
    const m = toMessage(event);
    expect(m).toMatchObject({ subject: 'audit.decision', contentType: 'application/json', messageId: 's_pub_00001:3', correlationId: 'r_1', body: event });
  });

  it('logs and returns when the namespace refuses connections', async () => {
    const logger = recordingLogger();
    const publisher = createServiceBusPublisher({
      connectionString: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=dGVzdA==;UseDevelopmentEmulator=true',
      topic: 'broker-events',
      timeoutMs: 2_000,
      logger,
    });
    const start = performance.now();
    await expect(publisher.publish(event)).resolves.toBeUndefined();
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(logger.warnings).toEqual(['event publish failed']);
    await publisher.close();
  });

  it('gives up on a namespace that never answers within its timeout, without throwing', async () => {
    silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as { port: number }).port;
    const logger = recordingLogger();
    const publisher = createServiceBusPublisher({
      connectionString: `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=dGVzdA==;UseDevelopmentEmulator=true`,
      timeoutMs: 1_000,
      logger,
    });
    const start = performance.now();
    await expect(publisher.publish(event)).resolves.toBeUndefined();
    expect(performance.now() - start).toBeLessThan(4_000);
    expect(logger.warnings).toEqual(['event publish failed']);
    await publisher.close();
  });

  it('constructs with a namespace and managed-identity credential without connecting', async () => {
    const publisher = createServiceBusPublisher({ fullyQualifiedNamespace: 'sb-test.servicebus.windows.net', credential: staticCredential });
    expect(publisher.configured).toBe(true);
    await publisher.close();
  });

  it('is a logged no-op when no namespace is configured', async () => {
    const logger = recordingLogger();
    const saved = process.env.QB_SERVICE_BUS_NAMESPACE;
    delete process.env.QB_SERVICE_BUS_NAMESPACE;
    try {
      const publisher = createServiceBusPublisher({ logger });
      expect(publisher.configured).toBe(false);
      await expect(publisher.publish(event)).resolves.toBeUndefined();
      expect(logger.warnings).toHaveLength(1);
    } finally {
      if (saved !== undefined) process.env.QB_SERVICE_BUS_NAMESPACE = saved;
    }
  });
});

describe('audit log with event publishing', () => {
  it('announces each stored record with its chain position and hash, without the row sample', async () => {
    const bus = createInProcessPublisher();
    const got: BrokerEvent[] = [];
    bus.subscribe('*', (e) => void got.push(e));
    const log = withEventPublishing(createMemoryAuditLog(), bus);
    const record = await log.append('s_pub_session', { type: 'executed', requestId: 'r_9', actor: { oid: 'o1' }, data: { rowCount: 1, sample: [['x']] } });
    await bus.settled();
    expect(got).toEqual([
      {
        type: 'audit.executed',
        time: record.time,
        data: { sessionId: 's_pub_session', seq: 0, hash: record.hash, requestId: 'r_9', actor: { oid: 'o1' }, details: { rowCount: 1 } },
      },
    ]);
  });

  it('keeps the record when publishing fails', async () => {
    const failing: EventPublisher = { publish: async () => Promise.reject(new Error('bus down')) };
    const logger = recordingLogger();
    const inner = createMemoryAuditLog();
    const log = withEventPublishing(inner, failing, { logger });
    await log.append('s_pub_session2', { type: 'decision', requestId: 'r_1', actor: { oid: 'o1' }, data: {} });
    await new Promise((r) => setTimeout(r, 0));
    expect(await inner.verify('s_pub_session2')).toMatchObject({ valid: true, events: 1 });
    expect(logger.warnings).toEqual(['event publish failed']);
  });
});
