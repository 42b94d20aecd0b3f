// cosmos: keys allowed, periodic backup, two regions, old TLS.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: 'cosmos'
  location: location
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: false
    minimalTlsVersion: 'Tls'
    backupPolicy: { type: 'Periodic' }
    locations: [
      { locationName: location, failoverPriority: 0 }
      { locationName: location, failoverPriority: 1 }
    ]
  }
}
