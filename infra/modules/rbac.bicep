// Who may do what, each grant scoped as narrowly as Azure allows: Service Bus grants on
// the single queue they concern, host storage grants on the one account, the deployment
// package's on its one container, telemetry on the one Application Insights component.
// Names are guid(scope, principal, role), so a redeploy finds the same assignment instead
// of adding a duplicate.

@description('Principal (object) id of the function app\'s user-assigned identity.')
param identityPrincipalId string

@description('Principal (object) id of the identity the platform reads and writes the deployment package with.')
param deploymentIdentityPrincipalId string

@description('Name of the host storage account.')
param storageAccountName string

@description('Name of the storage account that holds the deployment package.')
param deploymentStorageAccountName string

@description('Name of the blob container that holds the deployment package.')
param deploymentContainerName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Name of the bookings queue.')
param bookingsQueueName string

@description('Name of the results queue.')
param resultsQueueName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Grant the identity Azure Service Bus Data Owner on the bookings queue so target-based scaling can read the queue length. See the comment on bookingsQueueLengthReader.')
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
var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource deploymentStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: deploymentStorageAccountName
}

resource deploymentBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: deploymentStorage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: deploymentBlobService
  name: deploymentContainerName
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

// Target-based scaling (the Flex Consumption scale controller, through the Service Bus
// extension's ServiceBusTargetScaler) reads the bookings queue's message count with
// GetQueueRuntimeProperties: a management read that needs the Manage right. For Entra
// principals no built-in role narrower than Azure Service Bus Data Owner carries it (the
// Functions docs list Receiver or Owner for the trigger). Without it the extension logs
// "does not have 'Manage Claim'", falls back to peeking, sees at most one message, and the
// app does not scale out; docs/infrastructure.md has the references. Data Owner's
// Microsoft.ServiceBus/* also allows updating or deleting this one queue through ARM; it
// never reaches the results queue or the namespace, and with local auth off no SAS key it
// could mint works. Set allowScaleByQueueLength=false to keep Receiver alone and give up
// scale-out.
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

// The host keeps its locks and state in blobs of its own account (Functions docs: Storage Blob
// Data Owner covers the host; the package is not here, see deploymentPackageReader).
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The host writes diagnostic events to tables, and the bridge keeps its per-record state
// table in the same account; a grant scoped to that one table would add nothing, since
// the host needs this account-wide one anyway. No Storage Queue Data Contributor: the host
// uses queues only for blob triggers, and this app has none (Functions docs, host storage
// with an identity).
resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The platform reads the package at each start with the deployment identity: read on this one
// container, nothing else. Flex Consumption attaches that identity to the app, where code may ask
// the platform for its token, so it holds no standing write: deploy.sh grants it Storage Blob Data
// Contributor on this container only while it publishes, and takes it back (docs/infrastructure.md).
// The function's own identity holds no grant on this account.
resource deploymentPackageReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deploymentContainer.id, deploymentIdentityPrincipalId, storageBlobDataReader)
  scope: deploymentContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: deploymentIdentityPrincipalId
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
