/**
 * Summarize a saved CPU profile (e.g. bench/results/http-server-audit-on.cpuprofile.json from
 * `npm run bench -- --profile`), and show who calls a function:
 *   npx tsx bench/profile-summary.ts <file.cpuprofile.json> [--callers <function name or place>]…
 * The same files open in Chrome DevTools (Performance → Load profile) for a flame chart.
 */
import { readFileSync } from 'node:fs';
import { summarizeCpuProfile, placeOf } from './lib/cpuprofile.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function callers(file: string, needle: string, depth = 10): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<number, number>();
  p.samples.forEach((id, i) => {
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) inclusive.set(c, (inclusive.get(c) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${placeOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
  const paths = new Map<string, number>();
  for (const n of p.nodes) {
    if (!label(n).includes(needle)) continue;
    const chain: string[] = [];
    for (let c = parent.get(n.id), i = 0; c !== undefined && i < depth; c = parent.get(c), i++) chain.push(label(byId.get(c)!));
    const key = chain.join(' < ');
    paths.set(key, (paths.get(key) ?? 0) + (inclusive.get(n.id) ?? 0));
  }
  return [...paths].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile.json> [--callers <name>]…\n');
  process.exit(2);
}
const s = summarizeCpuProfile(file, 25);
process.stdout.write(`${file}: wall ${s.wallMs} ms, busy ${s.busyMs} ms, idle ${s.idleMs} ms, profiler ${s.profilerMs} ms\n`);
process.stdout.write('\nby owner (Node/native time charged to its JS caller):\n');
for (const x of s.byOwner) process.stdout.write(`${x.ms.toFixed(1).padStart(9)} ms ${(x.share * 100).toFixed(1).padStart(5)} %  ${x.name}\n`);
process.stdout.write('\nhottest functions (self time):\n');
for (const x of s.topFunctions) process.stdout.write(`${x.ms.toFixed(1).padStart(9)} ms ${(x.share * 100).toFixed(1).padStart(5)} %  ${x.name}\n`);
for (let i = 0; i < rest.length; i++) {
  if (rest[i] !== '--callers' || !rest[i + 1]) continue;
  process.stdout.write(`\ncallers of "${rest[i + 1]}" (inclusive time, nearest first):\n${callers(file, rest[i + 1]!).join('\n')}\n`);
}
