// The function app on the Flex Consumption plan (Linux, Python). Every setting the code
// reads is named in shared/settings.py; tests/infra/ fails when the names here
// and the code's drift apart. Tuning knobs (GRAPH_RETRY_BUDGET_SECONDS,
// MAX_THROTTLE_REQUEUES) are left unset so the code's defaults stay their one source.
// Only identity-based connections: no key, no connection string with a secret. The app runs
// as one identity (identityId, in every connection setting) and the platform deploys its
// package as another (deploymentIdentityId), which may read the package alone, and write it
// only while deploy.sh publishes.

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app (globally unique; it is the host name).')
param name string

@description('Azure region for the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of the user-assigned identity, written into the identity-based connection settings.')
param identityClientId string

@description('Resource id of the user-assigned identity the platform reads (and, while deploy.sh publishes, writes) the deployment package with. Flex Consumption requires it attached to the app; no setting names it, so the bridge never uses it.')
param deploymentIdentityId string

@description('Python version of the Functions runtime.')
param pythonVersion string

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Most instances the app scales out to; caps the concurrent calls the bridge makes to Microsoft Graph.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Keep one always-ready instance for the bookings function\'s scale group.')
param alwaysReady bool

@description('Python worker threads (PYTHON_THREADPOOL_THREAD_COUNT); at least host.json\'s serviceBus.maxConcurrentSessions, or the worker runs fewer invocations than the host hands it.')
@minValue(1)
@maxValue(64)
param workerThreadCount int

@description('URL of the blob container the platform deploys the code package from.')
param deploymentContainerUrl string

@description('Blob endpoint of the host storage account.')
param storageBlobEndpoint string

@description('Table endpoint of the host storage account; it also holds the per-record state table.')
param storageTableEndpoint string

@description('Name of the table the bridge keeps per-record state in.')
param recordStateTableName string

@description('Host name of the Service Bus namespace, such as contoso.servicebus.windows.net.')
param serviceBusNamespaceFqdn string

@description('Queue the function is triggered from.')
param bookingsQueueName string

@description('Queue the function publishes results to.')
param resultsQueueName string

@description('The bookings queue\'s maxDeliveryCount; the bridge publishes a failed result on the last delivery.')
@minValue(1)
@maxValue(100)
param bookingsMaxDeliveryCount int

@description('Organizer object ids the bridge may book for, optionally as source=objectId pairs (comma-separated); empty leaves it to the Teams application access policy.')
param allowedOrganizers string

@description('Calendar mode: bookings with `calendar` become Outlook events (the identity then needs Calendars.ReadWrite).')
param calendarEventsEnabled bool

@description('Attendance reports: a booking with `attendance` gets who attended after its meeting (the identity then needs OnlineMeetingArtifact.Read.All).')
param attendanceReportsEnabled bool

@description('Microsoft Graph base URL the bridge calls.')
param graphBaseUrl string

@description('Application Insights connection string (no key in it; ingestion needs an Entra token).')
param applicationInsightsConnectionString string

@description('Resource id of the subnet the app joins (virtual network integration, delegated to Microsoft.App/environments); empty: no virtual network.')
param appSubnetId string

// Flex Consumption scales each non-HTTP function in a group of its own, named function:<name> (the name
// create_meeting_fn registers).
var bookingsFunctionScaleGroup = 'function:create_meeting'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption is region-dependent; during a zone outage bookings wait durably on the queue
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: client certificates guard HTTP endpoints; the app has only a Service Bus trigger and no HTTP function
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; bookings wait durably on the queue until an instance starts
  // checkov:skip=CKV_AZURE_213: health checks probe an HTTP path; a queue-triggered app has none to probe
  // checkov:skip=CKV_AZURE_222: the public endpoint serves only deployment and management (no HTTP function), with Entra tokens; closing it would also close deploy.sh's publish path
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${deploymentIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION:
      // the runtime comes from functionAppConfig below.
      appSettings: [
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        // No queueServiceUri: the host uses queues only for blob triggers, and this app has none.
        { name: 'AzureWebJobsStorage__blobServiceUri', value: storageBlobEndpoint }
        { name: 'AzureWebJobsStorage__tableServiceUri', value: storageTableEndpoint }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // OpenTelemetry (host.json telemetryMode): the worker continues each invocation's trace context and
        // leaves its logs to the bridge's exporter instead of the host, which the bridge configures once
        // (shared/telemetry.py, with the identity above). The worker's own configuration stays off, or
        // the exporter would be configured twice.
        { name: 'PYTHON_ENABLE_OPENTELEMETRY', value: 'true' }
        { name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY', value: 'false' }
        { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: serviceBusNamespaceFqdn }
        { name: 'ServiceBusConnection__credential', value: 'managedidentity' }
        { name: 'ServiceBusConnection__clientId', value: identityClientId }
        { name: 'BOOKINGS_QUEUE', value: bookingsQueueName }
        { name: 'RESULTS_QUEUE', value: resultsQueueName }
        { name: 'BOOKINGS_MAX_DELIVERY_COUNT', value: string(bookingsMaxDeliveryCount) }
        { name: 'GRAPH_BASE_URL', value: graphBaseUrl }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        // The identity-based form only; the bare RecordStateStorage connection string is
        // for Azurite on a developer's machine.
        { name: 'RecordStateStorage__tableServiceUri', value: storageTableEndpoint }
        { name: 'RECORD_STATE_TABLE', value: recordStateTableName }
        { name: 'ALLOWED_ORGANIZERS', value: allowedOrganizers }
        { name: 'CALENDAR_EVENTS_ENABLED', value: string(calendarEventsEnabled) }
        { name: 'ATTENDANCE_REPORTS_ENABLED', value: string(attendanceReportsEnabled) }
        { name: 'PYTHON_THREADPOOL_THREAD_COUNT', value: string(workerThreadCount) }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deploymentIdentityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady ? [ { name: bookingsFunctionScaleGroup, instanceCount: 1 } ] : []
      }
    }
  }
}

// Basic (user name and password) publishing credentials off for both FTP and the SCM
// site: code is published with the deployer's Entra token.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
