import { describe, it, expect } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { INFRA, ROOT, listFiles, rel } from './bicep.js';

/** What a key, a secret-bearing connection string or a SAS token looks like in a template or script. */
const SECRET_PATTERNS: { what: string; re: RegExp }[] = [
  { what: 'storage connection string', re: /DefaultEndpointsProtocol\s*=/i },
  { what: 'storage account key', re: /AccountKey\s*=/i },
  { what: 'Service Bus / Event Hubs SAS key', re: /SharedAccessKey(Name)?\s*=/i },
  { what: 'SAS token', re: /SharedAccessSignature|[?&]sig=[A-Za-z0-9%]/i },
  { what: 'key listing function (listKeys, listAccountSas, …)', re: /\blist(Keys|AccountSas|ServiceSas|ConnectionStrings|Secrets|Credentials)\s*\(/i },
  { what: 'primary or secondary key', re: /\b(primary|secondary)(Master)?Key\b/i },
  { what: 'instrumentation-key setting', re: /APPINSIGHTS_INSTRUMENTATIONKEY/ },
  { what: 'client secret setting', re: /MICROSOFT_PROVIDER_AUTHENTICATION_SECRET|client_secret\s*[:=]\s*['"]?[A-Za-z0-9~._-]{8,}/i },
  { what: 'emulator shortcut outside the local sample', re: /UseDevelopmentStorage\s*=\s*true/i },
];

/** Findings in `text`; `allowDevStorage` admits Azurite's public development shortcut. */
function findSecrets(text: string, allowDevStorage = false): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    for (const { what, re } of SECRET_PATTERNS) {
      if (allowDevStorage && what.startsWith('emulator')) continue;
      if (re.test(line)) found.push(`line ${index + 1}: ${what}: ${line.trim()}`);
    }
  }
  return found;
}

function deploymentFiles(): string[] {
  const files = [
    ...listFiles(INFRA, ''),
    ...listFiles(join(ROOT, 'scripts'), ''),
    join(ROOT, 'azure.yaml'),
    join(ROOT, 'host.json'),
  ];
  return files.filter((f) => existsSync(f));
}

describe('no keys, connection strings with secrets or SAS tokens in the deployment', () => {
  it('the detector recognises what it must refuse (and passes what is harmless)', () => {
    expect(findSecrets('x = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="')).not.toEqual([]);
    expect(findSecrets("value: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=k'")).not.toEqual([]);
    expect(findSecrets("url: 'https://a.blob.core.windows.net/c?sv=2022-11-02&sig=AbC%2Bd'")).not.toEqual([]);
    expect(findSecrets('conn: storage.listKeys().keys[0].value')).not.toEqual([]);
    expect(findSecrets("key: sb.listKeys('RootManageSharedAccessKey', '2024-01-01').primaryKey")).not.toEqual([]);
    expect(findSecrets('"AzureWebJobsStorage": "UseDevelopmentStorage=true"')).not.toEqual([]);
    expect(findSecrets('"AzureWebJobsStorage": "UseDevelopmentStorage=true"', true)).toEqual([]);
    expect(findSecrets("AzureWebJobsStorage__credential: 'managedidentity'")).toEqual([]);
    expect(findSecrets('blobEndpoint: storage.properties.primaryEndpoints.blob')).toEqual([]);
  });

  it('infra/, scripts/, azure.yaml and host.json contain none', () => {
    const files = deploymentFiles();
    expect(files.filter((f) => f.endsWith('.bicep')).length).toBeGreaterThan(5);
    const findings = files.flatMap((f) => findSecrets(readFileSync(f, 'utf8')).map((x) => `${rel(f)} ${x}`));
    expect(findings).toEqual([]);
  });

  it('local.settings.sample.json contains none (Azurite\'s UseDevelopmentStorage=true is the one exception)', () => {
    const text = readFileSync(join(ROOT, 'local.settings.sample.json'), 'utf8');
    expect(findSecrets(text, true)).toEqual([]);
    const values = (JSON.parse(text) as { Values: Record<string, string> }).Values;
    // Nothing that looks like a credential value at all: keys, passwords, tokens.
    for (const [name, value] of Object.entries(values)) {
      expect(/(password|secret|token|key)=/i.test(value), `${name}`).toBe(false);
    }
  });

  it('secure parameters never leave the deployment as outputs', () => {
    for (const file of listFiles(INFRA, '.bicep')) {
      const text = readFileSync(file, 'utf8');
      const secure = [...text.matchAll(/@secure\(\)\s*(?:@[^\n]*\n\s*)*param\s+(\w+)/g)].map((m) => m[1] ?? '');
      for (const name of secure) {
        expect(new RegExp(`^output\\s+\\w+\\s+\\w+\\s*=.*\\b${name}\\b`, 'm').test(text), `${rel(file)} outputs ${name}`).toBe(false);
      }
    }
  });
});
