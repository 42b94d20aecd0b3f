// app-settings (with --config-vars): most Azure settings missing; the config
// resource has them only partly.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: 'fn'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned, UserAssigned' }
  properties: {
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'FACET_ORT_LIB', value: 'x' }
      ]
    }
  }

  resource settings 'config@2023-12-01' = {
    name: 'appsettings'
    properties: {
      FACET_MODELS_DIR: 'x'
      COSMOS_ENDPOINT: 'x'
    }
  }
}
