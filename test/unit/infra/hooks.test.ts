import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, copyFileSync, writeFileSync, symlinkSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT, listFiles } from './bicep.js';

interface Hook {
  run?: string;
  shell?: string;
}
interface AzureYaml {
  name?: string;
  hooks?: Record<string, Hook>;
  services?: Record<string, { project?: string; language?: string; host?: string; hooks?: Record<string, Hook> }>;
}

const azureYaml = parseYaml(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as AzureYaml;

describe('azure.yaml and the azd hooks', () => {
  it('declares service `api`: a TypeScript Function App built from the repository root', () => {
    expect(azureYaml.services?.api).toMatchObject({ project: '.', language: 'ts', host: 'function' });
  });

  it('every hook runs a script that exists and is valid bash', () => {
    const hooks = [...Object.values(azureYaml.hooks ?? {}), ...Object.values(azureYaml.services?.api?.hooks ?? {})];
    expect(hooks.length).toBeGreaterThanOrEqual(4);
    for (const hook of hooks) {
      const script = join(ROOT, hook.run ?? '');
      expect(existsSync(script), hook.run).toBe(true);
    }
    for (const script of listFiles(join(ROOT, 'scripts'), '.sh')) {
      const result = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
      expect(result.status, `${script}: ${result.stderr}`).toBe(0);
    }
    expect(azureYaml.hooks?.preprovision?.run).toBe('./scripts/preprovision.sh');
    expect(azureYaml.services?.api?.hooks?.prepackage?.run).toBe('./scripts/prepackage.sh');
    expect(readFileSync(join(ROOT, 'scripts/prepackage.sh'), 'utf8')).toMatch(/^npm run build$/m);
  });

  it('the app registration gets exactly the five app roles, and Query.Approve is for people only', () => {
    const common = readFileSync(join(ROOT, 'scripts/common.sh'), 'utf8');
    const roles = [...common.matchAll(/^\s+"([\w.]+)\|([\w,]+)\|/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(roles).toEqual(['Query.Read:Application,User', 'Query.Write:Application,User', 'Query.Approve:User', 'Audit.Read:Application,User', 'PII.Read:Application,User']);
    const pre = readFileSync(join(ROOT, 'scripts/preprovision.sh'), 'utf8');
    expect(pre).toContain('api://query-broker-${env_name}');
    expect(pre).toContain('appRoleAssignmentRequired');
  });
});

describe('predeploy: the shipped policy must accept this deployment\'s tokens', () => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  let dir = '';

  beforeAll(() => {
    // A project copy whose "dist" loader is the real src/policy/load.ts (through tsx).
    dir = mkdtempSync(join(tmpdir(), 'qb-predeploy-'));
    mkdirSync(join(dir, 'scripts'));
    for (const f of ['common.sh', 'predeploy.sh']) copyFileSync(join(ROOT, 'scripts', f), join(dir, 'scripts', f));
    mkdirSync(join(dir, 'dist/src/policy'), { recursive: true });
    writeFileSync(join(dir, 'dist/src/policy/load.js'), `export * from ${JSON.stringify(join(ROOT, 'src/policy/load.ts'))};\n`);
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(
      join(dir, 'qb.yaml'),
      [
        'audience: api://query-broker-dev',
        `tenant: ${tenant}`,
        'connections:',
        '  sales: { host: db.example.com, database: sales, credentials: { keyVaultSecret: sales-agent } }',
        'profiles:',
        '  agent-read: { match: { roles: [Query.Read] }, connections: [sales], access: read }',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function predeploy(env: Record<string, string>) {
    return spawnSync('bash', [join(dir, 'scripts/predeploy.sh')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      // No azd on this PATH: the values come from the environment, as azd passes them to hooks.
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, NODE_OPTIONS: '--import=tsx', ...env },
    });
  }

  it('passes a policy whose audience and tenant match', () => {
    const r = predeploy({ QB_AUDIENCE: 'api://query-broker-dev', AZURE_TENANT_ID: tenant });
    expect(r.status, r.stderr).toBe(0);
  });

  it('stops the deployment when the audience differs, naming both values', () => {
    const r = predeploy({ QB_AUDIENCE: 'api://query-broker-prod', AZURE_TENANT_ID: tenant });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("audience 'api://query-broker-dev'");
    expect(r.stderr).toContain("aud 'api://query-broker-prod'");
  });

  it('stops the deployment when the tenant differs', () => {
    const r = predeploy({ QB_AUDIENCE: 'api://query-broker-dev', AZURE_TENANT_ID: '0f0f0f0f-86f1-41af-91ab-2d7cd011db47' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`tenant '${tenant}'`);
  });

  it('passes a policy that lists both audience forms (identifier URI and app id)', () => {
    writeFileSync(join(dir, 'both.yaml'), readFileSync(join(dir, 'qb.yaml'), 'utf8').replace('audience: api://query-broker-dev', "audience: ['api://query-broker-dev', '5b1c3d2e-1111-4222-8333-944455556666']"));
    const r = predeploy({ QB_POLICY_FILE: 'both.yaml', QB_AUDIENCE: 'api://query-broker-dev', AZURE_TENANT_ID: tenant });
    expect(r.status, r.stderr).toBe(0);
    const wrong = predeploy({ QB_POLICY_FILE: 'both.yaml', QB_AUDIENCE: 'api://query-broker-prod', AZURE_TENANT_ID: tenant });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("audience 'api://query-broker-dev, 5b1c3d2e-1111-4222-8333-944455556666'");
  });

  it('stops on a policy the broker would refuse to load', () => {
    writeFileSync(join(dir, 'broken.yaml'), 'audience: 3\n');
    const r = predeploy({ QB_POLICY_FILE: 'broken.yaml', QB_AUDIENCE: 'api://query-broker-dev', AZURE_TENANT_ID: tenant });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Invalid policy file broken\.yaml[\s\S]*audience/);
  });
});

describe('starter policy: `azd up` from a clean clone does not stop for a hand-written qb.yaml', () => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const appId = '5b1c3d2e-1111-4222-8333-944455556666';
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'qb-starter-'));
    mkdirSync(join(dir, 'scripts'));
    for (const f of ['common.sh', 'starter-policy.sh', 'predeploy.sh']) copyFileSync(join(ROOT, 'scripts', f), join(dir, 'scripts', f));
    mkdirSync(join(dir, 'dist/src/policy'), { recursive: true });
    writeFileSync(join(dir, 'dist/src/policy/load.js'), `export * from ${JSON.stringify(join(ROOT, 'src/policy/load.ts'))};\n`);
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(script: string, env: Record<string, string>) {
    return spawnSync('bash', [join(dir, 'scripts', script)], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, NODE_OPTIONS: '--import=tsx', ...env },
    });
  }
  const load = async (file: string) => (await import('../../../src/policy/load.js')).loadPolicyFile(join(dir, file));

  it('the postprovision hook runs it before anything needs the Azure CLI', () => {
    const post = readFileSync(join(ROOT, 'scripts/postprovision.sh'), 'utf8');
    expect(post.indexOf('starter-policy.sh')).toBeGreaterThan(0);
    expect(post.indexOf('starter-policy.sh')).toBeLessThan(post.indexOf('\nrequire_azure_cli'));
    expect(azureYaml.hooks?.postprovision?.run).toBe('./scripts/postprovision.sh');
  });

  it('writes a policy the broker loads: tenant, both audience forms, the database from the environment', async () => {
    const r = run('starter-policy.sh', { QB_POLICY_FILE: 'a.yaml', AZURE_TENANT_ID: tenant, QB_AUDIENCE: 'api://query-broker-dev', QB_API_CLIENT_ID: appId, QB_DATABASE_HOST: 'pg-qb.postgres.database.azure.com', QB_DATABASE_NAME: 'sales' });
    expect(r.status, r.stderr).toBe(0);
    const policy = await load('a.yaml');
    expect(policy.tenant).toBe(tenant);
    expect(policy.audience).toEqual(['api://query-broker-dev', appId]);
    expect(policy.connections.main).toMatchObject({ host: 'pg-qb.postgres.database.azure.com', database: 'sales', port: 5432, ssl: true, credentials: { keyVaultSecret: 'main-password' } });
    expect(Object.keys(policy.profiles).sort()).toEqual(['agent-read', 'agent-write']);
    expect(policy.profiles['agent-write']?.approval?.approvers.roles).toEqual(['Query.Approve']);
  });

  it('without a database it still writes a loadable policy (no connections yet), with Entra credentials when asked', async () => {
    expect(run('starter-policy.sh', { QB_POLICY_FILE: 'b.yaml', AZURE_TENANT_ID: tenant, QB_AUDIENCE: 'api://query-broker-dev' }).status).toBe(0);
    const bare = await load('b.yaml');
    expect(bare.audience).toBe('api://query-broker-dev');
    expect(bare.connections).toEqual({});
    expect(run('starter-policy.sh', { QB_POLICY_FILE: 'c.yaml', AZURE_TENANT_ID: tenant, QB_AUDIENCE: 'api://x', QB_DATABASE_HOST: 'pg', QB_DATABASE_ENTRA: 'true' }).status).toBe(0);
    expect((await load('c.yaml')).connections.main?.credentials).toEqual({ entra: true });
  });

  it('never overwrites an existing file, and stops without a tenant', () => {
    writeFileSync(join(dir, 'mine.yaml'), 'audience: api://mine\n');
    expect(run('starter-policy.sh', { QB_POLICY_FILE: 'mine.yaml', AZURE_TENANT_ID: tenant, QB_AUDIENCE: 'api://query-broker-dev' }).status).toBe(0);
    expect(readFileSync(join(dir, 'mine.yaml'), 'utf8')).toBe('audience: api://mine\n');
    const r = run('starter-policy.sh', { QB_POLICY_FILE: 'd.yaml', QB_AUDIENCE: 'api://query-broker-dev' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('AZURE_TENANT_ID');
    expect(existsSync(join(dir, 'd.yaml'))).toBe(false);
  });

  it('predeploy on a clean clone writes the starter policy and passes its own check', () => {
    const r = run('predeploy.sh', { QB_POLICY_FILE: 'e.yaml', AZURE_TENANT_ID: tenant, QB_AUDIENCE: 'api://query-broker-dev', QB_API_CLIENT_ID: appId });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'e.yaml'), 'utf8')).toContain(`tenant: ${tenant}`);
  });
});
