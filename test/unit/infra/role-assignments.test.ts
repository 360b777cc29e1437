import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { BicepFile, INFRA, loadInfra, objectEntries, propertyAt } from './bicep.js';

/** The built-in roles the broker may hold: data-plane roles only. */
const ALLOWED_ROLES: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39': 'Azure Service Bus Data Sender',
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': 'Azure Service Bus Data Receiver',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

/** Management roles that must never appear. */
const FORBIDDEN_ROLES = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
  '090c5cfd-751d-490a-894a-3ce6f1109419': 'Azure Service Bus Data Owner',
};

const infra = loadInfra();
const main = new BicepFile(join(INFRA, 'main.bicep'));

function assignments() {
  return infra.flatMap((f) =>
    f.resourcesOfType('Microsoft.Authorization/roleAssignments').map((r) => {
      const rolesVar = f.code.includes('var roles =') ? objectEntries(f.varObject('roles')) : new Map<string, string>();
      const roleExpr = propertyAt(r.body, 'properties.roleDefinitionId') ?? '';
      const roleKey = /roles\.(\w+)/.exec(roleExpr)?.[1] ?? '';
      const roleId = (rolesVar.get(roleKey) ?? '').replace(/'/g, '');
      return { file: f, symbol: r.symbol, body: r.body, roleId, role: ALLOWED_ROLES[roleId] ?? `not allowed: ${roleExpr}`, scope: propertyAt(r.body, 'scope') ?? '' };
    }),
  );
}

describe('role assignments: the managed identity, data roles, one resource each', () => {
  const all = assignments();

  it('grants exactly these roles on exactly these scopes', () => {
    const table = all.map((a) => `${a.role} @ ${a.scope}`).sort();
    expect(table).toEqual(
      [
        'Storage Blob Data Owner @ hostStorage',
        'Storage Queue Data Contributor @ hostStorage',
        'Storage Table Data Contributor @ hostStorage',
        'Storage Blob Data Contributor @ auditStorage::blobService::auditContainer',
        'Storage Blob Data Contributor @ auditStorage::blobService::requestsContainer',
        'Key Vault Secrets User @ keyVault',
        'Azure Service Bus Data Sender @ serviceBus::eventsTopic',
        'Azure Service Bus Data Sender @ serviceBus::approvalsQueue',
        'Azure Service Bus Data Receiver @ serviceBus::approvalsQueue',
        'Monitoring Metrics Publisher @ appInsights',
      ].sort(),
    );
  });

  it('every assignment names the managed identity, as a service principal', () => {
    expect(all.length).toBeGreaterThan(0);
    for (const a of all) {
      expect(propertyAt(a.body, 'properties.principalId'), `${a.file.name} ${a.symbol}`).toBe('identityPrincipalId');
      expect(propertyAt(a.body, 'properties.principalType'), `${a.file.name} ${a.symbol}`).toBe("'ServicePrincipal'");
      expect(propertyAt(a.body, 'name'), `${a.file.name} ${a.symbol}`).toMatch(/^guid\(.*identityPrincipalId.*\)$/);
    }
    // …and `identityPrincipalId` is, wherever a module is called, the identity module's principal id.
    const files = new Set(all.map((a) => a.file));
    for (const f of files) {
      expect(f.params().find((p) => p.name === 'identityPrincipalId')?.defaultValue, `${f.name}: identityPrincipalId must be required`).toBeUndefined();
      const callers = infra.flatMap((caller) => caller.modules().filter((m) => join(caller.path, '..', m.path) === f.path).map((m) => ({ caller, m })));
      expect(callers.length, `${f.name} is used`).toBeGreaterThan(0);
      for (const { caller, m } of callers) {
        const passed = propertyAt(m.body, 'params.identityPrincipalId') ?? '';
        const identityModule = /^(\w+)\.outputs\.principalId$/.exec(passed)?.[1];
        const source = caller.modules().find((x) => x.symbol === identityModule);
        expect(source?.path, `${caller.name} passes ${passed}`).toBe('app/identity.bicep');
      }
    }
    expect(main.modules().filter((m) => m.path === 'app/identity.bicep')).toHaveLength(1);
  });

  it('every scope is a single resource of the deployment, never a resource group or subscription', () => {
    for (const a of all) {
      const root = a.scope.split('::')[0] ?? '';
      const target = a.file.resources().find((r) => r.symbol === root);
      expect(target, `${a.symbol}: scope ${a.scope}`).toBeDefined();
      expect(a.scope).not.toMatch(/resourceGroup\(|subscription\(|tenant\(/);
    }
  });

  it('no management role appears anywhere in infra/', () => {
    for (const f of infra) {
      for (const [id, name] of Object.entries(FORBIDDEN_ROLES)) {
        expect(f.source.toLowerCase().includes(id), `${f.name} mentions ${name}`).toBe(false);
      }
    }
  });
});
