// Monitoring: one Log Analytics workspace (in the deployment's EEA region)
// and a workspace-based Application Insights component. Every diagnostic
// setting in the other modules sends its logs here, so logs stay in the
// same region as the data they describe.
//
// Outputs are ids and names only: the Application Insights connection string
// is read by the function app module from the resource itself, so it never
// appears in deployment outputs.

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

@description('Log Analytics workspace name.')
param workspaceName string

@description('Application Insights component name.')
param appInsightsName string

@description('Days the workspace keeps logs (30 is the PerGB2018 minimum and the documented default).')
@minValue(30)
@maxValue(730)
param retentionInDays int

param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Readers need rights on the resource whose logs they query, not on
      // the whole workspace.
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    // Workspace-based: telemetry is stored in the workspace above and follows
    // its retention.
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // Keep the default: client IP addresses are masked before storage.
    DisableIpMasking: false
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
