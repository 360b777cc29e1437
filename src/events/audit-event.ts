/**
 * The broker event announcing a stored audit record. It carries the record's position and hash,
 * so subscribers hold an outside copy of the chain's progress (deleting or truncating a session
 * blob would contradict it), and the event body minus the row sample, which stays in the blob.
 */
import type { AuditRecord, BrokerEvent } from '../broker/ports.js';

export function brokerEventFromAuditRecord(record: AuditRecord): BrokerEvent {
  const { sample: _sample, ...details } = record.data;
  return {
    type: `audit.${record.type}`,
    time: record.time,
    data: {
      sessionId: record.sessionId,
      seq: record.seq,
      hash: record.hash,
      requestId: record.requestId,
      actor: record.actor,
      details,
    },
  };
}
