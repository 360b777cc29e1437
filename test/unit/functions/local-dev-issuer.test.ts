import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, INFRA, listFiles } from '../infra/bicep.js';
import { LOCAL_DEV_ISSUER_SETTING, localDevIssuerEnabled } from '../../../src/identity/local-dev-issuer.js';

describe('the local dev issuer of `func start`', () => {
  it('is off unless the local setting is exactly true', () => {
    expect(localDevIssuerEnabled({})).toBe(false);
    expect(localDevIssuerEnabled({ QB_LOCAL_DEV_ISSUER: '' })).toBe(false);
    expect(localDevIssuerEnabled({ QB_LOCAL_DEV_ISSUER: '1' })).toBe(false);
    expect(localDevIssuerEnabled({ QB_LOCAL_DEV_ISSUER: 'yes' })).toBe(false);
    expect(localDevIssuerEnabled({ QB_LOCAL_DEV_ISSUER: 'true' })).toBe(true);
  });

  it('refuses to start on App Service (Flex Consumption included), whatever the setting says', () => {
    for (const marker of ['WEBSITE_SITE_NAME', 'WEBSITE_INSTANCE_ID', 'WEBSITE_OWNER_NAME']) {
      expect(() => localDevIssuerEnabled({ QB_LOCAL_DEV_ISSUER: 'true', [marker]: 'func-qb' })).toThrow(/App Service/);
      expect(localDevIssuerEnabled({ [marker]: 'func-qb' })).toBe(false);
    }
  });

  it('Azure never has the setting: no template or hook sets it; the local sample does, explicitly', () => {
    for (const file of [...listFiles(INFRA, '.bicep'), join(INFRA, 'main.parameters.json'), ...listFiles(join(ROOT, 'scripts'), '.sh'), join(ROOT, 'azure.yaml')]) {
      expect(readFileSync(file, 'utf8'), file).not.toContain(LOCAL_DEV_ISSUER_SETTING);
    }
    const sample = JSON.parse(readFileSync(join(ROOT, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    expect(sample.Values[LOCAL_DEV_ISSUER_SETTING]).toBe('true');
  });
});
