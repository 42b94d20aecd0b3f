// app-settings (with --config-vars): a key and a local switch set in Azure.
@allowed([
  'westeurope'
  'swedencentral'
])
param location string = 'westeurope'

var settings = [
  { name: 'FACET_ORT_LIB', value: 'x' }
  { name: 'FACET_MODELS_DIR', value: 'x' }
  { name: 'FACET_FFMPEG', value: 'x' }
  { name: 'FACET_FFPROBE', value: 'x' }
  { name: 'FACET_WORKERS', value: '0' }
  { name: 'FACET_ADMIN_KEY', value: 'x' }
  { name: 'FACET_PUBLIC_BASE_URL', value: 'x' }
  { name: 'FACET_LOG_LEVEL', value: 'info' }
  { name: 'FACET_TEMP_DIR', value: '/tmp' }
  { name: 'COSMOS_ENDPOINT', value: 'x' }
  { name: 'COSMOS_DATABASE', value: 'facet' }
  { name: 'FACET_STORAGE_ACCOUNT_URL', value: 'x' }
  { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: 'x' }
  { name: 'FACET_UPLOAD_TTL', value: '2h' }
  { name: 'FACET_ORPHAN_SHARE_MAX', value: '0.1' }
  { name: 'FACET_LIMIT_RUNNING_ANALYSES', value: '2' }
  { name: 'FACET_LIMIT_REANALYSES_PER_HOUR', value: '60' }
  { name: 'FACET_LIMIT_INVITATIONS_PER_DAY', value: '5000' }
  { name: 'FACET_LIMIT_OPEN_UPLOADS', value: '500' }
  { name: 'COSMOS_KEY', value: 'x' }
]

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: 'fn'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned, UserAssigned' }
  properties: {
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(settings, [
        { name: 'FACET_CREATE_RESOURCES', value: 'true' }
      ])
    }
  }
}
