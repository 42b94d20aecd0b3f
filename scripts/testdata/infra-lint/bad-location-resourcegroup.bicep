// eea-location: resource locations not from the guarded param.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan'
  location: resourceGroup().location
}

resource plan2 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan2'
  location: 'westeurope'
}

resource plan3 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan3'
  location: plan.location
}
