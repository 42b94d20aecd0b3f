// storage-cors: methods the browser never uses (GET, DELETE), and a rule
// without PUT.
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
          allowedMethods: [ 'GET', 'PUT', 'OPTIONS', 'DELETE' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
        {
          allowedOrigins: [ 'https://study.example.eu' ]
          allowedMethods: [ 'OPTIONS' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
