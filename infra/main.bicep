// facet: everything the Functions app needs, in one resource group, in one
// EEA region. Deploy into an existing resource group (see README.md, Deploy to Azure):
//
//   az group create -n RG -l westeurope
//   az deployment group create -g RG -n facet-main -f infra/main.bicep -p infra/main.bicepparam
//
// Then publish the code, then deploy infra/events.bicep (the Event Grid
// subscription needs the published AnalyzeRecording function).
//
// Residency: every location comes from `location`, which only accepts EEA
// regions; storage is LRS/ZRS (no geo-replication), Cosmos DB has exactly one
// region, logs go to a workspace in the same region, and the optional
// "Allowed locations" policy keeps later hand-made resources in the list too.
// The mail resources (modules/mail.bicep) have no region (location 'global',
// which that policy exempts): their data rests where dataLocation says,
// 'Europe'.
//
// Outputs are names, ids and endpoints only: no keys, no connection strings.

targetScope = 'resourceGroup'

@description('EEA Azure region for every resource (EU member states, Norway; Iceland and Liechtenstein have no Azure region). Defaults to the resource group\'s region, which must be in the list too.')
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
param location string = resourceGroup().location

@description('Short prefix for resource names: 2-8 lowercase letters or digits (it is also used in storage account names).')
@minLength(2)
@maxLength(8)
param namePrefix string = 'facet'

@description('Suffix that makes global names unique. Keep the default; change it only to redeploy after a tear-down while the old Key Vault name is still reserved.')
@minLength(5)
@maxLength(13)
param uniqueSuffix string = uniqueString(subscription().id, resourceGroup().id)

@description('Tags on every resource.')
param tags object = {
  app: 'facet'
}

@description('Assign the built-in "Allowed locations" policy to the resource group with the EEA list below.')
param enableAllowedLocationsPolicy bool = false

@description('Origin (https://host[:port], no path, no *) of the page participants upload from; Blob Storage CORS allows PUT from it, and anything else fails the deployment. Empty: the function app\'s own https://<app>.azurewebsites.net.')
param participantOrigin string = ''

@description('FACET_PUBLIC_BASE_URL: base of participant links <base>/p/<token>. Empty: https://<app>.azurewebsites.net.')
param publicBaseUrl string = ''

@description('Operator key for POST /api/clients (X-Admin-Key); stored in Key Vault, never in app settings or outputs. At least 32 characters.')
@secure()
@minLength(32)
param adminKey string

@description('Backstop: the lifecycle rule deletes any video older than this many days. At least the API\'s largest settings.maxRetentionDays (365, internal/app MaxRetentionDays), so no promise is broken early.')
@minValue(365)
@maxValue(3650)
param maxRetentionDays int = 365

@description('Days dead-lettered Event Grid events are kept in the host storage account.')
@minValue(1)
@maxValue(365)
param deadLetterRetentionDays int = 30

@description('Days Log Analytics (and workspace-based Application Insights) keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Uploads account replication. ZRS needs a region with availability zones; never geo-redundant.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param uploadsStorageSku string = 'Standard_LRS'

@description('Host storage account replication. ZRS needs a region with availability zones; never geo-redundant.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param hostStorageSku string = 'Standard_LRS'

@description('Optional customer-managed key for the uploads account: https://<vault>.vault.azure.net/keys/<name>[/<version>]. Empty: platform-managed keys (still AES-256, twice).')
param cmkKeyUri string = ''

@description('Resource id of a user-assigned identity with Key Vault Crypto Service Encryption User on that key. Required when cmkKeyUri is set.')
param cmkUserAssignedIdentityId string = ''

@description('Cosmos DB capacity: true serverless (pay per request), false provisioned autoscale.')
param cosmosServerless bool = true

@description('Database autoscale maximum RU/s when cosmosServerless is false.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Elastic Premium plan size.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string = 'EP1'

@description('Always-ready (pre-warmed, always billed) instances.')
@minValue(1)
@maxValue(20)
param alwaysReadyInstances int = 1

@description('Maximum instances the app scales out to.')
@minValue(1)
@maxValue(100)
param maximumInstances int = 10

@description('FACET_LOG_LEVEL.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('FACET_UPLOAD_TTL: lifetime of an upload link (Go duration).')
param uploadTtl string = '2h'

@description('FACET_SWEEP_SCHEDULE: RetentionSweep NCRONTAB schedule (hourly).')
param sweepSchedule string = '0 0 * * * *'

@description('Allow basic-auth (user name/password) publishing on the SCM endpoint. Keep false and deploy with your Entra ID login.')
param allowScmBasicAuth bool = false

@description('Give the app the built-in "Communication and Email Service Owner" role on the mail resource instead of the custom send-only role (roles.bicep). Only if sending fails with the custom role: the built-in one may also delete the resource and its domains.')
param mailBuiltInRole bool = false

@description('Days a deleted Key Vault (and its name) stays reserved; purge protection is on.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

// Same list as the @allowed decorator on `location` (a decorator cannot
// reference a variable); the policy assignment uses it.
var eeaRegions = [
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
]

var prefix = toLower(namePrefix)
var suffix = toLower(uniqueSuffix)

var names = {
  workspace: 'log-${prefix}-${suffix}'
  appInsights: 'appi-${prefix}-${suffix}'
  // Storage: 3-24 lowercase letters and digits, globally unique.
  uploadsStorage: take('st${prefix}u${suffix}', 24)
  hostStorage: take('st${prefix}h${suffix}', 24)
  cosmos: 'cosmos-${prefix}-${suffix}'
  serviceBus: 'sb-${prefix}-${suffix}'
  // Key Vault: 3-24 characters, globally unique, reserved after deletion.
  keyVault: take('kv-${prefix}-${suffix}', 24)
  plan: 'plan-${prefix}-${suffix}'
  functionApp: '${prefix}-func-${suffix}'
  systemTopic: 'evgt-${prefix}-uploads-${suffix}'
  // Communication Services: 1-63 characters; the resource's name is its host name.
  communication: 'acs-${prefix}-${suffix}'
  emailService: 'ecs-${prefix}-${suffix}'
}

var cosmosDatabaseName = 'facet'
var adminKeySecretName = 'facet-admin-key'

// Without a custom domain the participant page and the API share the
// function app's default host.
var appOrigin = 'https://${names.functionApp}.azurewebsites.net'
// Blob Storage CORS allows PUT from this origin only, so a participantOrigin
// that is not an https:// origin without '*' or a path fails the deployment
// with the message below. fail() stays inside the ternary: only the branch
// taken is evaluated, so the empty default passes.
// infra-lint (storage-cors) checks that the guard is there.
var participantOriginIsHttps = startsWith(participantOrigin, 'https://') && !contains(participantOrigin, '*') && length(split(participantOrigin, '/')) == 3
var effectiveParticipantOrigin = empty(participantOrigin) ? appOrigin : (participantOriginIsHttps ? participantOrigin : fail('participantOrigin must be an https:// origin (https://host[:port], no path, no *), not \'${participantOrigin}\''))
var effectivePublicBaseUrl = empty(publicBaseUrl) ? appOrigin : publicBaseUrl

module policy 'modules/policy.bicep' = if (enableAllowedLocationsPolicy) {
  name: 'facet-policy'
  params: {
    allowedLocations: eeaRegions
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'facet-monitoring'
  params: {
    location: location
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    retentionInDays: logRetentionDays
    tags: tags
  }
}

module uploadsStorage 'modules/storage-uploads.bicep' = {
  name: 'facet-storage-uploads'
  params: {
    location: location
    name: names.uploadsStorage
    skuName: uploadsStorageSku
    participantOrigin: effectiveParticipantOrigin
    maxRetentionDays: maxRetentionDays
    cmkKeyUri: cmkKeyUri
    cmkUserAssignedIdentityId: cmkUserAssignedIdentityId
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module hostStorage 'modules/storage-host.bicep' = {
  name: 'facet-storage-host'
  params: {
    location: location
    name: names.hostStorage
    skuName: hostStorageSku
    // WEBSITE_CONTENTSHARE: lowercase, like the platform's own default.
    contentShareName: toLower(names.functionApp)
    deadLetterRetentionDays: deadLetterRetentionDays
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'facet-cosmos'
  params: {
    location: location
    accountName: names.cosmos
    databaseName: cosmosDatabaseName
    serverless: cosmosServerless
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'facet-servicebus'
  params: {
    location: location
    namespaceName: names.serviceBus
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'facet-keyvault'
  params: {
    location: location
    vaultName: names.keyVault
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    adminKeySecretName: adminKeySecretName
    adminKey: adminKey
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module mail 'modules/mail.bicep' = {
  name: 'facet-mail'
  params: {
    communicationServiceName: names.communication
    emailServiceName: names.emailService
    tags: tags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'facet-functionapp'
  params: {
    location: location
    planName: names.plan
    functionAppName: names.functionApp
    planSku: planSku
    alwaysReadyInstances: alwaysReadyInstances
    maximumInstances: maximumInstances
    hostStorageAccountName: hostStorage.outputs.name
    contentShareName: hostStorage.outputs.contentShareName
    appInsightsName: monitoring.outputs.appInsightsName
    uploadsBlobEndpoint: uploadsStorage.outputs.blobEndpoint
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.vaultUri
    adminKeySecretName: adminKeySecretName
    publicBaseUrl: effectivePublicBaseUrl
    mailEndpoint: mail.outputs.endpoint
    mailSenderAddress: mail.outputs.senderAddress
    logLevel: logLevel
    uploadTtl: uploadTtl
    sweepSchedule: sweepSchedule
    allowScmBasicAuth: allowScmBasicAuth
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module eventGridTopic 'modules/eventgrid-topic.bicep' = {
  name: 'facet-eventgrid-topic'
  params: {
    location: location
    topicName: names.systemTopic
    uploadsStorageAccountId: uploadsStorage.outputs.id
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'facet-roles'
  params: {
    functionAppPrincipalId: functionApp.outputs.principalId
    eventGridPrincipalId: eventGridTopic.outputs.principalId
    uploadsStorageAccountName: uploadsStorage.outputs.name
    uploadsContainerName: uploadsStorage.outputs.containerName
    hostStorageAccountName: hostStorage.outputs.name
    deadLetterContainerName: hostStorage.outputs.deadLetterContainerName
    cosmosAccountName: cosmos.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    communicationServiceName: mail.outputs.name
    mailBuiltInRole: mailBuiltInRole
  }
}

output location string = location
output functionAppName string = functionApp.outputs.name
output functionAppId string = functionApp.outputs.id
output functionAppHostName string = functionApp.outputs.defaultHostName
output functionAppPrincipalId string = functionApp.outputs.principalId
output publicBaseUrl string = effectivePublicBaseUrl
output participantOrigin string = effectiveParticipantOrigin
output uploadsStorageAccountName string = uploadsStorage.outputs.name
output uploadsBlobEndpoint string = uploadsStorage.outputs.blobEndpoint
output hostStorageAccountName string = hostStorage.outputs.name
output deadLetterContainerName string = hostStorage.outputs.deadLetterContainerName
output systemTopicName string = eventGridTopic.outputs.name
output cosmosAccountName string = cosmos.outputs.name
output cosmosEndpoint string = cosmos.outputs.endpoint
output cosmosDatabaseName string = cosmos.outputs.databaseName
output serviceBusNamespaceName string = serviceBus.outputs.name
output serviceBusFullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output keyVaultName string = keyVault.outputs.name
output mailEndpoint string = mail.outputs.endpoint
output mailSenderAddress string = mail.outputs.senderAddress
output logAnalyticsWorkspaceId string = monitoring.outputs.workspaceId
output appInsightsName string = monitoring.outputs.appInsightsName
output allowedLocationsPolicyAssigned bool = enableAllowedLocationsPolicy
