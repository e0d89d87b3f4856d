// The storage account the Functions host needs (AzureWebJobsStorage), the blob
// container Flex Consumption deploys the code package from, and the table the bridge
// keeps per-record state in (the last revision applied to each record, so a late or
// replayed message cannot undo a newer one). Shared keys are off: the host, the platform
// and the bridge reach it only with the managed identity.

@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region for the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Name of the blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Name of the table that holds per-record state (the app setting RECORD_STATE_TABLE): 3-63 letters and digits, starting with a letter.')
@minLength(3)
@maxLength(63)
param recordStateTableName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet here, so the Flex Consumption platform reaches the account over its public endpoint; every request still needs an Entra token
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35 (public endpoint, identity-only access)
  // checkov:skip=CKV_AZURE_206: host state and the deployment package are rebuilt by a redeploy, so locally redundant storage is enough
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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The table lives in the host's account rather than in an account of its own: nothing
// more to secure or pay for, and the identity's account-wide Storage Table Data
// Contributor (see rbac.bicep) already covers it.
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource recordStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: recordStateTableName
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output recordStateTableName string = recordStateTable.name
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
