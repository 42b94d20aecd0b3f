// Step 3 of a deployment: the Event Grid subscription that delivers
// BlobCreated events of the uploads container to the AnalyzeRecording
// function. Separate from main.bicep because Event Grid checks a function
// endpoint when the subscription is created: the function must already be
// published (`make package` + config-zip, README.md, Deploy to Azure). Re-running it is safe.
//
// Every value comes from main.bicep's outputs:
//
//   az deployment group create -g RG -n facet-events -f infra/events.bicep \
//     -p systemTopicName=... functionAppName=... \
//        deadLetterStorageAccountName=... deadLetterContainerName=...
//
// AnalyzeRecording only validates the event and enqueues the analysis, so it
// answers well within Event Grid's 30 s; a failed delivery is retried with
// backoff for up to 24 h / 30 attempts and then dead-lettered (with the
// topic's own identity, no key) into the host storage account. RetentionSweep
// finds a recording whose event never arrived and queues it anyway.

targetScope = 'resourceGroup'

@description('Event Grid system topic on the uploads storage account (main.bicep output systemTopicName).')
param systemTopicName string

@description('Function app name (main.bicep output functionAppName).')
param functionAppName string

@description('Host storage account for dead-lettered events (main.bicep output hostStorageAccountName).')
param deadLetterStorageAccountName string

@description('Dead-letter container (main.bicep output deadLetterContainerName).')
param deadLetterContainerName string

@description('Name of the event subscription.')
param subscriptionName string = 'analyze-recording'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource deadLetterStorage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: deadLetterStorageAccountName
}

resource analyzeRecording 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        // functions/AnalyzeRecording/function.json (eventGridTrigger).
        resourceId: '${functionApp.id}/functions/AnalyzeRecording'
        // The Event Grid trigger takes one event per invocation.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      // Only the uploads container; the handler checks the rest (account,
      // upload slot) itself.
      subjectBeginsWith: '/blobServices/default/containers/uploads/blobs/'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output eventSubscriptionName string = analyzeRecording.name
output eventSubscriptionId string = analyzeRecording.id
