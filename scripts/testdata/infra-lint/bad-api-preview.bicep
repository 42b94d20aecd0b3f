// api-version-pinned: a preview apiVersion.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource bus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: 'bus'
  location: location
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}
