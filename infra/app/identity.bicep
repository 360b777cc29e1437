// The broker's one credential: a user-assigned managed identity. It outlives the Function App, so
// role assignments and the Entra federated credential (App Service Authentication) stay valid
// across app re-creation, and every grant in app/rbac.bicep names exactly this principal.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
