// storage-security: one branch of a ternary turns infrastructure encryption
// off (union(): the last argument with the key wins).
@allowed([
  'westeurope'
])
param location string = 'westeurope'

param cmkEnabled bool = false

var base = { requireInfrastructureEncryption: true }
var withCmk = union(base, { keySource: 'Microsoft.Keyvault' })
var withoutCmk = union(base, { keySource: 'Microsoft.Storage', requireInfrastructureEncryption: false })

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
    encryption: cmkEnabled ? withCmk : withoutCmk
  }
}
