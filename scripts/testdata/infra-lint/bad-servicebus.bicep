// servicebus: SAS keys allowed, no minimum TLS.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource bus 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: 'bus'
  location: location
  sku: { name: 'Standard' }
  properties: {
    disableLocalAuth: false
  }
}
