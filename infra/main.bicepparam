// Example parameters for infra/main.bicep. Secrets never go in this file:
// the operator key comes from the environment of the shell that deploys.
//
//   export FACET_ADMIN_KEY="$(openssl rand -hex 32)"   # keep it in your password manager
//   az deployment group create -g RG -n facet-main -f infra/main.bicep -p infra/main.bicepparam
using './main.bicep'

// An EEA region; the resource group should be in the same one.
param location = 'westeurope'

param namePrefix = 'facet'

param tags = {
  app: 'facet'
  env: 'prod'
}

// Also keep hand-made resources in this resource group inside the EEA.
param enableAllowedLocationsPolicy = true

// Where participants upload from and where their links point. Empty means
// the function app's own https://<app>.azurewebsites.net; set both when the
// participant page is served from a custom domain, e.g.
//   FACET_PARTICIPANT_ORIGIN=https://study.example.eu
//   FACET_PUBLIC_BASE_URL=https://study.example.eu
param participantOrigin = readEnvironmentVariable('FACET_PARTICIPANT_ORIGIN', '')
param publicBaseUrl = readEnvironmentVariable('FACET_PUBLIC_BASE_URL', '')

// Required; the deployment fails to compile when it is not set.
param adminKey = readEnvironmentVariable('FACET_ADMIN_KEY')

// The lifecycle backstop must be >= the longest settings.maxRetentionDays of any project.
param maxRetentionDays = 365

param logRetentionDays = 30

// West Europe has availability zones, so zone-redundant storage is available.
param uploadsStorageSku = 'Standard_ZRS'
param hostStorageSku = 'Standard_ZRS'

param cosmosServerless = true

param planSku = 'EP1'
param alwaysReadyInstances = 1
param maximumInstances = 10

param logLevel = 'info'
