/**
 * The audit container's request pipeline, pinned for the installed @azure/storage-blob: the
 * policies removed by sdk-pipeline.ts are reached where it looks for them, are gone from the
 * container and from every blob client made from it, and everything else the SDK runs per request
 * (signing, retry, serialization, request ids, logging) is still there, in the SDK's order.
 * An SDK update that changes any of this fails here, not silently in production.
 */
import { describe, expect, it } from 'vitest';
import { ContainerClient } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import { AUDIT_PIPELINE_OPTIONS, createAuditContainerClient } from '../../../src/audit/blob-container.js';
import { AUDIT_PIPELINE_REMOVED_POLICIES, auditRequestPipeline } from '../../../src/audit/sdk-pipeline.js';
import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../../src/local/azurite.js';

const CONNECTION = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:1/${AZURITE_ACCOUNT};`;
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** What the installed SDK builds for a shared-key (Azurite) client, in order. */
const SDK_POLICIES_SHARED_KEY = [
  'serializationPolicy',
  'proxyPolicy',
  'wrapAbortSignalLikePolicy',
  'formDataPolicy',
  'userAgentPolicy',
  'setClientRequestIdPolicy',
  'StorageCorrectContentLengthPolicy',
  'storageRequestFailureDetailsParserPolicy',
  'storageBrowserPolicy',
  'deserializationPolicy',
  'multipartPolicy',
  'storageRetryPolicy',
  'tracingPolicy',
  'redirectPolicy',
  'storageSharedKeyCredentialPolicy',
  'logPolicy',
];

function policies(container: ContainerClient): string[] {
  const pipeline = auditRequestPipeline(container);
  if (!pipeline) throw new Error('the request pipeline cannot be reached');
  return pipeline.getOrderedPolicies().map((p) => p.name);
}

const without = (names: string[]) => names.filter((n) => !(AUDIT_PIPELINE_REMOVED_POLICIES as readonly string[]).includes(n));

describe('the audit container request pipeline', () => {
  it('is reached where the SDK keeps it, and the SDK builds the policies it is pinned to', () => {
    expect(policies(new ContainerClient(CONNECTION, 'audit', AUDIT_PIPELINE_OPTIONS))).toEqual(SDK_POLICIES_SHARED_KEY);
    for (const name of AUDIT_PIPELINE_REMOVED_POLICIES) expect(SDK_POLICIES_SHARED_KEY).toContain(name);
  });

  it('drops only the idle policies, for the container and every blob client made from it (shared key)', () => {
    const container = createAuditContainerClient({ connectionString: CONNECTION, container: 'audit' });
    expect(policies(container)).toEqual(without(SDK_POLICIES_SHARED_KEY));
    // The blob clients the audit log writes through run the very same pipeline object.
    const shared = auditRequestPipeline(container);
    for (const blob of [container.getAppendBlobClient('sessions/a.jsonl'), container.getBlockBlobClient('index/sessions/a.json'), container.getBlobClient('x')]) {
      expect(auditRequestPipeline(blob as unknown as ContainerClient)).toBe(shared);
    }
  });

  it('keeps the bearer token policy of a managed identity client, and drops the same idle policies', () => {
    const plain = policies(new ContainerClient('https://acct.blob.core.windows.net/audit', credential, AUDIT_PIPELINE_OPTIONS));
    expect(plain).toContain('bearerTokenAuthenticationPolicy');
    const tuned = policies(createAuditContainerClient({ endpoint: 'https://acct.blob.core.windows.net', container: 'audit', credential }));
    expect(tuned).toEqual(without(plain));
    expect(tuned).toEqual(expect.arrayContaining(['bearerTokenAuthenticationPolicy', 'storageRetryPolicy', 'setClientRequestIdPolicy', 'logPolicy']));
  });

  it('leaves other containers as the SDK built them', () => {
    createAuditContainerClient({ connectionString: CONNECTION, container: 'audit' });
    expect(policies(new ContainerClient(CONNECTION, 'other'))).toEqual(SDK_POLICIES_SHARED_KEY);
  });
});
