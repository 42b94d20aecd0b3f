// Service Bus: the three work queues. Messages carry ids only (a webhook
// delivery also carries its event: ids, statuses and a summary).
//
// - Standard tier: scheduled messages (project close + grace period) and
//   dead-lettering are all we need; no virtual network features. Queues are
//   in the namespace's region; Standard has no geo-replication.
// - Local (SAS key) auth off: the app sends and receives with its managed
//   identity (roles.bicep), and the trigger binding reads
//   ServiceBusConnection__fullyQualifiedNamespace.
// - maxDeliveryCount 10: a custom handler cannot dead-letter a message
//   itself, so a message that keeps failing transiently is dead-lettered by
//   Service Bus after ten deliveries; RetentionSweep catches what it left.
// - lockDuration: 5 minutes (the service maximum) for analyses, renewed by the
//   host up to host.json maxAutoLockRenewalDuration (40 min, above the 30 min
//   functionTimeout); 1 minute for deletions and webhook deliveries, which
//   are quick (a delivery waits 10 s at most).

@description('EEA region (the same list as main.bicep).')
@allowed([
  'westeurope'
  'northeurope'
  'germanywestcentral'
  'germanynorth'
  'francecentral'
  'francesouth'
  'swedencentral'
  'swedensouth'
  'norwayeast'
  'norwaywest'
  'polandcentral'
  'italynorth'
  'spaincentral'
  'austriaeast'
  'belgiumcentral'
])
param location string

@description('Namespace name (6-50 letters, digits and hyphens, globally unique).')
@minLength(6)
@maxLength(50)
param namespaceName string

@description('Log Analytics workspace for the namespace resource logs.')
param workspaceId string

param tags object

var queues = [
  {
    name: 'analysis'
    lockDuration: 'PT5M'
  }
  {
    name: 'deletions'
    lockDuration: 'PT1M'
  }
  {
    name: 'webhooks'
    lockDuration: 'PT1M'
  }
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    // publicNetworkAccess is left at its default (Enabled): the app reaches
    // the namespace over its public endpoint with Entra ID tokens, and
    // network rules are a Premium-tier feature.
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for q in queues: {
    parent: namespace
    name: q.name
    properties: {
      lockDuration: q.lockDuration
      maxDeliveryCount: 10
      deadLetteringOnMessageExpiration: true
      requiresSession: false
      requiresDuplicateDetection: false
      enablePartitioning: false
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
