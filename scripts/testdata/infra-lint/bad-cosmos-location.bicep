// eea-location: a Cosmos DB region given as a literal.
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
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    backupPolicy: { type: 'Continuous' }
    locations: [
      { locationName: 'uksouth', failoverPriority: 0 }
    ]
  }
}
