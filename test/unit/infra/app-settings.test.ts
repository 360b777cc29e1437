import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../../../src/settings.js';
import { DEFAULT_AUDIT_CONTAINER } from '../../../src/audit/blob-container.js';
import { DEFAULT_EVENTS_TOPIC } from '../../../src/events/service-bus.js';
import { BicepFile, INFRA, ROOT, objectEntries, propertyAt } from './bicep.js';

const settingNames = Object.values(SETTINGS);
const main = new BicepFile(join(INFRA, 'main.bicep'));
const apiConfig = new BicepFile(join(INFRA, 'app/api-config.bicep'));
const brokerSettings = objectEntries(main.varObject('brokerAppSettings'));
const hostSettings = objectEntries(apiConfig.varObject('hostSettings'));
const sample = JSON.parse(readFileSync(join(ROOT, 'local.settings.sample.json'), 'utf8')) as { IsEncrypted: boolean; Values: Record<string, string> };

/** Defaults the code documents in src/settings.ts: "default `x`". */
function documentedDefaults(): Map<string, string> {
  const text = readFileSync(join(ROOT, 'src/settings.ts'), 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/\/\*\*([^*]*?)default `([^`]+)`[^*]*\*\/\s*(\w+):/g)) out.set(m[3] ?? '', m[2] ?? '');
  return out;
}

describe('app settings: the code, Bicep, the local sample and the docs name the same settings', () => {
  it('main.bicep sets every setting the code reads (src/settings.ts)', () => {
    const missing = settingNames.filter((name) => !brokerSettings.has(name));
    expect(missing, `missing from brokerAppSettings in infra/main.bicep`).toEqual([]);
  });

  it('main.bicep sets no broker setting the code does not read (no stale or misspelt names)', () => {
    const unknown = [...brokerSettings.keys(), ...hostSettings.keys()].filter((k) => /^(QB_|AZURE_)/.test(k) && !settingNames.includes(k as never));
    expect(unknown).toEqual([]);
  });

  it('the broker settings reach the Function App: main passes them to api-config, which writes them all', () => {
    const apiConfigModule = main.modules().find((m) => m.path === 'app/api-config.bicep');
    expect(propertyAt(apiConfigModule?.body ?? '', 'params.appSettings')).toBe('brokerAppSettings');
    const settingsResource = apiConfig.resourcesOfType('Microsoft.Web/sites/config').find((r) => propertyAt(r.body, 'name') === "'appsettings'");
    expect(propertyAt(settingsResource?.body ?? '', 'properties')).toMatch(/^union\(appSettings, hostSettings\b/);
  });

  it('local.settings.sample.json sets every setting the code reads, plus what `func start` needs', () => {
    expect(sample.IsEncrypted).toBe(false);
    const missing = settingNames.filter((name) => !(name in sample.Values));
    expect(missing, 'missing from local.settings.sample.json').toEqual([]);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(sample.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  });

  it('docs/deploy.md (the README section) names every setting', () => {
    const docs = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    const missing = settingNames.filter((name) => !docs.includes(`\`${name}\``));
    expect(missing, 'not named in docs/deploy.md').toEqual([]);
  });

  it('container, topic and queue names are the defaults the code uses, in Azure and locally', () => {
    const defaults = documentedDefaults();
    expect(defaults.get('QB_AUDIT_CONTAINER')).toBe(DEFAULT_AUDIT_CONTAINER);
    expect(defaults.get('QB_EVENTS_TOPIC')).toBe(DEFAULT_EVENTS_TOPIC);
    const mainVars: Record<string, string> = { QB_AUDIT_CONTAINER: 'auditContainerName', QB_EVENTS_TOPIC: 'eventsTopicName', QB_APPROVALS_QUEUE: 'approvalsQueueName' };
    for (const [setting, variable] of Object.entries(mainVars)) {
      const value = new RegExp(`^(?:var|param) ${variable}(?: string)? = '([^']+)'`, 'm').exec(main.code)?.[1];
      expect(value, `${variable} in main.bicep`).toBe(defaults.get(setting));
      expect(sample.Values[setting], `${setting} in the sample`).toBe(defaults.get(setting));
    }
  });

  it('the audit store is reached by endpoint and identity in Azure, never by connection string', () => {
    expect(brokerSettings.get('QB_AUDIT_CONNECTION_STRING')).toBe("''");
    expect(brokerSettings.get('QB_AUDIT_BLOB_ENDPOINT')).toBe('auditStorage.outputs.blobEndpoint');
    expect(brokerSettings.get('AZURE_CLIENT_ID')).toBe('identity.outputs.clientId');
  });

  it('the Teams webhook setting holds a Key Vault secret name, not the URL', () => {
    const value = brokerSettings.get('QB_TEAMS_WEBHOOK_SECRET') ?? '';
    expect(value).toContain('keyVault.outputs.teamsWebhookSecretName');
    expect(value).not.toMatch(/teamsWebhookUrl\s*:|^teamsWebhookUrl$/);
    const url = main.params().find((p) => p.name === 'teamsWebhookUrl');
    expect(url?.secure).toBe(true);
    expect(main.code).not.toMatch(/^output\s+\w+\s+\w+\s*=.*teamsWebhookUrl/m);
  });

  it('host connections are identity-based: every __credential is managedidentity with the identity client id', () => {
    const credentialKeys = [...hostSettings.keys()].filter((k) => k.endsWith('__credential'));
    expect(credentialKeys.length).toBeGreaterThanOrEqual(2);
    for (const key of credentialKeys) {
      const prefix = key.slice(0, -'__credential'.length);
      expect(hostSettings.get(key), key).toBe("'managedidentity'");
      expect(hostSettings.get(`${prefix}__clientId`), `${prefix}__clientId`).toBe('identityClientId');
    }
    expect(hostSettings.get('AzureWebJobsStorage__accountName')).toBe('hostStorageName');
    expect(hostSettings.has('AzureWebJobsStorage')).toBe(false);
    expect(hostSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'ClientId=${identityClientId};Authorization=AAD'");
  });

  it('no setting that the Flex Consumption plan rejects is set', () => {
    const rejected = ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_NODE_DEFAULT_VERSION', 'WEBSITE_CONTENTSHARE', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', 'SCM_DO_BUILD_DURING_DEPLOYMENT'];
    const all = [...brokerSettings.keys(), ...hostSettings.keys(), ...objectEntries(apiConfig.varObject('federatedAuthSettings')).keys()];
    expect(all.filter((k) => rejected.includes(k))).toEqual([]);
  });
});
