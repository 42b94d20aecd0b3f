// eea-location: a location param allowing a UK region.
@allowed([
  'westeurope'
  'uksouth'
])
param location string = 'westeurope'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan'
  location: location
}
