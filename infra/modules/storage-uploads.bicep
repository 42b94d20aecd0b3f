// Uploads storage: the only place participant videos live, and only until
// DeleteData (or, failing that, RetentionSweep) removes them.
//
// - No shared keys: the app signs upload links as user-delegation SAS with
//   its managed identity (Storage Blob Delegator), so the account never
//   needs an account key. The host storage account is separate precisely so
//   that this one can keep shared keys off.
// - No hidden copies: blob versioning, blob soft delete, container soft
//   delete and the change feed are off. Soft delete would keep every deleted
//   video recoverable for its retention period, which would break the promise
//   that a deleted video is gone at once (README, "Deletion and retention").
// - A lifecycle rule deletes anything under uploads/ older than the maximum
//   retention: a backstop for a lost deletion message, not the normal path.
// - LRS or ZRS only: every copy stays in the deployment's region. Geo-redundant
//   SKUs (GRS, RA-GRS, GZRS, RA-GZRS) keep another copy in the paired region:
//   one more location to document and to delete from.

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

@description('Origin of the participant page that PUTs videos straight to Blob Storage (scheme://host[:port], no path).')
param participantOrigin string

@description('Videos older than this many days are deleted by the lifecycle rule whatever their project says.')
@minValue(1)
@maxValue(3650)
param maxRetentionDays int

@description('Optional customer-managed key: the key URI (https://<vault>.vault.azure.net/keys/<name>[/<version>]). Empty: platform-managed keys.')
param cmkKeyUri string

@description('Resource id of the user-assigned identity that may wrap/unwrap the customer-managed key (Key Vault Crypto Service Encryption User on the key). Required when cmkKeyUri is set.')
param cmkUserAssignedIdentityId string

@description('Log Analytics workspace for the blob service resource logs.')
param workspaceId string

param tags object

var containerName = 'uploads'
var cmkEnabled = !empty(cmkKeyUri)

// https://<vault>.vault.azure.net/keys/<name>[/<version>] split on '/':
// ['https:', '', '<vault host>', 'keys', '<name>', '<version>'?]. A dummy URI
// keeps the indexes valid when no key is given.
var cmkParts = split(cmkEnabled ? cmkKeyUri : 'https://none.invalid/keys/none', '/')
// No version: the account follows the key's latest version (auto-rotation).
var cmkKeyVersion = length(cmkParts) > 5 ? cmkParts[5] : ''
var cmkKeyName = {
  keyvaulturi: 'https://${cmkParts[2]}'
  keyname: cmkParts[4]
}
var cmkKeyVaultProperties = empty(cmkKeyVersion) ? cmkKeyName : union(cmkKeyName, { keyversion: cmkKeyVersion })

var encryptionBase = {
  // AES-256 twice: the service layer plus the infrastructure layer. This can
  // only be chosen when the account is created.
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

var encryptionWithCmk = union(encryptionBase, {
  keySource: 'Microsoft.Keyvault'
  identity: {
    userAssignedIdentity: cmkUserAssignedIdentityId
  }
  keyvaultproperties: cmkKeyVaultProperties
})
var encryptionWithPlatformKey = union(encryptionBase, {
  keySource: 'Microsoft.Storage'
})
var encryption = cmkEnabled ? encryptionWithCmk : encryptionWithPlatformKey

// The storage account uses a user-assigned identity only to reach the
// customer-managed key; without one it needs no identity at all.
var identityWithCmk = {
  type: 'UserAssigned'
  userAssignedIdentities: {
    '${cmkUserAssignedIdentityId}': {}
  }
}
var identityNone = {
  type: 'None'
}

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  identity: cmkEnabled ? identityWithCmk : identityNone
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // Copies into or out of this account only within our Entra tenant.
    allowedCopyScope: 'AAD'
    // Participants upload from the internet with a short-lived SAS, so the
    // endpoint is public; authorization is per blob (see README).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: encryption
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
  properties: {
    // Off on purpose: versions and soft-deleted blobs would keep deleted
    // videos recoverable, i.e. not deleted.
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
    restorePolicy: {
      enabled: false
    }
    cors: {
      corsRules: [
        {
          // The participant's browser PUTs the video with the SAS URL the
          // consent call returned; nothing else is allowed cross-origin.
          allowedOrigins: [
            participantOrigin
          ]
          allowedMethods: [
            'PUT'
            'OPTIONS'
          ]
          allowedHeaders: [
            'x-ms-blob-type'
            'x-ms-blob-content-type'
            'content-type'
            'x-ms-version'
            'x-ms-date'
            'x-ms-client-request-id'
          ]
          exposedHeaders: [
            'etag'
            'x-ms-request-id'
          ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource uploads 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-01-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'deleteUploadsAfterMaxRetention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              // '<container>/' matches every blob in the uploads container.
              prefixMatch: [
                '${containerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: maxRetentionDays
                }
              }
              // The app never takes snapshots; if anything ever does, they
              // go too.
              snapshot: {
                delete: {
                  daysAfterCreationGreaterThan: maxRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    uploads
  ]
}

// Resource logs of the blob service (reads, writes, deletes). They record the
// caller's IP address, including a participant's upload: see README.md, Deploy to Azure on
// retention.
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
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'
output containerName string = uploads.name
