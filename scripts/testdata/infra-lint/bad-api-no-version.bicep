// api-version-pinned: no apiVersion at all, and a type built by interpolation.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

var t = 'Microsoft.Web/serverfarms'

resource plan 'Microsoft.Web/serverfarms' = {
  name: 'plan'
  location: location
}

resource plan2 '${t}@2023-12-01' = {
  name: 'plan2'
  location: location
}
