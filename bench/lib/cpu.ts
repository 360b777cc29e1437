/**
 * CPU time per process, from /proc (Linux). On a machine shared with other work, wall-clock
 * latency measures the queue for the CPU as much as our code; CPU time spent per request by the
 * broker, Azurite and the PostgreSQL backends is the cost that stays put, and 1 s × cores over its
 * sum is the throughput ceiling of an otherwise idle machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** user + system CPU of one process in µs, or undefined when it is gone (or there is no /proc). */
export function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Processes whose command line contains `needle` (arguments joined by spaces). */
export function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** A named set of processes whose CPU is summed: fixed pids, or pids found by command line at each sample. */
export interface CpuGroup {
  name: string;
  pids?: number[];
  match?: string;
}

export type CpuSample = Map<string, Map<number, number>>;

export function sampleCpu(groups: readonly CpuGroup[]): CpuSample {
  const out: CpuSample = new Map();
  for (const g of groups) {
    const pids = [...(g.pids ?? []), ...(g.match ? pidsMatching(g.match) : [])];
    const m = new Map<number, number>();
    for (const pid of pids) {
      const us = processCpuUs(pid);
      if (us !== undefined) m.set(pid, us);
    }
    out.set(g.name, m);
  }
  return out;
}

/** CPU µs each group used between two samples (a process that appeared meanwhile counts from zero). */
export function cpuDelta(before: CpuSample, after: CpuSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, now] of after) {
    const then = before.get(name) ?? new Map<number, number>();
    let sum = 0;
    for (const [pid, us] of now) sum += us - (then.get(pid) ?? 0);
    out[name] = sum;
  }
  return out;
}
