// Every role assignment of the deployment, in one place, each on the
// narrowest scope that works. The app has no keys or connection strings for
// its data services: these assignments are its only access.
//
// Built-in role definition ids are the same in every tenant:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// Role assignments can take a few minutes to take effect; a first start of
// the app may log authorization errors until they do (README.md, Deploy to Azure).

@description('Principal id of the function app system-assigned identity.')
param functionAppPrincipalId string

@description('Principal id of the Event Grid system topic identity (dead-lettering).')
param eventGridPrincipalId string

param uploadsStorageAccountName string
param uploadsContainerName string
param hostStorageAccountName string
param deadLetterContainerName string
param cosmosAccountName string
param serviceBusNamespaceName string
param keyVaultName string

@description('Communication Services resource the app sends mail through (mail.bicep).')
param communicationServiceName string

@description('Assign the built-in Communication and Email Service Owner role instead of the custom send-only role.')
param mailBuiltInRole bool

var roles = {
  // Storage Blob Data Contributor: read, write, delete blobs.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Blob Delegator: get a user delegation key (to sign user-delegation SAS).
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  // Storage Blob Data Owner: blobs and containers, as the Functions host needs.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Table Data Contributor: host diagnostic events in Table storage.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Azure Service Bus Data Sender: send, schedule and cancel scheduled messages.
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Azure Service Bus Data Receiver: receive/complete (the trigger bindings).
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  // Key Vault Secrets User: read secret values (the FACET_ADMIN_KEY reference).
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Communication and Email Service Owner: everything on Communication and
  // Email resources (keys, domains, deletion); the fallback for mail only.
  communicationEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
}

// Cosmos DB Built-in Data Contributor (data plane, not an Azure RBAC role):
// read and write items, run queries; cannot create databases or containers.
var cosmosBuiltInDataContributor = '00000000-0000-0000-0000-000000000002'

resource uploadsAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: uploadsStorageAccountName
}

resource uploadsBlobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' existing = {
  parent: uploadsAccount
  name: 'default'
}

resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' existing = {
  parent: uploadsBlobService
  name: uploadsContainerName
}

resource hostAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: hostStorageAccountName
}

resource hostBlobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' existing = {
  parent: hostAccount
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' existing = {
  parent: hostBlobService
  name: deadLetterContainerName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2025-04-15' existing = {
  name: cosmosAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationServiceName
}

// --- Uploads account ---------------------------------------------------------

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe) on the
// uploads container only: the app reads, lists and deletes videos there and
// nowhere else. A user-delegation SAS can grant no more than this.
resource appUploadsBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploadsContainer.id, functionAppPrincipalId, roles.storageBlobDataContributor)
  scope: uploadsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: read, write, delete videos in uploads'
  }
}

// Storage Blob Delegator (db58b8e5-c6ad-4a2a-8342-4190687cbf4a) on the uploads
// account: the user delegation key is an account-level operation.
resource appUploadsDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploadsAccount.id, functionAppPrincipalId, roles.storageBlobDelegator)
  scope: uploadsAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: user delegation key for upload SAS'
  }
}

// --- Host account (identity-based AzureWebJobsStorage) -----------------------
// The host needs Blob Data Owner (it creates its own containers for keys and
// timer locks) and Table Data Contributor (diagnostic events). Queue access
// is only needed by blob triggers and Durable Functions, which facet does not
// use, so Storage Queue Data Contributor is not granted.

// Storage Blob Data Owner (b7e6dc6d-f1e8-4753-8033-0f276bb0955b).
resource appHostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostAccount.id, functionAppPrincipalId, roles.storageBlobDataOwner)
  scope: hostAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: Functions host storage (blobs)'
  }
}

// Storage Table Data Contributor (0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3).
resource appHostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostAccount.id, functionAppPrincipalId, roles.storageTableDataContributor)
  scope: hostAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: Functions host storage (diagnostic events)'
  }
}

// --- Cosmos DB ---------------------------------------------------------------

// Cosmos DB Built-in Data Contributor (sqlRoleDefinitions/00000000-0000-0000-0000-000000000002)
// on the whole account: the app works on every container of the database.
resource appCosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2025-04-15' = {
  parent: cosmos
  name: guid(cosmos.id, functionAppPrincipalId, cosmosBuiltInDataContributor)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosBuiltInDataContributor}'
    principalId: functionAppPrincipalId
    scope: cosmos.id
  }
}

// --- Service Bus -------------------------------------------------------------

// Azure Service Bus Data Sender (69a216fc-b8fb-44d8-bc22-1f3c2cd27a39).
resource appServiceBusSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, functionAppPrincipalId, roles.serviceBusDataSender)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: send and schedule analysis and deletion messages'
  }
}

// Azure Service Bus Data Receiver (4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0).
resource appServiceBusReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, functionAppPrincipalId, roles.serviceBusDataReceiver)
  scope: serviceBus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: Service Bus triggers (RunAnalysis, DeleteData)'
  }
}

// --- Key Vault ---------------------------------------------------------------

// Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6) on the vault.
resource appKeyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionAppPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: FACET_ADMIN_KEY Key Vault reference'
  }
}

// --- Mail (Communication Services) -------------------------------------------
// No built-in role only sends mail. Microsoft's instructions for sending
// with a Microsoft Entra identity ask for the built-in Communication and
// Email Service Owner role, or for a custom role with
// Microsoft.Communication/CommunicationServices/Read,
// Microsoft.Communication/CommunicationServices/Write and
// Microsoft.Communication/EmailServices/write on the Communication Services
// resource ("Create credentials for SMTP authentication",
// https://learn.microsoft.com/azure/communication-services/quickstarts/email/send-email-smtp/smtp-authentication).
// The custom role is the smaller: no access keys, no deletion, no domain or
// sender changes, no Event Grid filters. (The instructions list the two
// Write actions as required for sending without saying why.)
// mailBuiltInRole switches to the built-in role should a send be refused
// (401/403) with the custom one in place.

// The custom role, defined in this resource group and assignable only here.
// Its display name must be unique in the tenant, hence the suffix.
var mailSenderRoleName = guid(resourceGroup().id, 'facet-mail-sender')

resource mailSenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!mailBuiltInRole) {
  name: mailSenderRoleName
  properties: {
    roleName: 'facet mail sender ${uniqueString(resourceGroup().id)}'
    description: 'Send mail with Azure Communication Services Email using a Microsoft Entra identity (facet app).'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read'
          'Microsoft.Communication/CommunicationServices/Write'
          'Microsoft.Communication/EmailServices/write'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

// Role definitions live at the subscription whatever scope defines them,
// and an assignment names them by that id.
var mailRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', mailBuiltInRole ? roles.communicationEmailServiceOwner : mailSenderRoleName)

// The chosen role on the Communication Services resource only.
resource appMailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, functionAppPrincipalId, mailRoleDefinitionId)
  scope: communication
  dependsOn: [
    mailSenderRole
  ]
  properties: {
    roleDefinitionId: mailRoleDefinitionId
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
    description: 'facet app: send sign-up and invitation mail'
  }
}

// --- Event Grid --------------------------------------------------------------

// Storage Blob Data Contributor (ba92f5b4-2d11-453d-a403-e96b0029c9fe) on the
// dead-letter container only, for the system topic's identity
// (deadLetterWithResourceIdentity in events.bicep).
resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Event Grid system topic: dead-letter undeliverable BlobCreated events'
  }
}
