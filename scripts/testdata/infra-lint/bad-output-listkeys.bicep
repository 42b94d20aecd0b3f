// no-secrets-in-outputs: an account key through listKeys().
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource uploads 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'uploads'
}

output uploadsAccess string = uploads.listKeys().keys[0].value
