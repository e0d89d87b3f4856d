// Who may do what, each grant scoped as narrowly as Azure allows: Service Bus grants on
// the single queue they concern, storage grants on the one account, telemetry on the one
// Application Insights component. Names are guid(scope, principal, role), so a redeploy
// finds the same assignment instead of adding a duplicate.

@description('Principal (object) id of the function app\'s user-assigned identity.')
param identityPrincipalId string

@description('Name of the host storage account.')
param storageAccountName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Name of the bookings queue.')
param bookingsQueueName string

@description('Name of the results queue.')
param resultsQueueName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Grant the identity Azure Service Bus Data Owner on the bookings queue so Flex Consumption can scale on queue length. See the comment on bookingsQueueLengthReader.')
param allowScaleByQueueLength bool

@description('Object id of a person or group running the local tools against this namespace; empty grants nothing.')
param deployerPrincipalId string

@description('Kind of principal deployerPrincipalId names.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string

// Built-in role definition ids (the same in every tenant).
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource bookingsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: bookingsQueueName
}

resource resultsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: resultsQueueName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The trigger receives, completes and dead-letters bookings.
resource bookingsReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bookingsQueue.id, identityPrincipalId, serviceBusDataReceiver)
  scope: bookingsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Flex Consumption scales on the bookings queue's message count, which the Service Bus
// extension reads with GetQueueRuntimeProperties: a management read that needs the
// Manage right, which for Entra principals only Azure Service Bus Data Owner carries.
// With Receiver alone the extension logs "does not have 'Manage Claim'" and can only
// peek, so the app sees at most one message and does not scale out. The grant sits on
// the bookings queue alone, never the namespace; set allowScaleByQueueLength=false to
// trade scale-out for the narrower Receiver-only grant. (Functions docs, "Service Bus
// trigger" identity roles, and ServiceBusMetricsProvider in azure-sdk-for-net.)
resource bookingsQueueLengthReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (allowScaleByQueueLength) {
  name: guid(bookingsQueue.id, identityPrincipalId, serviceBusDataOwner)
  scope: bookingsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The function publishes one result per booking.
resource resultsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resultsQueue.id, identityPrincipalId, serviceBusDataSender)
  scope: resultsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// When Graph keeps throttling a booking past the invocation's retry budget, the function
// sends a scheduled copy of it back to the bookings queue to try again later.
// Unconditional, so re-enqueueing also works with allowScaleByQueueLength=false (Data
// Owner would carry Send too). This is the identity's own grant; the optional
// deployerBookingsSender below is for a person running the local tools.
resource bookingsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bookingsQueue.id, identityPrincipalId, serviceBusDataSender)
  scope: bookingsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The host keeps its locks and the platform reads the deployment package in blobs.
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions docs pair these two with Blob Data Owner for an identity-based
// AzureWebJobsStorage: the host writes diagnostic events to tables and uses queues
// for some of its own work. The table grant also covers the bridge's per-record state
// table in the same account; a grant scoped to that one table would be possible but add
// nothing, since the host needs this account-wide one anyway.
resource storageQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with local auth off needs an Entra token from this role.
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: the person running the local CLI against the real namespace sends test
// bookings and reads results.
resource deployerBookingsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(bookingsQueue.id, deployerPrincipalId, serviceBusDataSender)
  scope: bookingsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerResultsReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(resultsQueue.id, deployerPrincipalId, serviceBusDataReceiver)
  scope: resultsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// Replaying dead-lettered bookings means receiving from bookings/$DeadLetterQueue. A
// dead-letter queue is not an Azure resource, so the narrowest scope is the bookings
// queue itself (which also lets this principal receive live bookings: grant it to
// operators only).
resource deployerBookingsReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(bookingsQueue.id, deployerPrincipalId, serviceBusDataReceiver)
  scope: bookingsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
