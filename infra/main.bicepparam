// Parameters for main.bicep. deploy.sh passes its command-line choices in through the
// BOOKING_BRIDGE_* environment variables read below; edit the other values here.
using 'main.bicep'

param appName = readEnvironmentVariable('BOOKING_BRIDGE_APP_NAME', 'bookingbridge')

param pythonVersion = '3.11'
param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param workerThreadCount = 16

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
param grantGraphAppRole = bool(readEnvironmentVariable('BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE', 'false'))
param deployerPrincipalId = readEnvironmentVariable('BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE', 'User')
