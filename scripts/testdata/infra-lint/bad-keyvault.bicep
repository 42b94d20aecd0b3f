// keyvault: access policies instead of RBAC, no purge protection.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: false
  }
}
