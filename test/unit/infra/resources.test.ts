import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { BicepFile, INFRA, ROOT, loadInfra, objectEntries, propertyAt, type BicepResource } from './bicep.js';

const infra = loadInfra();
const file = (path: string) => new BicepFile(join(INFRA, path));
const main = file('main.bicep');

function created(type: string): { file: BicepFile; resource: BicepResource }[] {
  return infra.flatMap((f) => f.resourcesOfType(type).filter((r) => !r.existing).map((resource) => ({ file: f, resource })));
}

function only(type: string, path: string): BicepResource {
  const found = file(path).resourcesOfType(type).filter((r) => !r.existing);
  expect(found, `${type} in ${path}`).toHaveLength(1);
  return found[0] as BicepResource;
}

describe('storage', () => {
  it('every storage account refuses shared keys, anonymous blobs, old TLS and plain HTTP', () => {
    const accounts = created('Microsoft.Storage/storageAccounts');
    expect(accounts.map((a) => a.file.name).sort()).toEqual(['infra/app/storage-audit.bicep', 'infra/app/storage-host.bicep']);
    for (const { file: f, resource } of accounts) {
      expect(propertyAt(resource.body, 'properties.allowSharedKeyAccess'), f.name).toBe('false');
      expect(propertyAt(resource.body, 'properties.allowBlobPublicAccess'), f.name).toBe('false');
      expect(propertyAt(resource.body, 'properties.minimumTlsVersion'), f.name).toBe("'TLS1_2'");
      expect(propertyAt(resource.body, 'properties.supportsHttpsTrafficOnly'), f.name).toBe('true');
      expect(propertyAt(resource.body, 'properties.defaultToOAuthAuthentication'), f.name).toBe('true');
    }
  });

  it('the audit container is WORM: a container-level time-based retention that allows appends, versioning and soft delete on', () => {
    const audit = file('app/storage-audit.bicep');
    const blobService = only('blobServices', 'app/storage-audit.bicep');
    expect(propertyAt(blobService.body, 'properties.isVersioningEnabled')).toBe('true');
    expect(propertyAt(blobService.body, 'properties.deleteRetentionPolicy.enabled')).toBe('true');
    expect(propertyAt(blobService.body, 'properties.containerDeleteRetentionPolicy.enabled')).toBe('true');
    const containers = file('app/storage-audit.bicep').resourcesOfType('containers').filter((r) => !r.existing);
    expect(containers.map((c) => c.symbol).sort()).toEqual(['auditContainer', 'requestsContainer']);
    const container = containers.find((c) => c.symbol === 'auditContainer') as BicepResource;
    // Version-level immutability makes an append blob refuse Append Block: every audited request would fail.
    expect(audit.code).not.toContain('immutableStorageWithVersioning');
    expect(propertyAt(container.body, 'properties.publicAccess')).toBe("'None'");
    expect(propertyAt(container.body, 'name')).toBe('containerName');
    const policy = only('immutabilityPolicies', 'app/storage-audit.bicep');
    expect(policy.start > container.start && policy.end < container.end, 'the policy belongs to the audit container').toBe(true);
    expect(propertyAt(policy.body, 'name')).toBe("'default'");
    expect(propertyAt(policy.body, 'properties.allowProtectedAppendWrites')).toBe('true');
    expect(propertyAt(policy.body, 'properties.allowProtectedAppendWritesAll')).toBeUndefined();
    expect(propertyAt(policy.body, 'properties.immutabilityPeriodSinceCreationInDays')).toBe('retentionDays');
    // The requests container holds mutable state: no policy there.
    const requests = containers.find((c) => c.symbol === 'requestsContainer') as BicepResource;
    expect(requests.body).not.toContain('immutab');
    // Existing deployments move to a new container: the name is a parameter with the code's default.
    expect(main.params().find((p) => p.name === 'auditContainerName')?.defaultValue).toBe("'audit'");
    expect(audit.source).toMatch(/version-level immutability can never be turned off/i);
    // Retention is a deployment parameter, at least a day, wired through from main.bicep.
    expect(audit.params().find((p) => p.name === 'retentionDays')?.defaultValue).toBeUndefined();
    const auditModule = main.modules().find((m) => m.path === 'app/storage-audit.bicep');
    expect(propertyAt(auditModule?.body ?? '', 'params.retentionDays')).toBe('auditRetentionDays');
    expect(main.source).toMatch(/@minValue\(1\)\s*@maxValue\(146000\)\s*@description\('[^']*'\)\s*param auditRetentionDays int/);
  });

  it('the host account does not carry the audit log (versioning there would version every lease)', () => {
    const hostContainers = file('app/storage-host.bicep').resourcesOfType('containers');
    expect(hostContainers.map((c) => propertyAt(c.body, 'name'))).toEqual(['deploymentContainerName']);
    expect(file('app/storage-host.bicep').code).not.toContain('isVersioningEnabled');
  });
});

describe('Key Vault, Service Bus, Application Insights', () => {
  it('Key Vault uses RBAC, soft delete and purge protection, and no access policies', () => {
    const vault = only('Microsoft.KeyVault/vaults', 'app/keyvault.bicep');
    expect(propertyAt(vault.body, 'properties.enableRbacAuthorization')).toBe('true');
    expect(propertyAt(vault.body, 'properties.enablePurgeProtection')).toBe('true');
    expect(propertyAt(vault.body, 'properties.enableSoftDelete')).toBe('true');
    expect(propertyAt(vault.body, 'properties.accessPolicies')).toBeUndefined();
    expect(propertyAt(vault.body, 'properties.enabledForTemplateDeployment')).toBe('false');
  });

  it('the Teams webhook is a Key Vault secret, created only when a URL is given', () => {
    const secret = only('Microsoft.KeyVault/vaults/secrets', 'app/keyvault.bicep');
    expect(secret.condition).toBe('!empty(teamsWebhookUrl)');
    expect(propertyAt(secret.body, 'properties.value')).toBe('teamsWebhookUrl');
    expect(file('app/keyvault.bicep').params().find((p) => p.name === 'teamsWebhookUrl')?.secure).toBe(true);
  });

  it('Service Bus disables local (SAS) auth and has the events topic, its subscription and the approvals queue', () => {
    const sb = file('app/servicebus.bicep');
    const namespace = only('Microsoft.ServiceBus/namespaces', 'app/servicebus.bicep');
    expect(propertyAt(namespace.body, 'properties.disableLocalAuth')).toBe('true');
    expect(propertyAt(namespace.body, 'properties.minimumTlsVersion')).toBe("'1.2'");
    expect(sb.resourcesOfType('topics').map((r) => propertyAt(r.body, 'name'))).toEqual(['eventsTopicName']);
    expect(sb.resourcesOfType('subscriptions').map((r) => propertyAt(r.body, 'name'))).toEqual(['eventsSubscriptionName']);
    expect(sb.resourcesOfType('queues').map((r) => propertyAt(r.body, 'name'))).toEqual(['approvalsQueueName']);
    expect(sb.code).not.toContain('authorizationRules');
  });

  it('Application Insights is workspace-based and accepts only Entra ID-authenticated telemetry', () => {
    const ai = only('Microsoft.Insights/components', 'app/monitoring.bicep');
    expect(propertyAt(ai.body, 'properties.DisableLocalAuth')).toBe('true');
    expect(propertyAt(ai.body, 'properties.WorkspaceResourceId')).toBe('logAnalytics.id');
  });
});

describe('the Function App', () => {
  const api = file('app/api.bicep');
  const site = only('Microsoft.Web/sites', 'app/api.bicep');

  it('App Service Authentication never sees the agent API: every agent path is excluded, the approval pages are not', () => {
    const config = file('app/api-config.bicep');
    const auth = config.resourcesOfType('Microsoft.Web/sites/config').find((r) => propertyAt(r.body, 'name') === "'authsettingsV2'");
    expect(propertyAt(auth?.body ?? '', 'properties.globalValidation.excludedPaths')).toBe('agentApiPaths');
    const list = /^var agentApiPaths = \[([\s\S]*?)\]/m.exec(config.code)?.[1] ?? '';
    const paths = [...list.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);
    for (const p of ['/api/query', '/api/requests/*', '/api/mcp', '/api/connections', '/api/connections/*', '/api/sessions', '/api/sessions/*', '/api/openapi.json', '/api/health']) {
      expect(paths, p).toContain(p);
    }
    // Every route the broker serves to agents is covered; the human pages stay behind Easy Auth.
    const covered = (route: string) => paths.some((p) => (p.endsWith('/*') ? route.startsWith(p.slice(0, -1)) : route === p));
    for (const route of ['/api/query', '/api/requests/r-1', '/api/mcp', '/api/connections', '/api/connections/sales/schema', '/api/sessions', '/api/sessions/s-1/verify', '/api/openapi.json', '/api/health', '/api/.well-known/oauth-protected-resource']) {
      expect(covered(route), route).toBe(true);
    }
    for (const route of ['/api/approvals/r-1', '/api/approvals/']) expect(covered(route), route).toBe(false);
  });

  it('runs on Flex Consumption, Linux, Node.js 22, as the user-assigned identity', () => {
    const plan = only('Microsoft.Web/serverfarms', 'app/api.bicep');
    expect(propertyAt(plan.body, 'sku.tier')).toBe("'FlexConsumption'");
    expect(propertyAt(plan.body, 'sku.name')).toBe("'FC1'");
    expect(propertyAt(plan.body, 'properties.reserved')).toBe('true');
    expect(propertyAt(site.body, 'kind')).toBe("'functionapp,linux'");
    expect(propertyAt(site.body, 'properties.functionAppConfig.runtime.name')).toBe("'node'");
    expect(propertyAt(site.body, 'properties.functionAppConfig.runtime.version')).toBe("'22'");
    expect(propertyAt(site.body, 'identity.type')).toBe("'UserAssigned'");
    expect(propertyAt(site.body, 'properties.httpsOnly')).toBe('true');
    expect(propertyAt(site.body, 'tags')).toContain("'azd-service-name': 'api'");
  });

  it('stores its deployment package with the managed identity, and basic publishing credentials are off', () => {
    expect(propertyAt(site.body, 'properties.functionAppConfig.deployment.storage.authentication.type')).toBe("'UserAssignedIdentity'");
    expect(propertyAt(site.body, 'properties.functionAppConfig.deployment.storage.authentication.userAssignedIdentityResourceId')).toBe('identityId');
    const policies = api.resourcesOfType('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((p) => propertyAt(p.body, 'name')).sort()).toEqual(["'ftp'", "'scm'"]);
    for (const p of policies) expect(propertyAt(p.body, 'properties.allow')).toBe('false');
  });

  it('App Service Authentication signs people in with Entra ID but lets every request through to the broker', () => {
    const config = file('app/api-config.bicep');
    const auth = config.resourcesOfType('Microsoft.Web/sites/config').find((r) => propertyAt(r.body, 'name') === "'authsettingsV2'");
    expect(auth).toBeDefined();
    const body = auth?.body ?? '';
    expect(propertyAt(body, 'properties.globalValidation.requireAuthentication')).toBe('false');
    expect(propertyAt(body, 'properties.globalValidation.unauthenticatedClientAction')).toBe("'AllowAnonymous'");
    expect(propertyAt(body, 'properties.identityProviders.azureActiveDirectory.enabled')).toBe('true');
    // The issuer matches the v1 access tokens the app registration issues (preprovision.sh).
    expect(propertyAt(body, 'properties.identityProviders.azureActiveDirectory.registration.openIdIssuer')).toBe("'https://sts.windows.net/${tenantId}/'");
    expect(readFileSync(join(ROOT, 'scripts/preprovision.sh'), 'utf8')).toContain('"requestedAccessTokenVersion": 1');
    expect(propertyAt(body, 'properties.identityProviders.azureActiveDirectory.login.loginParameters')).toContain("'resource=${apiAudience}'");
    expect(propertyAt(body, 'properties.httpSettings.requireHttps')).toBe('true');
    // No client secret: the managed identity is the registration's (federated) credential.
    expect(propertyAt(body, 'properties.identityProviders.azureActiveDirectory.registration.clientSecretSettingName')).toBe("'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'");
    expect(objectEntries(config.varObject('federatedAuthSettings')).get('OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID')).toBe('identityClientId');
    const audiences = propertyAt(body, 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences') ?? '';
    expect(audiences).toContain('apiAudience');
  });
});

describe('private networking (vnetEnabled)', () => {
  it('every data service drops public access when the VNet is on', () => {
    for (const path of ['app/storage-host.bicep', 'app/storage-audit.bicep', 'app/keyvault.bicep', 'app/servicebus.bicep']) {
      const mod = main.modules().find((m) => m.path === path);
      expect(propertyAt(mod?.body ?? '', 'params.privateOnly'), path).toBe('vnetEnabled');
      expect(file(path).code, path).toContain("publicNetworkAccess: privateOnly ? 'Disabled' : 'Enabled'");
    }
    expect(file('app/servicebus.bicep').code).toContain('sku: privateOnly ? premiumSku : standardSku');
  });

  it('has a private endpoint for each endpoint the app uses, and the app joins the delegated subnet', () => {
    const pe = file('app/private-endpoints.bicep');
    const groups = pe.modules().filter((m) => m.path.endsWith('private-endpoint.bicep')).map((m) => `${propertyAt(m.body, 'params.targetResourceId')}:${propertyAt(m.body, 'params.groupId')}`);
    expect(groups.sort()).toEqual(
      ['auditStorageId:blob', 'hostStorageId:blob', 'hostStorageId:queue', 'hostStorageId:table', 'keyVaultId:vault', 'serviceBusId:namespace'].map((g) => g.replace(/:(\w+)$/, ":'$1'")).sort(),
    );
    const network = file('app/network.bicep');
    expect(network.code).toContain("serviceName: 'Microsoft.App/environments'");
    // All egress of an integrated Flex app enters the subnet: it leaves through an explicit NAT gateway.
    expect(network.resourcesOfType('Microsoft.Network/natGateways')).toHaveLength(1);
    expect(network.code).toMatch(/natGateway: \{\s*id: natGateway\.id/);
    expect(propertyAt(only('Microsoft.Web/sites', 'app/api.bicep').body, 'properties.virtualNetworkSubnetId')).toBe('empty(subnetId) ? null : subnetId');
  });
});
