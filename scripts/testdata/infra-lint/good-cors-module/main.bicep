// storage-cors passes across files: one caller guards its origin param with
// fail() (as infra/main.bicep does), the other relies on the module's https
// default.
param participantOrigin string = ''

var appOrigin = 'https://facet-fn.azurewebsites.net'
var originIsHttps = startsWith(participantOrigin, 'https://') && !contains(participantOrigin, '*')
var effectiveOrigin = empty(participantOrigin) ? appOrigin : (originIsHttps ? participantOrigin : fail('participantOrigin must be an https:// origin'))

module uploads 'modules/uploads.bicep' = {
  name: 'uploads'
  params: {
    participantOrigin: effectiveOrigin
  }
}

module uploadsDefault 'modules/uploads.bicep' = {
  name: 'uploads-default'
  params: {}
}
