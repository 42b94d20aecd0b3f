// storage-security: two accounts marked as the Functions host account.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

// infra-lint: host-storage
resource host 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'host'
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
}

// infra-lint: host-storage
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
}
