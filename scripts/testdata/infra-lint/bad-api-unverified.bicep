// api-version-pinned: a GA apiVersion the storage rules were not checked against.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource vault 'Microsoft.KeyVault/vaults@2019-09-01' = {
  name: 'kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enablePurgeProtection: true
  }
}
