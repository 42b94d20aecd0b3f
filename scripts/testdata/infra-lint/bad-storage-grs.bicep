// storage-security: geo-redundant SKUs (a literal, and a param allowing one).
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

@allowed([
  'Standard_LRS'
  'Standard_GZRS'
])
param sku string = 'Standard_LRS'

resource a 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'a'
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_RAGRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    encryption: { requireInfrastructureEncryption: true }
  }
}

resource b 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'b'
  location: location
  kind: 'StorageV2'
  sku: { name: sku }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    encryption: { requireInfrastructureEncryption: true }
  }
}
