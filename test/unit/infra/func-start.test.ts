/**
 * `func start` compatibility without Core Tools (they cannot install here): what the Functions
 * host needs from `npm run build` + host.json is pinned here. The host reads package.json "main"
 * to find the entry module, which must be the compiled functions/index.ts that registers every
 * trigger; host.json must be version 2.0 with the extension bundle (Durable, Service Bus).
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BicepFile, INFRA, ROOT, listFiles, objectEntries } from './bicep.js';

const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as T;

interface PackageJson {
  main?: string;
  type?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
}
interface TsConfig {
  compilerOptions?: { outDir?: string; rootDir?: string; module?: string };
  include?: string[];
}
interface HostJson {
  version?: string;
  functionTimeout?: string;
  extensionBundle?: { id?: string; version?: string };
  extensions?: { durableTask?: { hubName?: string; storageProvider?: { type?: string; connectionName?: string }; tracing?: { traceInputsAndOutputs?: boolean } } };
}

describe('func start compatibility', () => {
  const pkg = readJson<PackageJson>('package.json');
  const tsconfig = readJson<TsConfig>('tsconfig.json');

  it('package.json "main" is the compiled functions/index.ts that `npm run build` produces', () => {
    expect(pkg.main).toBe('dist/functions/index.js');
    expect(pkg.scripts?.build).toMatch(/^tsc -p tsconfig\.json$/);
    // tsc maps <rootDir>/functions/index.ts to <outDir>/functions/index.js.
    expect(tsconfig.compilerOptions?.outDir).toBe('dist');
    expect(tsconfig.compilerOptions?.rootDir).toBe('.');
    expect(tsconfig.include).toContain('functions/**/*.ts');
    const source = (pkg.main ?? '').replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(existsSync(join(ROOT, source)), `${source} (the Functions entry) exists`).toBe(true);
  });

  it('the entry module is ESM and imports every trigger file in functions/', () => {
    expect(pkg.type).toBe('module');
    const index = readFileSync(join(ROOT, 'functions/index.ts'), 'utf8');
    const triggerFiles = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'runtime.ts');
    const registering = triggerFiles.filter((f) => /\bapp\.(http|timer|serviceBusQueue|serviceBusTopic|storageQueue|generic)\(|df\.app\./.test(readFileSync(join(ROOT, 'functions', f), 'utf8')));
    const notImported = registering.filter((f) => !index.includes(`'./${f.replace(/\.ts$/, '.js')}'`));
    expect(notImported, 'trigger files functions/index.ts does not import').toEqual([]);
  });

  it('the runtime packages the host loads are production dependencies', () => {
    expect(pkg.dependencies?.['@azure/functions']).toBeDefined();
    expect(pkg.dependencies?.['durable-functions']).toBeDefined();
  });

  it('host.json is version 2.0 with the v4 extension bundle and the Durable task hub on identity storage', () => {
    const host = readJson<HostJson>('host.json');
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle?.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(host.extensionBundle?.version).toBe('[4.*, 5.0.0)');
    expect(host.functionTimeout).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    const durable = host.extensions?.durableTask;
    expect(durable?.hubName).toMatch(/^[A-Za-z][A-Za-z0-9]{2,44}$/);
    expect(durable?.storageProvider?.type).toBe('AzureStorage');
    // AzureWebJobsStorage__accountName/__credential/__clientId make this an identity connection.
    expect(durable?.storageProvider?.connectionName).toBe('AzureWebJobsStorage');
    // SQL and results never go to telemetry through orchestration inputs and outputs.
    expect(durable?.tracing?.traceInputsAndOutputs).toBe(false);
  });

  it('local.settings.sample.json is what `func start` reads after a copy to local.settings.json', () => {
    const sample = readJson<{ IsEncrypted: boolean; Values: Record<string, string> }>('local.settings.sample.json');
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(sample.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('local.settings.json');
  });

  it('every trigger connection in functions/ is configured in Azure (identity) and in the local sample', () => {
    const hostSettings = [...objectEntries(new BicepFile(join(INFRA, 'app/api-config.bicep')).varObject('hostSettings')).keys()];
    const sample = readJson<{ Values: Record<string, string> }>('local.settings.sample.json').Values;
    const connections = new Set<string>();
    for (const f of listFiles(join(ROOT, 'functions'), '.ts')) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bconnection\s*:\s*['"](\w+)['"]/g)) connections.add(m[1] ?? '');
    }
    for (const name of connections) {
      expect(hostSettings.some((k) => k.startsWith(`${name}__`)), `${name}__… in infra/app/api-config.bicep`).toBe(true);
      expect(Object.keys(sample).some((k) => k === name || k.startsWith(`${name}__`)), `${name} in local.settings.sample.json`).toBe(true);
    }
    // The notifier's connection is ready for the trigger that will use it.
    expect(hostSettings).toContain('ServiceBusConnection__fullyQualifiedNamespace');
  });

  it('%SETTING% binding expressions in functions/ resolve, and functions disabled locally exist', () => {
    const main = new BicepFile(join(INFRA, 'main.bicep'));
    const azure = [...objectEntries(main.varObject('brokerAppSettings')).keys()];
    const sample = readJson<{ Values: Record<string, string> }>('local.settings.sample.json').Values;
    const sources = listFiles(join(ROOT, 'functions'), '.ts').map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const m of sources.matchAll(/'%(\w+)%'/g)) {
      expect(azure, `%${m[1]}% in Azure`).toContain(m[1]);
      expect(Object.keys(sample), `%${m[1]}% locally`).toContain(m[1]);
    }
    const registered = new Set([...sources.matchAll(/\bapp\.\w+\(\s*'(\w+)'/g)].map((m) => m[1]));
    for (const key of Object.keys(sample)) {
      const name = /^AzureWebJobs\.(\w+)\.Disabled$/.exec(key)?.[1];
      if (name !== undefined) expect(registered.has(name), `${key}: no function named ${name} in functions/`).toBe(true);
    }
  });
});
