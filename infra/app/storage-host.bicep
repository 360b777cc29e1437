// Storage for the Functions host: AzureWebJobsStorage (leases, timer schedule, host state), the
// Durable Functions task hub (queues, tables, large-message blobs) and the Flex Consumption
// deployment package. Shared-key access is disabled: only Entra ID (the managed identity) gets in.
// The audit log is NOT here: it lives in its own account (storage-audit.bicep), whose
// account-wide blob versioning must not multiply every host lease and task hub write.
param name string
param location string
param tags object = {}
param deploymentContainerName string

@description('true: no public network access, reachable only through private endpoints')
param privateOnly bool = false

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateOnly ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateOnly ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainerName
