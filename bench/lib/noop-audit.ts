/**
 * An AuditLog that records nothing and computes nothing: only to measure the pipeline with the
 * audit chain's own CPU left out (the memory log still builds and hashes every record).
 */
import type { AuditLog, AuditRecord } from '../../src/broker/ports.js';

const ZERO = '0'.repeat(64);

export function createNoopAuditLog(): AuditLog {
  let seq = 0;
  return {
    async append(sessionId, event) {
      const record: AuditRecord = { ...event, v: 1, sessionId, seq: seq++, time: '', prevHash: ZERO, hash: ZERO };
      return record;
    },
    read: async () => [],
    verify: async () => ({ valid: true, events: 0, firstBadSeq: null }),
    list: async () => [],
    ping: async () => true,
  };
}
