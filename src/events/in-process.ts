/**
 * The local EventPublisher: an in-process bus that other local components (the in-process approval
 * runner, tests) subscribe to. Like the Service Bus publisher it never fails the publisher: a
 * listener that throws or rejects is logged and the others still get the event.
 */
import { EventEmitter } from 'node:events';
import type { BrokerEvent, EventPublisher } from '../broker/ports.js';
import { silentLogger, type Logger } from '../log.js';

export type BrokerEventListener = (event: BrokerEvent) => void | Promise<void>;

export interface InProcessPublisher extends EventPublisher {
  /** listen to one event type, or to every event with '*'; returns the unsubscribe function */
  subscribe(type: string, listener: BrokerEventListener): () => void;
  /** resolves when every listener started so far has finished (tests, orderly shutdown) */
  settled(): Promise<void>;
}

const ANY = '*';

export function createInProcessPublisher(options: { logger?: Logger } = {}): InProcessPublisher {
  const logger = options.logger ?? silentLogger;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const running = new Set<Promise<void>>();

  function deliver(listener: BrokerEventListener, event: BrokerEvent): void {
    // Listeners run after publish returns, so a slow one never holds up the request path.
    const run = Promise.resolve()
      .then(() => listener(event))
      .catch((e: unknown) => logger.warn('event listener failed', { type: event.type, error: e instanceof Error ? e.message : String(e) }))
      .finally(() => running.delete(run));
    running.add(run);
  }

  return {
    async publish(event) {
      for (const name of [event.type, ANY]) {
        for (const listener of emitter.listeners(name) as BrokerEventListener[]) deliver(listener, event);
      }
    },

    subscribe(type, listener) {
      emitter.on(type, listener);
      return () => void emitter.off(type, listener);
    },

    async settled() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
