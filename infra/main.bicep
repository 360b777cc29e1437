// Query Broker on Azure: `azd up` provisions this file (subscription scope) and deploys the app.
// Private, keyless and auditable by default:
//   - one user-assigned managed identity is the app's only credential (storage, Key Vault, Service Bus,
//     Application Insights); no account key, connection string or SAS token exists anywhere;
//   - every role assignment names that identity and is scoped to the one resource it needs;
//   - the audit log lives in its own storage account, in a container with a container-level WORM
//     retention policy that allows appends (Append Block) and refuses overwrites and deletes;
//   - optional VNet integration puts Storage, Key Vault and Service Bus behind private endpoints.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: used in resource names and in the API identifier URI')
param environmentName string

@minLength(1)
@description('Region for every resource; it must offer the Flex Consumption plan')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Entra tenant whose tokens the broker accepts (empty: the tenant of the deploying subscription)')
param tenantId string = ''

@description('Application (client) id of the broker app registration; scripts/preprovision.sh creates it and sets QB_API_CLIENT_ID')
param apiClientId string = ''

@description('Expected token audience = the app registration identifier URI (empty: api://query-broker-<environmentName>)')
param apiAudience string = ''

@description('Object id of the Entra group whose members approve writes; scripts/postprovision.sh gives it the Query.Approve app role')
param approverGroupObjectId string = ''

@secure()
@description('Teams Workflows webhook URL for approval cards; stored only as a Key Vault secret, the app setting holds the secret name')
param teamsWebhookUrl string = ''

@description('Key Vault secret name that holds the Teams webhook URL')
param teamsWebhookSecretName string = 'teams-webhook-url'

@minValue(1)
@maxValue(146000)
@description('Days each audit blob stays immutable (WORM: no overwrite, no delete; appends allowed) after it is created')
param auditRetentionDays int = 365

@description('Set to true once the audit retention policy has been locked (az storage container immutability-policy lock): a locked policy is never rewritten')
param auditRetentionLocked bool = false

@description('Audit container name. A deployment made before the container-level policy has a container under version-level immutability, which can never be turned off and refuses appends: give it a new name here (QB_AUDIT_CONTAINER_NAME)')
param auditContainerName string = 'audit'

@description('Put the app in a virtual network and reach Storage, Key Vault and Service Bus only through private endpoints (Service Bus becomes Premium)')
param vnetEnabled bool = false

@description('Policy file name at the root of the deployed package (QB_CONFIG points at it)')
param policyFileName string = 'qb.yaml'

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// Names the code uses as defaults (src/settings.ts); kept identical so local and Azure agree.
var eventsTopicName = 'broker-events'
var eventsSubscriptionName = 'broker-events-export'
var approvalsQueueName = 'approval-notifications'

var effectiveTenantId = empty(tenantId) ? tenant().tenantId : tenantId
var effectiveAudience = empty(apiAudience) ? 'api://query-broker-${environmentName}' : apiAudience
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'query-broker'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-qb-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-qb-${resourceToken}'
    appInsightsName: 'appi-qb-${resourceToken}'
    location: location
    tags: tags
  }
}

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-qb-${resourceToken}'
    location: location
    tags: tags
  }
}

module hostStorage 'app/storage-host.bicep' = {
  name: 'storage-host'
  scope: rg
  params: {
    name: 'stqb${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    privateOnly: vnetEnabled
  }
}

module auditStorage 'app/storage-audit.bicep' = {
  name: 'storage-audit'
  scope: rg
  params: {
    name: 'stqbaudit${resourceToken}'
    location: location
    tags: tags
    containerName: auditContainerName
    retentionDays: auditRetentionDays
    retentionLocked: auditRetentionLocked
    privateOnly: vnetEnabled
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-qb-${resourceToken}'
    location: location
    tags: tags
    teamsWebhookUrl: teamsWebhookUrl
    teamsWebhookSecretName: teamsWebhookSecretName
    privateOnly: vnetEnabled
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-qb-${resourceToken}'
    location: location
    tags: tags
    eventsTopicName: eventsTopicName
    eventsSubscriptionName: eventsSubscriptionName
    approvalsQueueName: approvalsQueueName
    privateOnly: vnetEnabled
  }
}

module privateEndpoints 'app/private-endpoints.bicep' = if (vnetEnabled) {
  name: 'private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    virtualNetworkId: vnetEnabled ? network.outputs.id : ''
    subnetId: vnetEnabled ? network.outputs.privateEndpointSubnetId : ''
    hostStorageId: hostStorage.outputs.id
    auditStorageId: auditStorage.outputs.id
    keyVaultId: keyVault.outputs.id
    serviceBusId: serviceBus.outputs.id
  }
}

// The identity's only permissions; each is scoped to the one resource it is for.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    hostStorageName: hostStorage.outputs.name
    auditStorageName: auditStorage.outputs.name
    auditContainerName: auditStorage.outputs.containerName
    requestsContainerName: auditStorage.outputs.requestsContainerName
    keyVaultName: keyVault.outputs.name
    serviceBusName: serviceBus.outputs.name
    eventsTopicName: serviceBus.outputs.eventsTopicName
    approvalsQueueName: serviceBus.outputs.approvalsQueueName
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: 'func-qb-${resourceToken}'
    planName: 'plan-qb-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    hostStorageName: hostStorage.outputs.name
    deploymentContainerName: hostStorage.outputs.deploymentContainerName
    subnetId: vnetEnabled ? network.outputs.appSubnetId : ''
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
  // The host must not start before it may read its own storage.
  dependsOn: [
    rbac
    privateEndpoints
  ]
}

// Every app setting the broker reads (src/settings.ts SETTINGS), with the same names as
// local.settings.sample.json and docs/deploy.md. A test pins that the three lists agree.
var brokerAppSettings = {
  QB_CONFIG: '/home/site/wwwroot/${policyFileName}'
  QB_AUDIT_BLOB_ENDPOINT: auditStorage.outputs.blobEndpoint
  // Identity only: the endpoint above is used; a connection string would have to carry a key.
  QB_AUDIT_CONNECTION_STRING: ''
  QB_AUDIT_CONTAINER: auditStorage.outputs.containerName
  QB_KEY_VAULT_URL: keyVault.outputs.vaultUri
  QB_SERVICE_BUS_NAMESPACE: serviceBus.outputs.fullyQualifiedNamespace
  QB_EVENTS_TOPIC: serviceBus.outputs.eventsTopicName
  QB_APPROVALS_QUEUE: serviceBus.outputs.approvalsQueueName
  // The secret's NAME; empty when no webhook was given (Teams notifications off).
  QB_TEAMS_WEBHOOK_SECRET: empty(teamsWebhookUrl) ? '' : keyVault.outputs.teamsWebhookSecretName
  QB_PUBLIC_BASE_URL: 'https://${api.outputs.defaultHostName}'
  AZURE_CLIENT_ID: identity.outputs.clientId
}

module apiConfig 'app/api-config.bicep' = {
  name: 'api-config'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    appSettings: brokerAppSettings
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage.outputs.name
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    appInsightsName: monitoring.outputs.appInsightsName
    tenantId: effectiveTenantId
    apiClientId: apiClientId
    apiAudience: effectiveAudience
  }
}

// azd stores these in the environment (.azure/<env>/.env); the hooks in scripts/ read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = effectiveTenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output QB_PUBLIC_BASE_URL string = 'https://${api.outputs.defaultHostName}'
output QB_AUDIENCE string = effectiveAudience
output QB_API_CLIENT_ID string = apiClientId
output QB_APPROVER_GROUP_ID string = approverGroupObjectId
output QB_AUTH_ENABLED bool = apiConfig.outputs.authEnabled
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output QB_KEY_VAULT_URL string = keyVault.outputs.vaultUri
output AUDIT_STORAGE_ACCOUNT string = auditStorage.outputs.name
output QB_AUDIT_CONTAINER string = auditStorage.outputs.containerName
output QB_SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output QB_EGRESS_IP string = vnetEnabled ? network.outputs.egressIpAddress : ''
