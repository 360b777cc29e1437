/**
 * Every audited read waits for one append, and every append runs the whole @azure/storage-blob
 * request pipeline in this process. Some of its policies do nothing for the audit log's requests
 * in Node, yet each costs an async hop per request and the tracing policy a no-op span with a
 * sanitized URL. They are removed from the audit container's pipeline, which its blob clients
 * share (the SDK builds the pipeline once per Pipeline object and reuses it for every client made
 * from the container).
 *
 * The SDK offers no option for this: the pipeline is reached through the client's service context.
 * test/unit/audit/sdk-pipeline.test.ts pins the pipeline this yields for the installed SDK, so an
 * SDK update that moves or renames anything fails that test instead of slowing down silently; at
 * run time a pipeline that cannot be reached is left as the SDK built it.
 */
import type { ContainerClient } from '@azure/storage-blob';

/**
 * - tracingPolicy: starts a span per request; without an OpenTelemetry instrumenter registered with
 *   @azure/core-tracing (the broker registers none) every span is a no-op. Register one and remove
 *   this entry to trace audit requests.
 * - formDataPolicy, multipartPolicy: act only on form-data and multipart bodies; the audit log
 *   sends neither.
 * - storageBrowserPolicy: sets browser cache-busting in browsers; in Node it only calls the next
 *   policy.
 */
export const AUDIT_PIPELINE_REMOVED_POLICIES = ['tracingPolicy', 'formDataPolicy', 'multipartPolicy', 'storageBrowserPolicy'] as const;

/** The part of @azure/core-rest-pipeline's Pipeline this needs. */
interface CorePipeline {
  getOrderedPolicies(): { name: string }[];
  removePolicy(options: { name: string }): unknown;
}

function isCorePipeline(v: unknown): v is CorePipeline {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { getOrderedPolicies?: unknown }).getOrderedPolicies === 'function' &&
    typeof (v as { removePolicy?: unknown }).removePolicy === 'function'
  );
}

/** The request pipeline the container's requests (and its blob clients' requests) go through; undefined if the SDK hides it. */
export function auditRequestPipeline(container: ContainerClient): CorePipeline | undefined {
  const context: unknown = (container as unknown as { storageClientContext?: unknown }).storageClientContext;
  const pipeline: unknown = typeof context === 'object' && context !== null ? (context as { pipeline?: unknown }).pipeline : undefined;
  return isCorePipeline(pipeline) ? pipeline : undefined;
}

/** Remove the policies above from the container's pipeline; false when it cannot be reached (left as it is). */
export function removeIdlePolicies(container: ContainerClient): boolean {
  const pipeline = auditRequestPipeline(container);
  if (!pipeline) return false;
  for (const name of AUDIT_PIPELINE_REMOVED_POLICIES) pipeline.removePolicy({ name });
  return true;
}
