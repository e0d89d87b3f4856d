// The signals an operator must act on, each sent to one action group, each description naming
// the runbook step that fixes it (docs/alerts.md). The log alerts query Application
// Insights with Azure Monitor's own access: no identity and no role assignment is needed.
// The strings they match are the bridge's own log lines (shared/pipeline.py, shared/errors.py);
// tests/test_infra_alerts.py holds each query against the lines the code really writes.

@description('Prefix of the alert and action group names, such as bookingbridge.')
param namePrefix string

@description('Azure region of the log alerts (the Application Insights region); metric alerts and action groups are global.')
param location string

@description('Tags applied to the alerts and the action group.')
param tags object

@description('Address the action group emails; empty creates the alerts with nobody notified (deploy.sh warns).')
param alertEmail string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Name of the bookings queue, whose dead letters are alerted on.')
param bookingsQueueName string

@description('Name of the results queue, whose dead letters (results nobody read in time) are alerted on.')
param resultsQueueName string

@description('Name of the Application Insights component the function logs to.')
param applicationInsightsName string

@description('Failed results (Graph refused a booking for good, or the bridge gave up on its last delivery) in 15 minutes above which to alert.')
@minValue(0)
param failedResultsThreshold int

@description('Failed invocations of the function in 15 minutes above which to alert.')
@minValue(0)
param failedInvocationsThreshold int

var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'operator'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource operators 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take(namePrefix, 12)
    enabled: true
    emailReceivers: emailReceivers
  }
}

// Service Bus dead-letters a booking after maxDeliveryCount failed deliveries; every one needs
// a replay once its cause is fixed. The metric cannot say when they are all gone: it is a
// point-in-time value that Service Bus reports as 0 for an entity idle two hours, dead letters
// or not. So the alert is stateless (autoMitigate false): it repeats while the metric shows
// dead letters, and what it fired stays open until an operator closes it after `dlq list`,
// which reads the dead-letter queue itself, shows it empty (docs/alerts.md).
resource deadLetteredBookings 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-dead-lettered-bookings'
  location: 'global'
  tags: tags
  properties: {
    description: 'Bookings are in the dead-letter queue of ${bookingsQueueName}: Service Bus gave up on them. Runbook step "Dead letters and how to replay": list them with the queue CLI (dlq list), find the cause in the logs by messageId, fix it, then replay. This alert does not resolve itself: close it once dlq list shows the queue empty. See docs/alerts.md and the operator runbook in docs/operations.md.'
    severity: 1
    enabled: true
    scopes: [
      namespace.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    autoMitigate: false
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredBookings'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                bookingsQueueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: operators.id
      }
    ]
  }
}

// A result a booking system never received: it expired unread (time to live) or its consumer
// abandoned it maxDeliveryCount times. Nothing in the bridge is wrong, but a source is not
// hearing back. Stateless for the reason above.
resource deadLetteredResults 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-dead-lettered-results'
  location: 'global'
  tags: tags
  properties: {
    description: 'Results are in the dead-letter queue of ${resultsQueueName}: a booking system did not read them in time. Runbook step "Results nobody read": find the source that stopped reading, fix its consumer, then read or purge the dead letters. This alert does not resolve itself: close it once the dead-letter queue is empty. See docs/alerts.md.'
    severity: 3
    enabled: true
    scopes: [
      namespace.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    autoMitigate: false
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredResults'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                resultsQueueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: operators.id
      }
    ]
  }
}

// One `booking processed status=failed` line per `failed` result, whatever its cause: Graph refused the booking for good (4xx other than 401/403/429), or a failure
// persisted to the queue's last delivery (deliveryCount = maxDeliveryCount; a `booking will be
// dead-lettered` line with the same messageId precedes it, and the dead-letter alert fires as well).
// Should log lines ever be sampled, the query adds up itemCount, the number of lines each kept row stands for.
resource failedResults 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-failed-results'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Booking Bridge: failed results'
    description: 'More than ${failedResultsThreshold} bookings got a failed result in 15 minutes. Each has a traces line booking processed status=failed ... errorCode=... deliveryCount=...: either Graph refused it for good (errorCode is the code Graph answered, such as NotFound; Runbook step "Graph answers 404 for the organizer": fix the records at the source and send them again), or the bridge gave up on its last delivery (deliveryCount is the maxDeliveryCount of the queue, a booking will be dead-lettered line with the same messageId precedes it, and the dead-letter alert fires too; Runbook step "Dead letters and how to replay"). Read the errors with the queue CLI: results --status failed. See docs/alerts.md and the operator runbook in docs/operations.md.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'traces | where message startswith "booking processed status=failed " | summarize failedResults = sum(itemCount)'
          metricMeasureColumn: 'failedResults'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: failedResultsThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        operators.id
      ]
    }
  }
}

// Graph 401/403: the identity lacks the app role, or the organizer no Teams application access
// policy; the bridge logs the fix (GraphAccessDenied) and raises, so nothing heals by itself. The query
// matches the error code, an early field of a bounded line, never text a long value could push out.
resource graphAccessDenied 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-graph-access-denied'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Booking Bridge: Graph access denied (401/403)'
    description: 'Microsoft Graph refused the bridge with 401 or 403: the identity lacks OnlineMeetings.ReadWrite.All or the organizer is not covered by the Teams application access policy. Bookings are redelivered, then dead-lettered. Runbook step "Graph answers 403 (application access policy)": grant the role or New-CsApplicationAccessPolicy / Grant-CsApplicationAccessPolicy, wait up to 30 minutes, then replay the dead letters. See docs/alerts.md and the operator runbook in docs/operations.md.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'traces | where message startswith "booking will be " and message contains " error=graph_access_denied " | summarize deniedAttempts = sum(itemCount)'
          metricMeasureColumn: 'deniedAttempts'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        operators.id
      ]
    }
  }
}

// Every invocation that raises: Graph unavailable beyond the retry budget, token, state table,
// results queue or settings. A few are normal under throttling; many mean an outage or a
// broken setting. In OpenTelemetry mode a failed invocation is one failed row in `requests`,
// under one of two names, depending on the host: the Azure SDK's session processor span,
// ServiceBusSessionProcessor.ProcessSessionMessage (ActivityKind.Consumer), on a host that
// exports the session processor's activity source; otherwise the host's own function-level
// span (ActivityKind.Server), named after the function. The host opens its own only when no
// trigger span exists, so no invocation counts twice; it marks the current one failed when the
// function raises. The function's name is create_meeting_fn's (tests/test_infra_alerts.py holds
// them together). Host versions and sources: docs/alerts.md.
resource failedInvocations 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-failed-invocations'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Booking Bridge: failed function invocations'
    description: 'More than ${failedInvocationsThreshold} invocations of create_meeting failed in 15 minutes; those bookings are redelivered. The cause is in traces: booking will be redelivered ... error=... followed, for Graph, by httpStatus=, graphCode= and graphRequestId=, otherwise by reason=. Graph 429/503: Runbook step "Throttling". Graph 401/403: Runbook step "Graph answers 403 (application access policy)". Anything else: fix the setting, token, state table or queue the line names, then replay what was dead-lettered. See docs/alerts.md and the operator runbook in docs/operations.md.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests | where name in ("ServiceBusSessionProcessor.ProcessSessionMessage", "create_meeting") and success == false | summarize failedInvocations = sum(itemCount)'
          metricMeasureColumn: 'failedInvocations'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: failedInvocationsThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        operators.id
      ]
    }
  }
}

output actionGroupName string = operators.name
output notifiesAnyone bool = !empty(alertEmail)
