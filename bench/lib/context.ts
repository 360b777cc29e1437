import type { BenchStack } from './stack.js';
import type { BrokerServer } from './http.js';
import type { PolicyConfig } from '../../src/policy/schema.js';
import type { CpuGroup } from './cpu.js';

/** What every section gets: the real parts, the policy, and how hard to work. */
export interface BenchContext {
  stack: BenchStack;
  /** the bench policy (rate limit lifted) */
  policy: PolicyConfig;
  /** the same policy as JSON, for server children */
  policyJson: string;
  /** fewer iterations and runs: a smoke run of the harness, not figures to quote */
  quick: boolean;
  /** runs per figure (the table shows their median) */
  runs: number;
  /** also take CPU profiles (where the time goes) */
  profile: boolean;
  /** HTTP broker servers: audit on Azurite, and audit off (in-process chain, no storage) */
  servers?: { blob: BrokerServer; memory: BrokerServer };
}

/** The HTTP servers, which the latency and throughput sections need. */
export function serversOf(ctx: BenchContext): { blob: BrokerServer; memory: BrokerServer } {
  if (!ctx.servers) throw new Error('this section needs the HTTP broker servers');
  return ctx.servers;
}

/** Iterations scaled down in quick mode. */
export function iterations(ctx: BenchContext, full: number): number {
  return ctx.quick ? Math.max(10, Math.round(full / 5)) : full;
}

/** The processes whose CPU the bench accounts: the broker (this process or a server child), PostgreSQL backends of the bench database, Azurite. */
export function cpuGroups(ctx: BenchContext, brokerPid: number = process.pid, blobConnectionString: string = ctx.stack.blobConnectionString): CpuGroup[] {
  const azuritePort = /BlobEndpoint=http:\/\/[^:]+:(\d+)\//.exec(blobConnectionString)?.[1];
  return [
    { name: 'broker', pids: [brokerPid] },
    { name: 'postgres', match: ` ${ctx.stack.database} ` },
    ...(azuritePort ? [{ name: 'azurite', match: `--blobPort ${azuritePort}` }] : []),
  ];
}
