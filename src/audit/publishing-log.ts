/**
 * An AuditLog that announces every stored record on an EventPublisher. The blob append comes first
 * and decides the outcome; publishing starts only after the record is stored, is not awaited, and
 * its failure is logged, so it can neither lose a record nor slow the query path.
 */
import type { AuditLog, EventPublisher } from '../broker/ports.js';
import { brokerEventFromAuditRecord } from '../events/audit-event.js';
import { silentLogger, type Logger } from '../log.js';

export function withEventPublishing(log: AuditLog, publisher: EventPublisher, options: { logger?: Logger } = {}): AuditLog {
  const logger = options.logger ?? silentLogger;
  return {
    async append(sessionId, event, appendOptions) {
      const record = await log.append(sessionId, event, appendOptions);
      publisher
        .publish(brokerEventFromAuditRecord(record))
        .catch((e: unknown) => logger.warn('event publish failed', { sessionId, seq: record.seq, error: e instanceof Error ? e.message : String(e) }));
      return record;
    },
    read: (sessionId) => log.read(sessionId),
    verify: (sessionId) => log.verify(sessionId),
    list: (filter) => log.list(filter),
    ping: () => log.ping(),
    // The storage counters are the wrapped log's: publishing makes no storage requests.
    ...(log.stats ? { stats: log.stats.bind(log) } : {}),
  };
}
