// Key Vault: holds the operator key (FACET_ADMIN_KEY), which the function app
// reads through a Key Vault reference with its managed identity.
//
// - RBAC authorization (no access policies): the app gets Key Vault Secrets
//   User in roles.bicep; people get data roles explicitly.
// - Soft delete and purge protection on: a deleted vault or secret stays
//   recoverable for softDeleteRetentionInDays and cannot be purged early.
//   Consequence: after a tear-down the vault name stays reserved for that
//   period (README.md, Deploy to Azure).
// - Public network access enabled: the Elastic Premium app has no virtual
//   network here and resolves the reference over the public endpoint
//   (TLS, Entra ID token, RBAC).

@description('EEA region (the same list as main.bicep).')
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

@description('Vault name (3-24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param vaultName string

@description('Days a deleted vault or secret stays recoverable (and its name reserved).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Name of the secret that holds the operator key; the app setting FACET_ADMIN_KEY references it.')
param adminKeySecretName string

@description('Operator key for POST /api/clients (X-Admin-Key).')
@secure()
param adminKey string

@description('Log Analytics workspace for the vault audit logs.')
param workspaceId string

param tags object

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: adminKeySecretName
  properties: {
    value: adminKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
