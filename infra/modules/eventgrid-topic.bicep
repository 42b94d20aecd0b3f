// Event Grid system topic for the uploads storage account: the source of the
// BlobCreated events that start an analysis. The subscription that delivers
// them to the AnalyzeRecording function is a separate step (infra/events.bicep)
// because Event Grid validates a function endpoint when the subscription is
// created, so the code must be published first.
//
// The topic has a system-assigned identity so that it can dead-letter
// undeliverable events into the host storage account with Entra ID
// (deadLetterWithResourceIdentity) instead of a key; roles.bicep grants it
// Storage Blob Data Contributor on the dead-letter container only.

@description('Same region as the uploads account (a system topic lives with its source).')
@allowed([
  'westeurope'
  'northeurope'
  'germanywestcentral'
  'germanynorth'
  'francecentral'
  'francesouth'
  'swedencentral'
  'swedensouth'
  'norwayeast'
  'norwaywest'
  'polandcentral'
  'italynorth'
  'spaincentral'
  'austriaeast'
  'belgiumcentral'
])
param location string

@description('System topic name.')
param topicName string

@description('Resource id of the uploads storage account.')
param uploadsStorageAccountId string

param tags object

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: uploadsStorageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = topic.identity.principalId
