/**
 * Where the time goes, from a V8 CPU profile (`node --cpu-prof`): self time by package or source
 * file, and the hottest functions. Self time only, so nothing is counted twice.
 */
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from './processes.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** share of the busy (non-idle) time */
  share: number;
}

export interface ProfileSummary {
  wallMs: number;
  /** sampled time that was not idle, the profiler's own work left out */
  busyMs: number;
  idleMs: number;
  /** the inspector's own cost while sampling */
  profilerMs: number;
  /** by npm package, node internal module, or repository file */
  byPlace: ProfileShare[];
  /** by this repository's area (src/<area>, functions, bench), packages and node grouped */
  byArea: ProfileShare[];
  /**
   * by owner: time in Node internals and native code charged to the nearest calling frame in this
   * repository or an npm package (so a socket write made for pg counts for pg)
   */
  byOwner: ProfileShare[];
  topFunctions: ProfileShare[];
}

const PROFILER = '(profiler)';

/** `node_modules/<pkg>` (scoped too), `node:<module>`, or the path inside the repository. */
export function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path);
  }
  if (path.startsWith(REPO_ROOT)) return path.slice(REPO_ROOT.length + 1);
  return path;
}

function areaOf(place: string): string {
  if (place.startsWith('src/')) return place.split('/').slice(0, 2).join('/');
  if (place.startsWith('functions/') || place.startsWith('bench/')) return place.split('/')[0]!;
  if (place.startsWith('node:')) return 'node internals';
  if (place.startsWith('(')) return place;
  return `npm: ${place}`;
}

function top(map: Map<string, number>, busyUs: number, n: number): ProfileShare[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, share: Math.round((us / busyUs) * 1000) / 1000 }));
}

export function summarizeCpuProfile(file: string, n = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parentOf.set(c, node.id);
  const ownerCache = new Map<number, string>();
  const isOwner = (place: string) => !place.startsWith('node:') && !place.startsWith('(');
  /** The nearest frame (itself or a caller) in the repository or an npm package. */
  const ownerOf = (id: number): string => {
    const known = ownerCache.get(id);
    if (known !== undefined) return known;
    const chain: number[] = [];
    let cur: number | undefined = id;
    let owner = '';
    while (cur !== undefined) {
      const cached = ownerCache.get(cur);
      if (cached !== undefined) {
        owner = cached;
        break;
      }
      chain.push(cur);
      const n = byId.get(cur);
      const place = n ? placeOf(n.callFrame.url, n.callFrame.functionName) : '';
      if (n && isOwner(place)) {
        // The inspector session that takes the profile is not the broker's work.
        owner = place === 'bench/lib/profiler.ts' ? PROFILER : areaOf(place);
        break;
      }
      cur = parentOf.get(cur);
    }
    if (owner === '') {
      const self = byId.get(id);
      owner = self ? `${areaOf(placeOf(self.callFrame.url, self.callFrame.functionName))} (no JS caller)` : '(unknown)';
    }
    for (const c of chain) ownerCache.set(c, owner);
    return owner;
  };
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: charge it to sample i.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byPlace = new Map<string, number>();
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  let profilerUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const owner = ownerOf(id);
    if (owner === PROFILER) {
      profilerUs += us;
      continue;
    }
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const place = placeOf(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    const area = areaOf(place);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs - profilerUs);
  return {
    wallMs: Math.round((profile.endTime - profile.startTime) / 1000),
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    profilerMs: Math.round(profilerUs / 1000),
    byPlace: top(byPlace, busyUs, n),
    byArea: top(byArea, busyUs, n),
    byOwner: top(byOwner, busyUs, n),
    topFunctions: top(byFunction, busyUs, n),
  };
}
