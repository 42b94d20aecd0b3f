// Optional guard rail: the built-in "Allowed locations" policy assigned to the
// resource group, with the same EEA list as the templates' @allowed
// decorators. The decorators stop this deployment from choosing another
// region; the policy also stops anyone creating resources here by hand, in
// the portal or with another template, outside the list.
//
// Notes: the built-in definition ignores resources whose location is
// "global"; it does not check the resource group's own location (that is the
// separate "Allowed locations for resource groups" policy, assigned at
// subscription scope). Assigning a policy needs
// Microsoft.Authorization/policyAssignments/write (Owner or Resource Policy
// Contributor).

@description('Regions resources in this resource group may use.')
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
param allowedLocations array

var allowedLocationsDefinitionId = 'e56962a6-4747-49cd-b67b-bf8b01975c4c' // Allowed locations (built-in)

resource allowedLocationsAssignment 'Microsoft.Authorization/policyAssignments@2024-04-01' = {
  name: 'facet-allowed-locations'
  properties: {
    displayName: 'facet: EEA regions only'
    description: 'Resources of the facet deployment must stay in EEA Azure regions (GDPR data residency).'
    policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', allowedLocationsDefinitionId)
    enforcementMode: 'Default'
    parameters: {
      listOfAllowedLocations: {
        value: allowedLocations
      }
    }
    nonComplianceMessages: [
      {
        message: 'facet keeps all data in the EEA: choose one of the allowed EEA regions.'
      }
    ]
  }
}

output id string = allowedLocationsAssignment.id
output name string = allowedLocationsAssignment.name
