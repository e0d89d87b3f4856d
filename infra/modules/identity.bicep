// The one user-assigned managed identity the function app uses for everything:
// Service Bus, storage, Application Insights and Microsoft Graph. A user-assigned
// identity (not a system-assigned one) so its client id is known before the app
// exists and can be written into the app settings and the Teams access policy.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region for the identity.')
param location string

@description('Tags applied to the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
