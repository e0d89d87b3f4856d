// The storage account the Functions host needs (AzureWebJobsStorage) and the table the bridge
// keeps per-record state in (the last revision applied to each record, so a late or replayed
// message cannot undo a newer one). The deployment package lives apart, in
// deployment-storage.bicep, where the function's identity has no right. Shared keys are off: the
// host and the bridge reach this account only with the function's managed identity.

@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region for the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Name of the table that holds per-record state (the app setting RECORD_STATE_TABLE): 3-63 letters and digits, starting with a letter.')
@minLength(3)
@maxLength(63)
param recordStateTableName string

@description('Reach the account through private endpoints only (network.bicep): its public endpoint is closed.')
param privateNetworking bool

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the public endpoint stays open unless privateNetworking is set (then defaultAction is Deny); every request needs an Entra token either way
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35 (public endpoint unless privateNetworking, identity-only access)
  // checkov:skip=CKV_AZURE_206: locally redundant (three copies in one datacenter) by cost: host state is rebuilt by the host; the record-state table is what a datacenter loss would take (docs/infrastructure.md)
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
output tableEndpoint string = storage.properties.primaryEndpoints.table
output recordStateTableName string = recordStateTable.name
