// functionapp: FTP allowed, TLS 1.0, http allowed, no managed identity.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: 'fn'
  location: location
  kind: 'functionapp,linux'
  properties: {
    httpsOnly: false
    siteConfig: {
      minTlsVersion: '1.0'
      ftpsState: 'AllAllowed'
    }
  }
}
