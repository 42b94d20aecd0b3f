// syntax: an unclosed object.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource bus 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: 'bus'
  location: location
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
