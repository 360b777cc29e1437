// With vnetEnabled: private endpoints for everything the app talks to, and the private DNS zones
// that make the services' usual host names resolve to them inside the virtual network. The
// services themselves have public network access disabled (privateOnly in their modules).
param location string
param tags object = {}
param virtualNetworkId string
param subnetId string
param hostStorageId string
param auditStorageId string
param keyVaultId string
param serviceBusId string

var storageSuffix = environment().suffixes.storage
var zoneNames = {
  blob: 'privatelink.blob.${storageSuffix}'
  queue: 'privatelink.queue.${storageSuffix}'
  table: 'privatelink.table.${storageSuffix}'
  vault: 'privatelink.vaultcore.azure.net'
  servicebus: 'privatelink.servicebus.windows.net'
}

module blobZone '../core/networking/private-dns-zone.bicep' = {
  name: 'dns-blob'
  params: {
    name: zoneNames.blob
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

module queueZone '../core/networking/private-dns-zone.bicep' = {
  name: 'dns-queue'
  params: {
    name: zoneNames.queue
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

module tableZone '../core/networking/private-dns-zone.bicep' = {
  name: 'dns-table'
  params: {
    name: zoneNames.table
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

module vaultZone '../core/networking/private-dns-zone.bicep' = {
  name: 'dns-vault'
  params: {
    name: zoneNames.vault
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

module serviceBusZone '../core/networking/private-dns-zone.bicep' = {
  name: 'dns-servicebus'
  params: {
    name: zoneNames.servicebus
    virtualNetworkId: virtualNetworkId
    tags: tags
  }
}

// Host storage: blob (host, deployment package), queue and table (Durable Functions task hub).
module hostBlobEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-host-blob'
  params: {
    name: 'pe-${last(split(hostStorageId, '/'))}-blob'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: hostStorageId
    groupId: 'blob'
    privateDnsZoneId: blobZone.outputs.id
  }
}

module hostQueueEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-host-queue'
  params: {
    name: 'pe-${last(split(hostStorageId, '/'))}-queue'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: hostStorageId
    groupId: 'queue'
    privateDnsZoneId: queueZone.outputs.id
  }
}

module hostTableEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-host-table'
  params: {
    name: 'pe-${last(split(hostStorageId, '/'))}-table'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: hostStorageId
    groupId: 'table'
    privateDnsZoneId: tableZone.outputs.id
  }
}

module auditBlobEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-audit-blob'
  params: {
    name: 'pe-${last(split(auditStorageId, '/'))}-blob'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: auditStorageId
    groupId: 'blob'
    privateDnsZoneId: blobZone.outputs.id
  }
}

module keyVaultEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-keyvault'
  params: {
    name: 'pe-${last(split(keyVaultId, '/'))}'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: keyVaultId
    groupId: 'vault'
    privateDnsZoneId: vaultZone.outputs.id
  }
}

module serviceBusEndpoint '../core/networking/private-endpoint.bicep' = {
  name: 'pe-servicebus'
  params: {
    name: 'pe-${last(split(serviceBusId, '/'))}'
    location: location
    tags: tags
    subnetId: subnetId
    targetResourceId: serviceBusId
    groupId: 'namespace'
    privateDnsZoneId: serviceBusZone.outputs.id
  }
}
