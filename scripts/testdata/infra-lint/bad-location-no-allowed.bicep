// eea-location: a location param without @allowed.
param location string = resourceGroup().location

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan'
  location: location
}
