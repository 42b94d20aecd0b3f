// storage-cors: the first rule is fine, a second one opens GET to any
// http:// origin; every rule must pass.
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
          allowedOrigins: [ 'https://study.example.eu' ]
          allowedMethods: [ 'PUT', 'OPTIONS' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
        {
          allowedOrigins: [ 'http://study.example.eu' ]
          allowedMethods: [ 'GET', 'PUT' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
