// storage-cors, across files: the caller passes its own origin param to
// the module unguarded (empty() alone lets '*' and http:// through).
param participantOrigin string = ''

var appOrigin = 'https://facet-fn.azurewebsites.net'

module uploads 'modules/uploads.bicep' = {
  name: 'uploads'
  params: {
    participantOrigin: empty(participantOrigin) ? appOrigin : participantOrigin
  }
}
