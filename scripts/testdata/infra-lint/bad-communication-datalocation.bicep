// communication: mail resources whose data rests outside the EEA (a param
// named like a location would be an eea-location case instead).
@allowed([
  'Europe'
  'Switzerland'
])
param geography string = 'Europe'

resource mailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: 'ecs'
  location: 'global'
  properties: { dataLocation: 'United States' }
}

resource mail 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: 'acs'
  location: 'global'
  properties: {
    dataLocation: geography
    disableLocalAuth: true
  }
}

resource mailNoLocation 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: 'acs2'
  location: 'global'
  properties: {
    disableLocalAuth: true
  }
}
