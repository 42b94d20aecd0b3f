// storage-security: a required value that is a param without @allowed, and
// properties built by a function call.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

param httpsOnly bool = true

resource a 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'a'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: httpsOnly
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    encryption: { requireInfrastructureEncryption: true }
  }
}

resource b 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'b'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: union({ minimumTlsVersion: 'TLS1_2' }, {})
}
