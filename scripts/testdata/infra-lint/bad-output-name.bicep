// no-secrets-in-outputs: names and strings that say secret.
param accountName string

output storageConnectionString string = 'DefaultEndpointsProtocol=https;AccountName=${accountName}'
output conn string = 'AccountName=${accountName};AccountKey=...'
