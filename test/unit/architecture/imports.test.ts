/**
 * The shape of the import graph (issue 18): no import cycles anywhere in src/ and functions/, and
 * the core (pipeline, approval workflow, masking, SQL, audit, database, policy, identity) never
 * imports the HTTP layer: the hosts' composition root (src/compose.ts) assembles the app from both.
 * Type-only imports count: a core module that names an HTTP type depends on the HTTP layer.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

interface MadgeResult {
  obj(): Record<string, string[]>;
  circular(): string[][];
}
type Madge = (paths: string[], config: Record<string, unknown>) => Promise<MadgeResult>;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const madge = createRequire(import.meta.url)('madge') as Madge;

const CORE = /^src\/(broker|approval|masking|sql|audit|db|policy|identity)\//;

let graph: MadgeResult;

beforeAll(async () => {
  graph = await madge(['src', 'functions'], {
    baseDir: root,
    fileExtensions: ['ts'],
    tsConfig: path.join(root, 'tsconfig.json'),
    detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
  });
}, 120_000);

describe('import graph of src/ and functions/', () => {
  it('reads the whole tree (the check would pass vacuously on an empty graph)', () => {
    const files = Object.keys(graph.obj());
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('src/broker/pipeline.ts');
    expect(files).toContain('src/http/app.ts');
    expect(graph.obj()['src/http/app.ts']?.length ?? 0).toBeGreaterThan(0);
  });

  it('has no circular imports', () => {
    const cycles = graph.circular().map((c) => c.join(' > '));
    expect(cycles, `circular imports:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('has no edge from the core to src/http', () => {
    const edges: string[] = [];
    for (const [file, deps] of Object.entries(graph.obj())) {
      if (!CORE.test(file)) continue;
      for (const dep of deps) if (dep.startsWith('src/http/')) edges.push(`${file} -> ${dep}`);
    }
    expect(edges, `core modules importing src/http:\n${edges.join('\n')}`).toEqual([]);
  });
});
