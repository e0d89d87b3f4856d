// The whole Booking Bridge deployment into one resource group: the function's user-assigned
// identity, a Flex Consumption function app and its storage, the deployment package's own
// storage account and identity, the Service Bus namespace with the bookings and results
// queues, Log Analytics + Application Insights, the role assignments that tie them together,
// the operators' alerts and, optionally, the Microsoft Graph app roles and private networking.
// Deploy with ./deploy.sh (see docs/infrastructure.md); parameters live in main.bicepparam.

targetScope = 'resourceGroup'

@description('Short name the resource names are built from: lowercase letters, digits and hyphens, starting with a letter.')
@minLength(2)
@maxLength(20)
param appName string = 'bookingbridge'

@description('Azure region for every resource; it must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {
  application: 'booking-bridge'
}

@description('Python version of the Functions runtime: one the code supports (pyproject.toml requires-python) and CI tests on.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Memory of each Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the bookings function scales out to (always-ready instances aside). Each instance calls Microsoft Graph, so this also caps the load the bridge puts on Graph: 4 is Outlook\'s requests in progress per mailbox, and 4 x maxConcurrentSessions slots keep up with a tenant rate of 40 requests/s up to about a second of Graph latency (docs/capacity.md).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 4

@description('One always-ready instance for the bookings function: a booking after a quiet period meets a started instance instead of a cold start, for the baseline price of the instance\'s memory every second, about $21 a month at 2,048 MB (docs/infrastructure.md). Off: the app scales to zero and bills executions only. Not counted in maximumInstanceCount.')
param alwaysReady bool = false

@description('Python worker threads per instance (PYTHON_THREADPOOL_THREAD_COUNT). Keep it at least host.json\'s serviceBus.maxConcurrentSessions, or the worker runs fewer invocations at once than the host hands it.')
@minValue(1)
@maxValue(64)
param workerThreadCount int = 16

@description('Service Bus tier: Standard, or Premium for isolated capacity; only Premium takes a private endpoint (privateNetworking).')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Name of the queue booking systems send bookings to (the app setting BOOKINGS_QUEUE).')
param bookingsQueueName string = 'bookings'

@description('Name of the queue the bridge publishes results to (the app setting RESULTS_QUEUE).')
param resultsQueueName string = 'meeting-results'

@description('Deliveries of one booking before Service Bus dead-letters it. This is the one place the retry count is configured: the queue enforces it, and the app setting BOOKINGS_MAX_DELIVERY_COUNT is read back from the queue so the bridge can publish a failed result on the last delivery.')
@minValue(1)
@maxValue(100)
param bookingsMaxDeliveryCount int = 10

@description('How long an unconsumed message lives on either queue (ISO 8601 duration) before it is dead-lettered.')
param messageTimeToLive string = 'P14D'

@description('Microsoft Graph base URL the bridge calls (the app setting GRAPH_BASE_URL); change it for a national cloud.')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('Table the bridge keeps per-record state in (the app setting RECORD_STATE_TABLE), in the host storage account.')
@minLength(3)
@maxLength(63)
param recordStateTableName string = 'bookingstate'

@description('Optional allow-list (the app setting ALLOWED_ORGANIZERS): comma-separated organizer object ids, or source=objectId entries restricting which source may book for which organizer. Empty means no restriction beyond the Teams application access policy.')
param allowedOrganizers string = ''

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Email address the alerts go to (dead letters, failed results, Graph 401/403, failed invocations); a distribution list is best. Empty still creates every alert, but nobody is notified: deploy.sh warns.')
param alertEmail string = ''

@description('Failed results (Graph refused the booking for good) in 15 minutes above which the failed-results alert fires.')
@minValue(0)
param failedResultsThreshold int = 5

@description('Failed function invocations (bookings left for redelivery) in 15 minutes above which the failed-invocations alert fires.')
@minValue(0)
param failedInvocationsThreshold int = 10

@description('Grant the identity Azure Service Bus Data Owner on the bookings queue only: target-based scaling reads the queue length, which needs the Manage right (see modules/rbac.bicep).')
param allowScaleByQueueLength bool = true

@description('Grant OnlineMeetings.ReadWrite.All with the Microsoft Graph Bicep extension. Needs Entra rights to assign Graph app roles; when false, deploy.sh grants it with az rest instead.')
param grantGraphAppRole bool = false

@description('Calendar mode (CALENDAR_EVENTS_ENABLED): bookings with `calendar` become Outlook events on the organizer\'s calendar. Needs Calendars.ReadWrite, from Entra or from Exchange (calendarAccess).')
param calendarEvents bool = false

@description('Where calendar mode\'s Calendars.ReadWrite comes from: entra (the Microsoft Graph application permission, every mailbox of the tenant; granted with grantGraphAppRole or by deploy.sh) or exchange (nothing granted in Entra: an Exchange administrator scopes it to the organizers\' mailboxes with RBAC for Applications, docs/infrastructure.md).')
@allowed([
  'entra'
  'exchange'
])
param calendarAccess string = 'entra'

@description('Attendance reports (ATTENDANCE_REPORTS_ENABLED): a booking with `attendance` gets, after its meeting, who attended. Needs OnlineMeetingArtifact.Read.All (granted with grantGraphAppRole or by deploy.sh), under the same Teams application access policy as the meetings.')
param attendanceReports bool = false

@description('Private networking: the app joins a virtual network, storage is reached through private endpoints only, and Service Bus too when serviceBusSku is Premium (Standard has no private endpoints). Costs extra: docs/infrastructure.md.')
param privateNetworking bool = false

@description('Address space of the virtual network privateNetworking creates; pick one that does not overlap the networks you peer it with.')
param virtualNetworkAddressPrefix string = '10.80.0.0/16'

@description('Address range, inside virtualNetworkAddressPrefix, of the subnet the app joins (a /24 leaves room for the addresses Flex Consumption takes).')
param appSubnetPrefix string = '10.80.0.0/24'

@description('Address range, inside virtualNetworkAddressPrefix, of the private endpoints\' subnet.')
param privateEndpointSubnetPrefix string = '10.80.1.0/24'

@description('Object id of a person or group who runs the local tools against the real namespace (send bookings, read results, replay dead letters); empty grants nothing.')
param deployerPrincipalId string = ''

@description('Kind of principal deployerPrincipalId names.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

var token = uniqueString(resourceGroup().id, appName)
var compactName = take(replace(toLower(appName), '-', ''), 9)
var deploymentContainerName = 'app-package'
var virtualNetworkName = 'vnet-${appName}-${token}'
var appSubnetName = 'app'

// The function runs as this identity: Service Bus, its storage, telemetry and Microsoft Graph.
module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${appName}-${token}'
    location: location
    tags: tags
  }
}

// The platform reads the deployment package as this one (and writes it while deploy.sh publishes),
// which may touch nothing else.
module deploymentIdentity 'modules/identity.bicep' = {
  name: 'deployment-identity'
  params: {
    name: 'id-${appName}-deploy-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${appName}-${token}'
    applicationInsightsName: 'appi-${appName}-${token}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${compactName}${token}'
    location: location
    tags: tags
    recordStateTableName: recordStateTableName
    privateNetworking: privateNetworking
  }
}

module deploymentStorage 'modules/deployment-storage.bicep' = {
  name: 'deployment-storage'
  params: {
    name: take('pkg${compactName}${token}', 24)
    location: location
    tags: tags
    containerName: deploymentContainerName
    privateNetworking: privateNetworking
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-${appName}-${token}'
    location: location
    tags: tags
    sku: serviceBusSku
    bookingsQueueName: bookingsQueueName
    resultsQueueName: resultsQueueName
    bookingsMaxDeliveryCount: bookingsMaxDeliveryCount
    messageTimeToLive: messageTimeToLive
    privateNetworking: privateNetworking
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    name: virtualNetworkName
    location: location
    tags: tags
    addressPrefix: virtualNetworkAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    endpointSubnetPrefix: privateEndpointSubnetPrefix
    appSubnetName: appSubnetName
    storageAccountName: storage.outputs.name
    deploymentStorageAccountName: deploymentStorage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    serviceBusPrivateEndpoint: serviceBusSku == 'Premium'
  }
}

// Role assignments go in before the app so the host can reach storage and Service Bus
// on its first start.
module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    identityPrincipalId: identity.outputs.principalId
    deploymentIdentityPrincipalId: deploymentIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    deploymentStorageAccountName: deploymentStorage.outputs.name
    deploymentContainerName: deploymentStorage.outputs.containerName
    serviceBusNamespaceName: serviceBus.outputs.name
    bookingsQueueName: serviceBus.outputs.bookingsQueueName
    resultsQueueName: serviceBus.outputs.resultsQueueName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    allowScaleByQueueLength: allowScaleByQueueLength
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-${appName}-${token}'
    name: 'func-${appName}-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    deploymentIdentityId: deploymentIdentity.outputs.id
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReady: alwaysReady
    workerThreadCount: workerThreadCount
    deploymentContainerUrl: deploymentStorage.outputs.containerUrl
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    recordStateTableName: storage.outputs.recordStateTableName
    serviceBusNamespaceFqdn: serviceBus.outputs.fullyQualifiedNamespace
    bookingsQueueName: serviceBus.outputs.bookingsQueueName
    resultsQueueName: serviceBus.outputs.resultsQueueName
    bookingsMaxDeliveryCount: serviceBus.outputs.bookingsMaxDeliveryCount
    graphBaseUrl: graphBaseUrl
    allowedOrganizers: allowedOrganizers
    calendarEventsEnabled: calendarEvents
    attendanceReportsEnabled: attendanceReports
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    // Built from names rather than read from the conditional module, which has no outputs when off.
    appSubnetId: privateNetworking ? resourceId('Microsoft.Network/virtualNetworks/subnets', virtualNetworkName, appSubnetName) : ''
  }
  dependsOn: [
    rbac
    network
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: appName
    location: location
    tags: tags
    alertEmail: alertEmail
    serviceBusNamespaceName: serviceBus.outputs.name
    bookingsQueueName: serviceBus.outputs.bookingsQueueName
    resultsQueueName: serviceBus.outputs.resultsQueueName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    failedResultsThreshold: failedResultsThreshold
    failedInvocationsThreshold: failedInvocationsThreshold
  }
}

module graphAppRole 'modules/graph-app-role.bicep' = if (grantGraphAppRole) {
  name: 'graph-app-role'
  params: {
    principalId: identity.outputs.principalId
    calendarsReadWrite: calendarEvents && calendarAccess == 'entra'
    onlineMeetingArtifactRead: attendanceReports
  }
}

output functionAppName string = functionApp.outputs.name
output identityClientId string = identity.outputs.clientId
output identityPrincipalId string = identity.outputs.principalId
// deploy.sh lets this identity write the package's container while it publishes, then takes it back.
output deploymentIdentityPrincipalId string = deploymentIdentity.outputs.principalId
output deploymentContainerId string = deploymentStorage.outputs.containerId
output serviceBusNamespaceFqdn string = serviceBus.outputs.fullyQualifiedNamespace
output bookingsQueueName string = serviceBus.outputs.bookingsQueueName
output resultsQueueName string = serviceBus.outputs.resultsQueueName
output graphAppRoleGrantedByTemplate bool = grantGraphAppRole
output calendarEvents bool = calendarEvents
output calendarAccess string = calendarAccess
output attendanceReports bool = attendanceReports
output alwaysReady bool = alwaysReady
output privateNetworking bool = privateNetworking
output alertActionGroupName string = alerts.outputs.actionGroupName
output alertsNotifyAnyone bool = alerts.outputs.notifiesAnyone
