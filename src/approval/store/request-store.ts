/**
 * Where held requests live between the agent's 202 and its last poll: one document per request
 * id, written only with optimistic concurrency (ETag), so two approvers racing cannot both win.
 */
import { BrokerError } from '../../errors.js';
import type { ApprovalRequestRecord } from '../types.js';

export interface StoredRequest {
  record: ApprovalRequestRecord;
  /** the version read; a replace succeeds only while the document still has it */
  etag: string;
}

export interface RequestStore {
  /** store a new request; BrokerError('conflict') when the id exists already */
  create(record: ApprovalRequestRecord): Promise<void>;
  get(requestId: string): Promise<StoredRequest | undefined>;
  /** write `record` only if the stored document is still at `etag`; false when another writer got there first */
  replace(record: ApprovalRequestRecord, etag: string): Promise<boolean>;
  /** the requests created or changed since `since` (the approver's inbox); absent: the store cannot list */
  listChangedSince?(since: Date): Promise<ApprovalRequestRecord[]>;
}

/**
 * Read-modify-write with retry on lost races. `change` returns the new record, or undefined to
 * leave it as it is (the caller then gets the current one back). Returns what is stored after.
 */
export async function updateRequest(
  store: RequestStore,
  requestId: string,
  change: (current: ApprovalRequestRecord) => ApprovalRequestRecord | undefined,
  maxAttempts = 10,
): Promise<{ record: ApprovalRequestRecord; changed: boolean }> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const current = await store.get(requestId);
    if (!current) throw new BrokerError('not_found', `No request ${requestId}.`);
    const next = change(structuredClone(current.record));
    if (next === undefined) return { record: current.record, changed: false };
    if (await store.replace(next, current.etag)) return { record: next, changed: true };
  }
  throw new BrokerError('dependency_unavailable', `The request ${requestId} is being changed by too many writers at once; retry in a moment.`);
}
