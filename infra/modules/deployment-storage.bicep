// Where Flex Consumption keeps the function's code package: an account of its own, apart from
// the host's (storage.bicep). The function's identity has no right on it; the deployment identity
// may read this one container, and write it only while deploy.sh publishes (rbac.bicep). Shared
// keys are off.

@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region for the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Name of the blob container that holds the deployment package.')
param containerName string

@description('Reach the account through a private endpoint only (network.bicep): its public endpoint is closed.')
param privateNetworking bool

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the public endpoint stays open unless privateNetworking is set (then defaultAction is Deny); every request needs an Entra token either way
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35 (public endpoint unless privateNetworking, identity-only access)
  // checkov:skip=CKV_AZURE_206: the package is written again by every deploy, so locally redundant storage is enough
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      bypass: privateNetworking ? 'None' : 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = account.name
output containerName string = container.name
output containerId string = container.id
output containerUrl string = '${account.properties.primaryEndpoints.blob}${container.name}'
