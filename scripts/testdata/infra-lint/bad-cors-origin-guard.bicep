// storage-cors: guards that do not rule out '*' (startsWith only), that
// test the wrong thing (contains 'https://'), or that hold on the wrong
// branch (|| instead of &&).
param a string
param b string
param c string

var onlyHttps = startsWith(a, 'https://') ? a : fail('a must be https')
var containsHttps = contains(b, 'https://') && !contains(b, '*') ? b : fail('b must be https')
var either = startsWith(c, 'https://') || !contains(c, '*') ? c : fail('c must be https')

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
          allowedOrigins: [ onlyHttps, containsHttps, either ]
          allowedMethods: [ 'PUT', 'OPTIONS' ]
          allowedHeaders: [ 'x-ms-blob-type', 'x-ms-blob-content-type', 'content-type', 'x-ms-version' ]
          exposedHeaders: [ 'etag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}
