// Parameters for main.bicep. deploy.sh passes the operator's choices in through the
// BOOKING_BRIDGE_* environment variables read below (those given on its command line, else the
// last deployment's); edit the other values here.
using 'main.bicep'

param appName = readEnvironmentVariable('BOOKING_BRIDGE_APP_NAME', 'bookingbridge')

param pythonVersion = '3.11'
param instanceMemoryMB = 2048
param maximumInstanceCount = 4
// deploy.sh --always-ready: one instance kept started for the bookings function (docs/infrastructure.md).
param alwaysReady = bool(readEnvironmentVariable('BOOKING_BRIDGE_ALWAYS_READY', 'false'))
param workerThreadCount = 16

// Premium isolates capacity and, with privateNetworking, takes a private endpoint (docs/infrastructure.md).
param serviceBusSku = 'Standard'
param bookingsQueueName = 'bookings'
param resultsQueueName = 'meeting-results'
param bookingsMaxDeliveryCount = 10
param messageTimeToLive = 'P14D'

param graphBaseUrl = 'https://graph.microsoft.com/v1.0'
param recordStateTableName = 'bookingstate'
// Optional allow-list on top of the Teams application access policy: comma-separated
// organizer object ids ('id1,id2'), or source=objectId entries ('crm=id1,clinic=id2') that
// also restrict which booking source may book for which organizer. Empty: no extra restriction.
param allowedOrganizers = ''
param logRetentionInDays = 30
param allowScaleByQueueLength = true

// Alerts (infra/modules/alerts.bicep, docs/alerts.md): deploy.sh --alert-email sets the address.
param alertEmail = readEnvironmentVariable('BOOKING_BRIDGE_ALERT_EMAIL', '')
param failedResultsThreshold = 5
param failedInvocationsThreshold = 10

param calendarEvents = bool(readEnvironmentVariable('BOOKING_BRIDGE_CALENDAR_EVENTS', 'false'))
param calendarAccess = readEnvironmentVariable('BOOKING_BRIDGE_CALENDAR_ACCESS', 'entra')
param attendanceReports = bool(readEnvironmentVariable('BOOKING_BRIDGE_ATTENDANCE_REPORTS', 'false'))
param privateNetworking = bool(readEnvironmentVariable('BOOKING_BRIDGE_PRIVATE_NETWORKING', 'false'))
param virtualNetworkAddressPrefix = '10.80.0.0/16'
param appSubnetPrefix = '10.80.0.0/24'
param privateEndpointSubnetPrefix = '10.80.1.0/24'
param grantGraphAppRole = bool(readEnvironmentVariable('BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE', 'false'))
param deployerPrincipalId = readEnvironmentVariable('BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE', 'User')
