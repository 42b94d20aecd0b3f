// Functions host storage: timer locks, function keys and host coordination
// (AzureWebJobsStorage, reached with the app's managed identity), the Azure
// Files content share of the Elastic Premium plan, and the container where
// Event Grid dead-letters BlobCreated events it could not deliver.
//
// Why a second account, and why it allows shared keys: an Elastic Premium
// app keeps its deployed code in an Azure Files content share that the
// platform mounts with WEBSITE_CONTENTAZUREFILECONNECTIONSTRING, a connection
// string with the account key; that mount has no managed-identity option. So
// this account must allow shared-key access. Keeping it apart from the
// uploads account lets the uploads account (the only one holding videos)
// keep shared keys off. Nothing personal is stored here: code, host state,
// and dead-lettered events that carry only random blob names.
// Otherwise it is hardened like the uploads account: TLS 1.2, HTTPS only,
// no public blob access, infrastructure encryption, LRS/ZRS only.

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

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Replication inside one region only.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param skuName string

@description('Name of the Azure Files share holding the app content (WEBSITE_CONTENTSHARE).')
param contentShareName string

@description('Dead-lettered Event Grid events older than this many days are deleted.')
@minValue(1)
@maxValue(365)
param deadLetterRetentionDays int

@description('Log Analytics workspace for the blob service resource logs.')
param workspaceId string

param tags object

var deadLetterContainerName = 'eventgrid-deadletters'

// infra-lint: host-storage (Elastic Premium content share needs the account key; see the header)
resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Required by the Elastic Premium content share (see the header).
    allowSharedKeyAccess: true
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    allowedCopyScope: 'AAD'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      // AES-256 twice; creation-time only.
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: false
    deleteRetentionPolicy: {
      enabled: false
    }
    containerDeleteRetentionPolicy: {
      enabled: false
    }
    changeFeed: {
      enabled: false
    }
  }
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2025-01-01' = {
  parent: account
  name: 'default'
  properties: {
    // The share holds only the deployed package; a short soft delete lets an
    // accidental share deletion be undone.
    shareDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Created here so that WEBSITE_CONTENTSHARE can be set explicitly: an app
// setting the platform generated itself would be dropped the next time this
// template rewrites the app settings, and the app would not start.
resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2025-01-01' = {
  parent: fileService
  name: contentShareName
  properties: {
    shareQuota: 100
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-01-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'deleteOldDeadLetters'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${deadLetterContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: deadLetterRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    deadLetters
  ]
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
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

output id string = account.id
output name string = account.name
output deadLetterContainerName string = deadLetters.name
output contentShareName string = contentShare.name
