/**
 * A child process that runs the local HTTP host (startLocalBroker), so the load generator and the
 * broker have their own event loops, as an agent and the broker would. Configured by environment:
 *   QB_BENCH_POLICY     the policy as JSON
 *   QB_BENCH_BLOB       Azurite connection string
 *   QB_BENCH_CONTAINER  audit container
 *   QB_BENCH_AUDIT      "blob" (Azurite) or "memory" (audit off: in-process chain, no storage)
 * Reports `{ type: 'ready', url }` over IPC; stops on `{ type: 'stop' }` or when the parent goes
 * away. `{ type: 'profile-start' }` / `{ type: 'profile-stop', file }` take a CPU profile of the
 * window between them (answered with `profile-started` / `profile-written`); `{ type: 'audit-stats' }`
 * is answered with the audit log's storage counters, or null when the log keeps none (in memory).
 */
import { startLocalBroker, type LocalBroker } from '../../src/local/host.js';
import { validatePolicy } from '../../src/policy/load.js';
import { createMemoryAuditLog } from '../../src/audit/memory-log.js';
import { createJsonLogger } from '../../src/log.js';
import { reportFailure, reportReady, serveParent } from './child-server.js';

function setting(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

let broker: LocalBroker | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await broker?.close().catch(() => {});
  }
  process.exit(code);
}

async function main(): Promise<void> {
  const policy = validatePolicy(JSON.parse(setting('QB_BENCH_POLICY')), 'bench policy');
  const mode = setting('QB_BENCH_AUDIT');
  broker = await startLocalBroker({
    policy,
    blobConnectionString: setting('QB_BENCH_BLOB'),
    auditContainer: setting('QB_BENCH_CONTAINER'),
    // The real JSON logger, as in production; the parent keeps only the tail of stderr.
    log: createJsonLogger(),
    ...(mode === 'memory' ? { audit: createMemoryAuditLog() } : {}),
  });
  reportReady(broker.url);
}

serveParent({
  stop: () => void stop(0),
  signals: ['SIGTERM', 'SIGINT'],
  onMessage(m) {
    if (m?.type !== 'audit-stats') return;
    // The blob audit log counts its storage requests (through the publishing wrapper); the memory
    // log has no counters, which is "unmeasured", not zero.
    const audit = broker?.audit;
    process.send?.({ type: 'audit-stats', stats: audit?.stats ? audit.stats() : null });
  },
});

main().catch((e: unknown) => {
  reportFailure('bench broker server', e);
  void stop(1);
});
