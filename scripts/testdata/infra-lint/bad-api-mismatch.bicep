// api-version-pinned: one type, two apiVersions.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan'
  location: location
  sku: { name: 'Y1' }
}

resource plan2 'Microsoft.Web/serverfarms@2022-09-01' = {
  name: 'plan2'
  location: location
  sku: { name: 'Y1' }
}
