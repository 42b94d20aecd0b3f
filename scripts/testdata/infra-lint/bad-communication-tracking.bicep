// communication: click tracking on, which rewrites the links in mails.
resource mailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: 'ecs'
  location: 'global'
  properties: { dataLocation: 'Europe' }
}

resource domain 'Microsoft.Communication/emailServices/domains@2025-05-01' = {
  parent: mailService
  name: 'AzureManagedDomain'
  location: 'global'
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Enabled'
  }
}
