// A deployment that passes every infra-lint rule (with --config-vars and
// --containers as cmd/facet/infralint_test.go passes them).
targetScope = 'resourceGroup'

@description('Region of every resource: EEA only.')
@allowed([
  'westeurope'
  'swedencentral'
  'norwayeast'
])
param location string = 'westeurope'

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param uploadsSku string = 'Standard_ZRS'

@secure()
param adminKey string

param prefix string = 'facet'

@description('Encrypt the uploads account with a customer-managed key.')
param cmkEnabled bool = false

@description('Where the mail resources keep their data: EEA data locations only.')
@allowed([
  'Europe'
  'Germany'
])
param mailGeography string = 'Europe'

@description('Origin of the participant page: empty (the app itself) or https://host[:port].')
param participantOrigin string = ''

// storage-cors: an interpolated https origin, and a param that the ternary
// lets through only when it is https without '*' (else fail()).
var appOrigin = 'https://${prefix}-fn.azurewebsites.net'
var participantOriginOk = !(!startsWith(participantOrigin, 'https://') || contains(participantOrigin, '*'))
var corsOrigin = empty(participantOrigin) ? appOrigin : (participantOriginOk ? participantOrigin : fail('participantOrigin must be an https:// origin'))
var uploadHeaders = [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]

// Composite indexes come both as literals (order) and from field names
// (orderBy, through map/flatten), as infra/modules/cosmos.bicep does.
var containers = [
  { name: 'clients', pk: '/id', order: [], orderBy: [] }
  { name: 'apikeys', pk: '/id', order: [], orderBy: [] }
  {
    name: 'projects'
    pk: '/clientId'
    order: [ [ { path: '/createdAt' }, { path: '/id' } ] ]
    orderBy: []
  }
  { name: 'invitations', pk: '/id', order: [], orderBy: [ 'createdAt' ] }
  { name: 'recordings', pk: '/projectId', order: [], orderBy: [ 'createdAt' ] }
  {
    name: 'analyses'
    pk: '/recordingId'
    order: [
      [ { path: '/createdAt', order: 'descending' }, { path: '/id', order: 'descending' } ]
    ]
    orderBy: [ 'index' ]
  }
  { name: 'audit', pk: '/clientId', order: [], orderBy: [ 'at' ] }
  { name: 'webhooks', pk: '/clientId', order: [], orderBy: [ 'createdAt' ] }
  { name: 'stimuli', pk: '/projectId', order: [], orderBy: [ 'createdAt' ] }
  { name: 'accounts', pk: '/id', order: [], orderBy: [] }
  { name: 'logins', pk: '/id', order: [], orderBy: [] }
  { name: 'sessions', pk: '/accountId', order: [], orderBy: [] }
  { name: 'teaminvites', pk: '/id', order: [], orderBy: [] }
]

// The Functions host's own storage (AzureWebJobsStorage, content share):
// the Consumption plan's file share needs a shared key.
// infra-lint: host-storage
resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: '${prefix}host'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    encryption: {
      requireInfrastructureEncryption: true
      keySource: 'Microsoft.Storage'
    }
  }
}

// Either branch of the ternary, and union()'s merge, must pass.
var encryptionBase = { requireInfrastructureEncryption: true }
var encryption = cmkEnabled ? union(encryptionBase, { keySource: 'Microsoft.Keyvault' }) : union(encryptionBase, { keySource: 'Microsoft.Storage' })
var secureStorage = {
  minimumTlsVersion: 'TLS1_2'
  supportsHttpsTrafficOnly: true
  allowBlobPublicAccess: false
  allowSharedKeyAccess: false
  encryption: encryption
}

resource uploads 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: '${prefix}uploads'
  location: hostStorage.location
  kind: 'StorageV2'
  sku: { name: uploadsSku }
  properties: secureStorage

  resource blobs 'blobServices@2023-05-01' = {
    name: 'default'
    properties: {
      isVersioningEnabled: false
      deleteRetentionPolicy: { enabled: false }
      changeFeed: { enabled: false }
      // Every rule must pass: two are fine.
      cors: {
        corsRules: [
          {
            allowedOrigins: [ corsOrigin ]
            allowedMethods: [ 'PUT', 'OPTIONS' ]
            allowedHeaders: uploadHeaders
            exposedHeaders: [ 'etag' ]
            maxAgeInSeconds: 3600
          }
          {
            allowedOrigins: [ 'https://study.example.eu', 'https://study.example.eu:8443' ]
            allowedMethods: [ 'PUT' ]
            allowedHeaders: concat(uploadHeaders, [ 'x-ms-date' ])
            exposedHeaders: []
            maxAgeInSeconds: 600
          }
        ]
      }
    }
  }

  // No CORS on the other services.
  resource queues 'queueServices@2023-05-01' = {
    name: 'default'
    properties: {
      cors: { corsRules: [] }
    }
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${prefix}-plan'
  location: location
  sku: { name: 'Y1', tier: 'Dynamic' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: '${prefix}-fn'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'AzureWebJobsStorage', value: 'DefaultEndpointsProtocol=https;AccountName=${hostStorage.name};AccountKey=${hostStorage.listKeys().keys[0].value}' }
        { name: 'FACET_ORT_LIB', value: '/home/site/wwwroot/lib/libonnxruntime.so.1' }
        { name: 'FACET_MODELS_DIR', value: '/home/site/wwwroot/models' }
        { name: 'FACET_FFMPEG', value: '/home/site/wwwroot/bin/ffmpeg' }
        { name: 'FACET_FFPROBE', value: '/home/site/wwwroot/bin/ffprobe' }
        { name: 'FACET_WORKERS', value: '0' }
      ]
    }
  }
}

resource siteSettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    FACET_ADMIN_KEY: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=admin-key)'
    FACET_PUBLIC_BASE_URL: 'https://${site.properties.defaultHostName}'
    FACET_LOG_LEVEL: 'info'
    FACET_TEMP_DIR: '/tmp'
    COSMOS_ENDPOINT: cosmos.properties.documentEndpoint
    COSMOS_DATABASE: 'facet'
    FACET_STORAGE_ACCOUNT_URL: uploads.properties.primaryEndpoints.blob
    ServiceBusConnection__fullyQualifiedNamespace: '${bus.name}.servicebus.windows.net'
    FACET_UPLOAD_TTL: '2h'
    FACET_ORPHAN_SHARE_MAX: '0.1'
    FACET_LIMIT_RUNNING_ANALYSES: '2'
    FACET_LIMIT_REANALYSES_PER_HOUR: '60'
    FACET_LIMIT_INVITATIONS_PER_DAY: '5000'
    FACET_LIMIT_OPEN_UPLOADS: '500'
    FACET_MAIL_ENDPOINT: 'https://${mail.properties.hostName}'
    FACET_MAIL_SENDER: 'DoNotReply@${mailService::domain.properties.mailFromSenderDomain}'
  }
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: '${prefix}-cosmos'
  location: location
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: { tier: 'Continuous7Days' }
    }
    locations: [
      { locationName: location, failoverPriority: 0 }
    ]
  }
}

resource db 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: 'facet'
  properties: { resource: { id: 'facet' } }
}

resource dbContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for c in containers: {
  parent: db
  name: c.name
  properties: {
    resource: {
      id: c.name
      partitionKey: { paths: [ c.pk ], kind: 'Hash' }
      indexingPolicy: {
        indexingMode: 'consistent'
        includedPaths: [ { path: '/*' } ]
        compositeIndexes: concat(c.order, flatten(map(c.orderBy, field => [
          [ { path: '/${field}', order: 'ascending' }, { path: '/id', order: 'ascending' } ]
          [ { path: '/${field}', order: 'descending' }, { path: '/id', order: 'descending' } ]
        ])))
      }
    }
  }
}]

resource bus 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: '${prefix}-bus'
  location: location
  sku: { name: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: '${prefix}-kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enablePurgeProtection: true
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'admin-key'
  properties: { value: adminKey }
}

output functionAppName string = site.name
output keyVaultUri string = vault.properties.vaultUri
output uploadsBlobEndpoint string = uploads.properties.primaryEndpoints.blob

// Communication Services: global, with their data in the EEA, no access
// keys, no click tracking.
resource mailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: '${prefix}-ecs'
  location: 'global'
  properties: { dataLocation: mailGeography }

  resource domain 'domains@2025-05-01' = {
    name: 'AzureManagedDomain'
    location: 'global'
    properties: {
      domainManagement: 'AzureManaged'
      userEngagementTracking: 'Disabled'
    }
  }
}

resource mail 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: '${prefix}-acs'
  location: 'global'
  properties: {
    dataLocation: 'Europe'
    linkedDomains: [ mailService::domain.id ]
    disableLocalAuth: true
  }
}
