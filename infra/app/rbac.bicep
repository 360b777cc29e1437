// Every permission the broker has, and nothing broader: data-plane roles for its managed identity,
// each scoped to the single resource (or container, topic, queue) it is needed for. No role is
// granted at resource-group or subscription scope, none to a person, and no management role
// (Owner, Contributor, User Access Administrator) at all.
//
// Why each one:
//   host storage  Storage Blob Data Owner          AzureWebJobsStorage (host leases, timer schedules, keys)
//                                                  and the Flex Consumption deployment package; the
//                                                  Functions host documents Owner for its own storage
//                 Storage Queue Data Contributor   Durable Functions task hub: control and work-item queues
//                 Storage Table Data Contributor   Durable Functions task hub: History and Instances tables
//   audit         Storage Blob Data Contributor    append to and read the session blobs, in the audit
//                 (audit container only)           container alone; WORM keeps even this role from
//                                                  rewriting or deleting a written version
//   requests      Storage Blob Data Contributor    approval request state (read, conditional writes),
//                 (requests container only)        in the audit account's non-WORM `requests` container
//   Key Vault     Key Vault Secrets User           read database passwords and the Teams webhook URL;
//                                                  it cannot list, write or delete secrets
//   Service Bus   Azure Service Bus Data Sender    publish broker events (topic) and approval
//                 (events topic, approvals queue)  notifications (queue)
//                 Azure Service Bus Data Receiver  the notifier's trigger reads the approvals queue;
//                 (approvals queue only)           nothing else is received
//   App Insights  Monitoring Metrics Publisher     send telemetry with Entra ID (local auth is off)
param identityPrincipalId string
param hostStorageName string
param auditStorageName string
param auditContainerName string
param requestsContainerName string
param keyVaultName string
param serviceBusName string
param eventsTopicName string
param approvalsQueueName string
param appInsightsName string

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: hostStorageName
}

resource auditStorage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: auditStorageName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource auditContainer 'containers' existing = {
      name: auditContainerName
    }

    resource requestsContainer 'containers' existing = {
      name: requestsContainerName
    }
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusName

  resource eventsTopic 'topics' existing = {
    name: eventsTopicName
  }

  resource approvalsQueue 'queues' existing = {
    name: approvalsQueueName
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource hostQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: hostStorage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: hostStorage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource auditBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::auditContainer.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: auditStorage::blobService::auditContainer
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

resource requestsBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::requestsContainer.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: auditStorage::blobService::requestsContainer
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource eventsTopicSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::eventsTopic.id, identityPrincipalId, roles.serviceBusDataSender)
  scope: serviceBus::eventsTopic
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
  }
}

resource approvalsQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::approvalsQueue.id, identityPrincipalId, roles.serviceBusDataSender)
  scope: serviceBus::approvalsQueue
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
  }
}

resource approvalsQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::approvalsQueue.id, identityPrincipalId, roles.serviceBusDataReceiver)
  scope: serviceBus::approvalsQueue
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}
