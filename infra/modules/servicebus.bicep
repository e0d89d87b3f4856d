// The Service Bus namespace and the bridge's two queues. Local (SAS key) auth is off:
// every client, the function app included, authenticates with Entra ID.

@description('Name of the Service Bus namespace (6-50 characters, globally unique).')
@minLength(6)
@maxLength(50)
param name string

@description('Azure region for the namespace.')
param location string

@description('Tags applied to the namespace.')
param tags object

@description('Service Bus tier: Standard, or Premium for isolated capacity; only Premium takes a private endpoint.')
@allowed([
  'Standard'
  'Premium'
])
param sku string

@description('Queue the booking systems send booking messages to; the function is triggered from it.')
param bookingsQueueName string

@description('Queue the function publishes one result message to per booking.')
param resultsQueueName string

@description('Deliveries of a booking before Service Bus dead-letters it. This is the only place the retry count is configured.')
@minValue(1)
@maxValue(100)
param bookingsMaxDeliveryCount int

@description('How long an unconsumed message lives (ISO 8601 duration) before it is dead-lettered.')
param messageTimeToLive string

@description('Private networking: with Premium the namespace is reached through its private endpoint only (network.bicep); Standard has no private endpoints and stays on its public endpoint.')
param privateNetworking bool

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: sku == 'Premium' ? {
    name: 'Premium'
    tier: 'Premium'
    capacity: 1
  } : {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: (privateNetworking && sku == 'Premium') ? 'Disabled' : 'Enabled'
  }
}

// Why these numbers: one invocation spends at most 45 s retrying Graph, well inside the
// 1-minute lock, and host.json lets the host renew the lock for up to 5 minutes
// (maxAutoLockRenewalDuration = functionTimeout = 00:05:00), so a lock never lapses
// mid-invocation. Redelivery is safe because the bridge is idempotent per revision.
//
// Sessions: producers set the session id to the record's externalId, so Service Bus hands
// one record's messages (create, reschedule, cancel) to one invocation at a time, in the
// order they were sent, while different records still run in parallel. The lock above is
// then the session lock, renewed the same way.
// requiresSession can be set only when a queue is created (Service Bus docs, "Message
// sessions"), so a redeploy cannot switch an existing queue over. A deployment made
// before sessions must drain the bookings queue and its dead letters, delete the queue,
// then redeploy; there are no such production deployments yet.
//
// Duplicate detection stays off: replaying a dead letter re-sends it with its original
// message id, and detection would silently drop the replay. The bridge needs no help
// against duplicates here: it is idempotent per revision.
resource bookingsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: bookingsQueueName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: bookingsMaxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: messageTimeToLive
    requiresSession: true
    requiresDuplicateDetection: false
    enablePartitioning: false
  }
}

// Duplicate detection drops a result the function publishes twice for the same message
// id (a retry after a lost acknowledgement). Service Bus requires the window to be at
// least 10 minutes when detection is on; one hour covers every redelivery of a booking.
resource resultsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: resultsQueueName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: messageTimeToLive
    requiresSession: false
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    enablePartitioning: false
  }
}

output name string = namespace.name
// serviceBusEndpoint is 'https://<host>:443/'; the trigger and the SDK want the host only.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
output bookingsQueueName string = bookingsQueue.name
// Read back from the queue, so the app setting BOOKINGS_MAX_DELIVERY_COUNT is the count
// Service Bus enforces, not a second copy that could drift.
output bookingsMaxDeliveryCount int = bookingsQueue.properties.maxDeliveryCount
output resultsQueueName string = resultsQueue.name
