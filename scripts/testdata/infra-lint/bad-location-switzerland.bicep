// eea-location: a param used as a location (not named so) allowing Switzerland,
// and a default outside the list.
@allowed([
  'switzerlandnorth'
  'germanywestcentral'
])
param region string = 'germanywestcentral'

@allowed([
  'northeurope'
])
param secondaryLocation string = 'westeurope'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan'
  location: region
}
