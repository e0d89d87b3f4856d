// A user-assigned managed identity. main.bicep makes two: the one the function runs as
// (Service Bus, storage, Application Insights and Microsoft Graph) and the one the platform
// deploys the code package with. User-assigned (not system-assigned) so the function's client
// id is known before the app exists and can be written into the app settings and the Teams
// access policy.

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
