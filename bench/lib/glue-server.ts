/**
 * The broker's HTTP glue alone: the local host (the same app, routes, middleware, token verifier
 * and rate limiter) whose Broker.query answers a canned outcome (QB_GLUE_REPLY) at once, touching
 * the request's AbortSignal as the executor does. Server CPU per request here minus the bare Hono
 * floor's is what the glue costs, free of the pipeline's noise. Policy as QB_BENCH_POLICY.
 * Reports `{ type: 'ready', url }` over IPC; `profile-start` / `profile-stop` as the other servers.
 */
import { startLocalBroker, type LocalBroker } from '../../src/local/host.js';
import { validatePolicy } from '../../src/policy/load.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createJsonLogger } from '../../src/log.js';
import type { QueryOutcome } from '../../src/broker/types.js';
import { reportFailure, reportReady, serveParent } from './child-server.js';

let broker: LocalBroker | undefined;

async function main(): Promise<void> {
  const policy = validatePolicy(JSON.parse(process.env.QB_BENCH_POLICY ?? '{}'), 'bench policy');
  const reply = JSON.parse(process.env.QB_GLUE_REPLY ?? '{}') as QueryOutcome;
  broker = await startLocalBroker({ policy, blobConnectionString: 'UseDevelopmentStorage=true', log: createJsonLogger(), audit: createMemoryAuditLog() });
  const onAbort = () => {};
  broker.runtime.broker.query = async (_principal, _req, signal) => {
    signal?.addEventListener('abort', onAbort, { once: true });
    await Promise.resolve();
    signal?.removeEventListener('abort', onAbort);
    return reply;
  };
  reportReady(broker.url);
}

serveParent({ stop: () => void broker?.close().finally(() => process.exit(0)) });
main().catch((e: unknown) => {
  reportFailure('glue server', e);
  process.exit(1);
});
