// Cosmos DB (NoSQL API): the metadata store. Never a video, an image or a
// name (README, "Data model").
//
// - Exactly one region (the deployment's EEA region), no geo-replication.
// - Local (key) auth off: the app uses its managed identity with the
//   built-in data contributor role (roles.bicep). Databases and containers
//   are created here through the control plane because data-plane RBAC does
//   not let the app create them.
// - Continuous backup, 7-day tier (free): deleted metadata stays restorable
//   for at most 7 days and then expires; backups stay in the account's region.
// - Serverless by default: research projects send bursts of small requests
//   and sit idle between them, so paying per request beats paying for
//   provisioned RU/s around the clock; serverless is single-region anyway,
//   which is what EEA residency wants. Set serverless=false for steady heavy
//   load (database-level autoscale throughput).
// - Public network access stays enabled: the Elastic Premium app has no
//   virtual network here, so it reaches Cosmos over its public endpoint
//   (TLS 1.2, Entra ID tokens only).

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

@description('Account name (3-44 lowercase letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(44)
param accountName string

@description('Database name; the app reads it from COSMOS_DATABASE.')
param databaseName string

@description('true: serverless capacity; false: provisioned autoscale throughput shared by the database.')
param serverless bool

@description('Autoscale maximum RU/s for the database when serverless is false.')
@minValue(1000)
param autoscaleMaxThroughput int

@description('Log Analytics workspace for the account resource logs.')
param workspaceId string

param tags object

// Every container of facet.Containers (ports.go), with its partition key path
// and the fields the app orders queries by. Keep this list in step with
// ports.go: each OrderBy field gets the composite indexes (field ASC, id ASC)
// and (field DESC, id DESC), because ORDER BY on two properties needs a
// matching composite index and the app breaks ties by id.
var containers = [
  {
    name: 'clients'
    partitionKey: '/id'
    orderBy: []
  }
  {
    name: 'apikeys'
    partitionKey: '/id'
    orderBy: []
  }
  {
    name: 'projects'
    partitionKey: '/clientId'
    orderBy: [
      'createdAt'
    ]
  }
  {
    name: 'invitations'
    partitionKey: '/id'
    orderBy: [
      'createdAt'
    ]
  }
  {
    name: 'recordings'
    partitionKey: '/projectId'
    orderBy: [
      'createdAt'
    ]
  }
  {
    name: 'analyses'
    partitionKey: '/recordingId'
    orderBy: [
      'createdAt'
      'index'
    ]
  }
  {
    name: 'audit'
    partitionKey: '/clientId'
    orderBy: [
      'at'
    ]
  }
  {
    name: 'webhooks'
    partitionKey: '/clientId'
    orderBy: [
      'createdAt'
    ]
  }
  {
    name: 'stimuli'
    partitionKey: '/projectId'
    orderBy: [
      'createdAt'
    ]
  }
  {
    name: 'accounts'
    partitionKey: '/id'
    orderBy: []
  }
  {
    name: 'logins'
    partitionKey: '/id'
    orderBy: []
  }
  {
    name: 'sessions'
    partitionKey: '/accountId'
    orderBy: []
  }
  {
    name: 'teaminvites'
    partitionKey: '/id'
    orderBy: []
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2025-04-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    enableMultipleWriteLocations: false
    enableAutomaticFailover: false
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: serverless ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
    disableLocalAuth: true
    // Even key holders could not change databases or containers; only ARM can.
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    enableFreeTier: false
    enableAnalyticalStorage: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2025-04-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: serverless ? {} : {
      autoscaleSettings: {
        maxThroughput: autoscaleMaxThroughput
      }
    }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-04-15' = [
  for c in containers: {
    parent: database
    name: c.name
    properties: {
      resource: {
        id: c.name
        partitionKey: {
          paths: [
            c.partitionKey
          ]
          kind: 'Hash'
          version: 2
        }
        indexingPolicy: {
          indexingMode: 'consistent'
          automatic: true
          includedPaths: [
            {
              path: '/*'
            }
          ]
          excludedPaths: [
            {
              path: '/"_etag"/?'
            }
          ]
          compositeIndexes: flatten(map(c.orderBy, field => [
            [
              {
                path: '/${field}'
                order: 'ascending'
              }
              {
                path: '/id'
                order: 'ascending'
              }
            ]
            [
              {
                path: '/${field}'
                order: 'descending'
              }
              {
                path: '/id'
                order: 'descending'
              }
            ]
          ]))
        }
      }
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: workspaceId
    // Resource-specific tables (CDBDataPlaneRequests, ...) rather than AzureDiagnostics.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
