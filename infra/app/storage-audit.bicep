// The audit log's own storage account: one append blob per session, each event hash-chained.
// Tamper evidence comes from the chain; tamper resistance from a container-level WORM policy here:
//   - the audit container has a container-level time-based retention policy (immutabilityPolicies/
//     default) with allowProtectedAppendWrites: the broker may append blocks to an append blob
//     (Append Block), but nothing written can be overwritten or deleted until the retention has
//     passed. allowProtectedAppendWrites exists only for container-level policies: under
//     version-level immutability (immutableStorageWithVersioning) an append blob refuses Append
//     Block, and every audited request would fail;
//   - blob versioning and soft delete stay on as defense in depth (account-wide, which is why the
//     audit log does not share the host's account);
//   - shared-key access disabled: only Entra ID principals with a data role get in.
// Version-level immutability can never be turned off on a container once enabled: a deployment
// made before this template used it keeps that container; deploy with a new container name
// (main.bicep auditContainerName) so the broker writes to a container this policy governs.
// Lock the policy once you have checked it (see docs/deploy.md); then set auditRetentionLocked.
param name string
param location string
param tags object = {}
param containerName string

@description('Container for approval request state (mutable, not WORM).')
param requestsContainerName string = 'requests'

@minValue(1)
@maxValue(146000)
@description('Days each audit blob stays immutable (no overwrite, no delete) after it is created; appends stay allowed')
param retentionDays int

@description('true once the policy is locked: a locked policy can only be extended, so it is not redeployed')
param retentionLocked bool = false

@description('true: no public network access, reachable only through private endpoints')
param privateOnly bool = false

@description('Redundancy of the audit record; geo-redundant by default, as the record is the evidence')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_GRS'

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
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
    properties: {
      isVersioningEnabled: true
      deleteRetentionPolicy: {
        enabled: true
        days: 30
      }
      containerDeleteRetentionPolicy: {
        enabled: true
        days: 30
      }
    }

    // Approval requests waiting for a human: their state changes (pending → approved → executed),
    // so they live beside the audit record in an ordinary container, not under WORM.
    resource requestsContainer 'containers' = {
      name: requestsContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource auditContainer 'containers' = {
      name: containerName
      properties: {
        publicAccess: 'None'
      }

      // Container-level time-based retention: appends allowed, overwrites and deletes refused.
      resource retention 'immutabilityPolicies' = if (!retentionLocked) {
        name: 'default'
        properties: {
          immutabilityPeriodSinceCreationInDays: retentionDays
          allowProtectedAppendWrites: true
        }
      }
    }
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output containerName string = containerName
output requestsContainerName string = requestsContainerName
