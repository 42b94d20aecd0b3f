// The module: its origin param has no @allowed; what the callers pass
// decides (see ../main.bicep).
param participantOrigin string

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
          allowedOrigins: [ participantOrigin ]
          allowedMethods: [ 'PUT', 'OPTIONS' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
