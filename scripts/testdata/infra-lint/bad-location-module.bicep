// eea-location: a param passed on as a module's location has no @allowed.
param region string

module fn 'modules/functionapp.bicep' = {
  name: 'fn'
  params: {
    location: region
  }
}
