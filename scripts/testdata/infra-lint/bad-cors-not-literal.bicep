// storage-cors: rules built by a loop, origins by a function call, a method
// from a param without @allowed: none can be checked.
param origins array
param originList string
param method string

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
      corsRules: [for o in origins: {
        allowedOrigins: [ o ]
        allowedMethods: [ 'PUT' ]
        allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
        exposedHeaders: []
        maxAgeInSeconds: 3600
      }]
    }
  }
}

resource other 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'other'
}

resource otherBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: other
  name: 'default'
  properties: {
    isVersioningEnabled: false
    deleteRetentionPolicy: { enabled: false }
    cors: {
      corsRules: [
        {
          allowedOrigins: split(originList, ',')
          allowedMethods: [ method ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: []
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
