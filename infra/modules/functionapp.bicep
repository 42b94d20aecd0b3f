// The Functions app: an Elastic Premium (EP) Linux plan and one function app
// running `facet serve` as a custom handler (host.json customHandler).
//
// Why Elastic Premium, Linux (README.md, Deploy to Azure has the long form):
// - Consumption stops a function after 10 minutes at most; a video analysis
//   can take longer. Premium defaults to 30 minutes (host.json sets 30) and
//   allows more, and keeps always-ready instances warm.
// - Flex Consumption support for custom handlers is recent, and a native
//   ffmpeg crash on Flex has been reported (Azure/Azure-Functions#2643).
// - The zip carries a static ffmpeg/ffprobe and libonnxruntime, which needs
//   glibc >= 2.27; the Functions Linux image has it.
//
// Every app setting is written here, and an ARM deployment replaces the whole
// set: a setting added by hand disappears at the next deployment. The names
// are exactly those the Go code and the host read (`facet config-vars`,
// "azure" list); none of the local-only ones (keys, connection strings) is
// ever set in Azure.

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

@description('App Service plan name.')
param planName string

@description('Function app name (globally unique host name <name>.azurewebsites.net).')
param functionAppName string

@description('Elastic Premium size: EP1 1 vCPU, EP2 2 vCPU, EP3 4 vCPU.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string

@description('Always-ready instances (kept warm; billed continuously).')
@minValue(1)
@maxValue(20)
param alwaysReadyInstances int

@description('Upper bound of instances the app may scale out to.')
@minValue(1)
@maxValue(100)
param maximumInstances int

@description('Functions host storage account (AzureWebJobsStorage, content share).')
param hostStorageAccountName string

@description('Azure Files share with the app content (created by storage-host.bicep).')
param contentShareName string

@description('Application Insights component that receives the host telemetry.')
param appInsightsName string

@description('Blob endpoint of the uploads account, https://<account>.blob.core.windows.net.')
param uploadsBlobEndpoint string

@description('Cosmos DB account endpoint.')
param cosmosEndpoint string

@description('Cosmos DB database name.')
param cosmosDatabaseName string

@description('Service Bus namespace host name, <namespace>.servicebus.windows.net.')
param serviceBusFullyQualifiedNamespace string

@description('Vault URI (ends with a slash).')
param keyVaultUri string

@description('Name of the Key Vault secret with the operator key.')
param adminKeySecretName string

@description('Base of participant links (FACET_PUBLIC_BASE_URL).')
param publicBaseUrl string

@description('FACET_MAIL_ENDPOINT: https://<host name> of the Communication Services resource (mail.bicep).')
param mailEndpoint string

@description('FACET_MAIL_SENDER: sender address of the domain linked to that resource.')
param mailSenderAddress string

@description('FACET_LOG_LEVEL.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string

@description('FACET_UPLOAD_TTL: lifetime of an upload link (Go duration).')
param uploadTtl string

@description('FACET_SWEEP_SCHEDULE: RetentionSweep NCRONTAB schedule, read by the host.')
param sweepSchedule string

@description('Allow user name/password (basic auth) on the SCM (Kudu) endpoint. Off: deploy with an Entra ID identity (az CLI login).')
param allowScmBasicAuth bool

@description('Log Analytics workspace for the app resource logs.')
param workspaceId string

param tags object

// The zip lays out bin/, lib/ and models/ next to the facet binary in
// /home/site/wwwroot (make package).
var wwwroot = '/home/site/wwwroot'

// One analysis worker per vCPU of the plan size.
var workersBySku = {
  EP1: 1
  EP2: 2
  EP3: 4
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: hostStorageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: planSku
    tier: 'ElasticPremium'
  }
  properties: {
    // Linux.
    reserved: true
    maximumElasticWorkerCount: maximumInstances
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references resolve with the system-assigned identity.
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      // Custom handler: no language stack; the host starts the binary named
      // in host.json (FUNCTIONS_WORKER_RUNTIME=custom).
      linuxFxVersion: ''
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      use32BitWorkerProcess: false
      minimumElasticInstanceCount: alwaysReadyInstances
      functionAppScaleLimit: maximumInstances
      appSettings: [
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'custom'
        }
        {
          // Identity-based host storage: blobs (keys, timer locks) and tables
          // (diagnostic events) with the app's managed identity; no key.
          name: 'AzureWebJobsStorage__accountName'
          value: hostStorage.name
        }
        {
          // Elastic Premium content share: Azure Files mounted with the
          // account key; there is no identity-based option for this mount.
          // This is the one shared key in the deployment (README.md, Deploy to Azure).
          name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
          value: 'DefaultEndpointsProtocol=https;AccountName=${hostStorage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${hostStorage.listKeys().keys[0].value}'
        }
        {
          name: 'WEBSITE_CONTENTSHARE'
          value: contentShareName
        }
        {
          // The package is built by `make package`; Kudu must not try to
          // build it again on zip deploy.
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'false'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          // Service Bus trigger bindings (connection "ServiceBusConnection")
          // and the app's sender both use the managed identity.
          name: 'ServiceBusConnection__fullyQualifiedNamespace'
          value: serviceBusFullyQualifiedNamespace
        }
        {
          name: 'COSMOS_ENDPOINT'
          value: cosmosEndpoint
        }
        {
          name: 'COSMOS_DATABASE'
          value: cosmosDatabaseName
        }
        {
          name: 'FACET_STORAGE_ACCOUNT_URL'
          value: uploadsBlobEndpoint
        }
        {
          name: 'FACET_PUBLIC_BASE_URL'
          value: publicBaseUrl
        }
        {
          // Sign-up and invitation mail, sent with the managed identity
          // (roles.bicep); FACET_MAIL_OUTBOX is local only.
          name: 'FACET_MAIL_ENDPOINT'
          value: mailEndpoint
        }
        {
          name: 'FACET_MAIL_SENDER'
          value: mailSenderAddress
        }
        {
          // Versionless reference (trailing slash): the app follows the
          // latest secret version after a restart or within 24 hours.
          name: 'FACET_ADMIN_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${adminKeySecretName}/)'
        }
        {
          name: 'FACET_SWEEP_SCHEDULE'
          value: sweepSchedule
        }
        {
          name: 'FACET_LOG_LEVEL'
          value: logLevel
        }
        {
          name: 'FACET_ORT_LIB'
          value: '${wwwroot}/lib/libonnxruntime.so.1'
        }
        {
          name: 'FACET_MODELS_DIR'
          value: '${wwwroot}/models'
        }
        {
          name: 'FACET_FFMPEG'
          value: '${wwwroot}/bin/ffmpeg'
        }
        {
          name: 'FACET_FFPROBE'
          value: '${wwwroot}/bin/ffprobe'
        }
        {
          name: 'FACET_WORKERS'
          value: string(workersBySku[planSku])
        }
        {
          // Instance-local disk. Never /home: that is the Azure Files content
          // share, shared by all instances and persistent, so a video staged
          // there could outlive a crash.
          name: 'FACET_TEMP_DIR'
          value: '/tmp'
        }
        {
          name: 'FACET_UPLOAD_TTL'
          value: uploadTtl
        }
        {
          // The retention sweep deletes blobs without a recording only while
          // they are at most this share of all blobs (or at most two); more
          // look like a lost or replaced Cosmos DB: held and logged instead.
          name: 'FACET_ORPHAN_SHARE_MAX'
          value: '0.1'
        }
        // Per-client limits (README, Configuration): answered 429 with Retry-After.
        {
          name: 'FACET_LIMIT_RUNNING_ANALYSES'
          value: '2'
        }
        {
          name: 'FACET_LIMIT_REANALYSES_PER_HOUR'
          value: '60'
        }
        {
          name: 'FACET_LIMIT_INVITATIONS_PER_DAY'
          value: '5000'
        }
        {
          name: 'FACET_LIMIT_OPEN_UPLOADS'
          value: '500'
        }
      ]
    }
  }
}

// No FTP at all, and no basic-auth publishing unless asked for.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: allowScmBasicAuth
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
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

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output principalId string = site.identity.principalId
output planId string = plan.id
