// blob-service: versioning and soft delete left to defaults (must be explicit).
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource uploads 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'uploads'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    encryption: { requireInfrastructureEncryption: true }
  }

  resource blobs 'blobServices@2023-05-01' = {
    name: 'default'
    properties: {}
  }
}
