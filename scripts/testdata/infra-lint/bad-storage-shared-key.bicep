// storage-security: the uploads account allows shared keys (only the marked
// host account may), and the marker is not directly above the resource.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

// infra-lint: host-storage

resource uploads 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'uploads'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    encryption: { requireInfrastructureEncryption: true }
  }
}
