/**
 * The blob audit log's counters. The storage layer (blob-storage.ts, blob-log.ts) counts every
 * request it sends to storage, by kind, right before sending it; a request the SDK repeats after a
 * transport failure (its own retry policy) is counted once.
 */
import type { AuditLogStats, AuditStorageRequestKind } from '../broker/ports.js';

export type { AuditLogStats, AuditStorageRequestKind } from '../broker/ports.js';

export const AUDIT_STORAGE_REQUEST_KINDS: readonly AuditStorageRequestKind[] = ['append', 'create', 'read', 'properties', 'list', 'container'];

export interface AuditStatsCounter {
  request(kind: AuditStorageRequestKind): void;
  stored(events: number): void;
  conflict(): void;
  /** a copy: later requests do not change it */
  snapshot(): AuditLogStats;
}

export function createAuditStatsCounter(): AuditStatsCounter {
  const byKind: Record<AuditStorageRequestKind, number> = { append: 0, create: 0, read: 0, properties: 0, list: 0, container: 0 };
  let appends = 0;
  let blocks = 0;
  let conflicts = 0;
  return {
    request(kind) {
      byKind[kind]++;
    },
    stored(events) {
      blocks++;
      appends += events;
    },
    conflict() {
      conflicts++;
    },
    snapshot() {
      let storageRequests = 0;
      for (const kind of AUDIT_STORAGE_REQUEST_KINDS) storageRequests += byKind[kind];
      return { appends, blocks, storageRequests, storageRequestsByKind: { ...byKind }, conflicts };
    },
  };
}

/** `after − before`, kind by kind: what happened between two snapshots. */
export function statsDelta(before: AuditLogStats, after: AuditLogStats): AuditLogStats {
  const byKind = { ...after.storageRequestsByKind };
  for (const kind of AUDIT_STORAGE_REQUEST_KINDS) byKind[kind] -= before.storageRequestsByKind[kind];
  return {
    appends: after.appends - before.appends,
    blocks: after.blocks - before.blocks,
    storageRequests: after.storageRequests - before.storageRequests,
    storageRequestsByKind: byKind,
    conflicts: after.conflicts - before.conflicts,
  };
}
