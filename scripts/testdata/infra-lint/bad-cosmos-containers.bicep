// cosmos-containers (with --containers): a wrong partition key, a missing
// composite index, and containers left out.
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
      { locationName: location }
    ]
  }

  resource db 'sqlDatabases@2024-05-15' = {
    name: 'facet'
    properties: { resource: { id: 'facet' } }

    resource recordings 'containers@2024-05-15' = {
      name: 'recordings'
      properties: {
        resource: {
          id: 'recordings'
          partitionKey: { paths: [ '/id' ] }
        }
      }
    }
  }
}
