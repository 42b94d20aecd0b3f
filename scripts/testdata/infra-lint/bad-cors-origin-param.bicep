// storage-cors: an origin param with no @allowed and no guard (and a '*'
// default), and one whose @allowed lists an http:// origin.
param participantOrigin string = '*'

@allowed([
  'https://study.example.eu'
  'http://study.example.eu'
])
param otherOrigin string = 'https://study.example.eu'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'uploads'
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: false
    deleteRetentionPolicy: { enabled: false }
    cors: {
      corsRules: [
        {
          allowedOrigins: [ participantOrigin, otherOrigin ]
          allowedMethods: [ 'PUT', 'OPTIONS' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
