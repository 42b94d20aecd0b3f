// communication: access keys left on, once explicitly and once by default.
resource mail 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: 'acs'
  location: 'global'
  properties: {
    dataLocation: 'Europe'
    disableLocalAuth: false
  }
}

resource mailDefault 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: 'acs2'
  location: 'global'
  properties: {
    dataLocation: 'Europe'
  }
}
