/**
 * RequestStore on Blob Storage: `requests/<requestId>.json` in a container of its own (never the
 * audit container, which is write-once). Creation is `If-None-Match: *`, every change `If-Match`
 * the ETag read, so a decision is taken exactly once however many instances race.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { BrokerError } from '../../errors.js';
import { readBody, restStatus } from '../../audit/blob-storage.js';
import type { RequestStore, StoredRequest } from './request-store.js';
import { REQUEST_ID_PATTERN, type ApprovalRequestRecord } from '../types.js';

export const DEFAULT_REQUESTS_CONTAINER = 'requests';

export interface BlobRequestStoreOptions {
  containerClient: ContainerClient;
  /** create the container on first use (Azurite, or an identity allowed to); default true */
  createContainer?: boolean;
}

function blobName(requestId: string): string {
  if (!REQUEST_ID_PATTERN.test(requestId)) throw new BrokerError('not_found', `No request ${requestId.slice(0, 80)}.`);
  return `requests/${requestId}.json`;
}

function unavailable(e: unknown): BrokerError {
  return new BrokerError('dependency_unavailable', 'The request store cannot be reached; retry in a moment.', { cause: e });
}

export function createBlobRequestStore(options: BlobRequestStoreOptions): RequestStore {
  const container = options.containerClient;
  let ready: Promise<void> | undefined;
  const ensureContainer = (): Promise<void> => {
    if (options.createContainer === false) return Promise.resolve();
    ready ??= container
      .createIfNotExists()
      .then(() => undefined)
      .catch((e: unknown) => {
        // Provisioned by infra and not ours to create: carry on, writes will tell.
        if (restStatus(e) === 403) return;
        ready = undefined;
        throw unavailable(e);
      });
    return ready;
  };

  const upload = (record: ApprovalRequestRecord, conditions: { ifNoneMatch?: string; ifMatch?: string }) => {
    const body = JSON.stringify(record);
    return container.getBlockBlobClient(blobName(record.requestId)).upload(body, Buffer.byteLength(body), {
      conditions,
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  };

  return {
    async create(record) {
      await ensureContainer();
      try {
        await upload(record, { ifNoneMatch: '*' });
      } catch (e) {
        const status = restStatus(e);
        if (status === 409 || status === 412) throw new BrokerError('conflict', `The request ${record.requestId} exists already.`);
        throw unavailable(e);
      }
    },

    async get(requestId): Promise<StoredRequest | undefined> {
      const name = blobName(requestId);
      await ensureContainer();
      try {
        const res = await container.getBlobClient(name).download();
        const text = (await readBody(res.readableStreamBody)).toString('utf8');
        const record = JSON.parse(text) as ApprovalRequestRecord;
        if (record.requestId !== requestId || !res.etag) throw new BrokerError('internal_error', `The stored request ${requestId} is damaged.`);
        return { record, etag: res.etag };
      } catch (e) {
        if (restStatus(e) === 404) return undefined;
        if (e instanceof BrokerError) throw e;
        throw unavailable(e);
      }
    },

    async listChangedSince(since) {
      await ensureContainer();
      const names: string[] = [];
      try {
        for await (const blob of container.listBlobsFlat({ prefix: 'requests/' })) {
          const modified = blob.properties.lastModified;
          if (modified === undefined || modified.getTime() >= since.getTime()) names.push(blob.name);
        }
      } catch (e) {
        throw unavailable(e);
      }
      const ids = names.map((n) => n.slice('requests/'.length).replace(/\.json$/, '')).filter((id) => REQUEST_ID_PATTERN.test(id));
      const out: ApprovalRequestRecord[] = [];
      // A few at a time: an inbox is tens of requests, not thousands.
      for (let i = 0; i < ids.length; i += 8) {
        const batch = await Promise.all(ids.slice(i, i + 8).map((id) => this.get(id)));
        for (const stored of batch) if (stored) out.push(stored.record);
      }
      return out;
    },

    async replace(record, etag) {
      await ensureContainer();
      try {
        await upload(record, { ifMatch: etag });
        return true;
      } catch (e) {
        if (restStatus(e) === 412) return false;
        throw unavailable(e);
      }
    },
  };
}
