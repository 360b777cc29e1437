// Service Bus for broker events (topic) and approval notifications (queue, read by the notifier).
// Local (SAS key) authentication is disabled: senders and receivers authenticate with Entra ID.
// Private endpoints need the Premium tier, so privateOnly switches the namespace to Premium.
param name string
param location string
param tags object = {}
param eventsTopicName string
param eventsSubscriptionName string
param approvalsQueueName string

@description('true: Premium namespace, no public network access, reachable only through the private endpoint')
param privateOnly bool = false

var premiumSku = {
  name: 'Premium'
  tier: 'Premium'
  capacity: 1
}
var standardSku = {
  name: 'Standard'
  tier: 'Standard'
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: privateOnly ? premiumSku : standardSku
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateOnly ? 'Disabled' : 'Enabled'
  }

  // Every broker event (audit mirror, approvals, executions), subject = event type.
  resource eventsTopic 'topics' = {
    name: eventsTopicName
    properties: {
      defaultMessageTimeToLive: 'P14D'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
    }

    // For a SIEM or export job; the broker itself never reads it (it holds no Receiver role here).
    resource exportSubscription 'subscriptions' = {
      name: eventsSubscriptionName
      properties: {
        lockDuration: 'PT1M'
        maxDeliveryCount: 10
        deadLetteringOnMessageExpiration: true
        defaultMessageTimeToLive: 'P14D'
      }
    }
  }

  // approval.requested notifications; the Service Bus-triggered notifier posts the Teams card.
  resource approvalsQueue 'queues' = {
    name: approvalsQueueName
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: 5
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P7D'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
    }
  }
}

output id string = namespace.id
output name string = namespace.name
// https://<name>.servicebus.windows.net:443/ → <name>.servicebus.windows.net (any cloud)
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
output eventsTopicName string = namespace::eventsTopic.name
output approvalsQueueName string = namespace::approvalsQueue.name
