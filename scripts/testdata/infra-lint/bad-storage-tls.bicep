// storage-security: TLS 1.0 and no infrastructure encryption.
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
    minimumTlsVersion: 'TLS1_0'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
  }
}
