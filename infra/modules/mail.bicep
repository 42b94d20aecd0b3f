// Mail: Azure Communication Services Email, which sends the portal's sign-up
// and invitation links (internal/acsemail; FACET_MAIL_ENDPOINT and
// FACET_MAIL_SENDER in functionapp.bicep).
//
// - An Email Communication Service with an Azure-managed domain
//   (<guid>.azurecomms.net, verified by Azure, sender DoNotReply), linked to
//   a Communication Services resource through which the app sends.
// - Residency: these types have no region (location 'global'); where their
//   data rests is dataLocation, 'Europe', which keeps processing and storage
//   of personal data in the EU Data Boundary
//   (https://learn.microsoft.com/azure/communication-services/concepts/european-union-data-boundary).
//   infra-lint checks it.
// - disableLocalAuth: the resource's access keys do not work; the app sends
//   with its managed identity (Entra ID token) and the role in roles.bicep.
// - userEngagementTracking 'Disabled': tracking rewrites links to count
//   clicks, and a sign-up link must reach nobody but its recipient.
// - An Azure-managed domain sends very little: about 5 mails a minute and
//   10 an hour per subscription, with no increase available (Service
//   limits for Azure Communication Services). Enough to try the portal; for
//   production link a verified custom domain (README.md, Deploy to Azure).

@description('Communication Services resource name (1-63 letters, digits, hyphens and underscores, globally unique: it is the host name).')
@minLength(1)
@maxLength(63)
param communicationServiceName string

@description('Email Communication Service resource name (1-63 letters, digits and hyphens).')
@minLength(1)
@maxLength(63)
param emailServiceName string

param tags object

resource emailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: 'Europe'
  }
}

// The name of an Azure-managed domain must be 'AzureManagedDomain'.
resource domain 'Microsoft.Communication/emailServices/domains@2025-05-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: 'Europe'
    linkedDomains: [
      domain.id
    ]
    disableLocalAuth: true
  }
}

output name string = communication.name
// FACET_MAIL_ENDPOINT: https:// and the resource's host name.
output endpoint string = 'https://${communication.properties.hostName}'
// FACET_MAIL_SENDER: the sender username every Azure-managed domain has,
// at the domain's envelope (MAIL FROM) domain.
output senderAddress string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'
