// Grants the managed identity the Microsoft Graph application permission
// OnlineMeetings.ReadWrite.All, through the Microsoft Graph Bicep extension. Deployed only
// when main.bicep's grantGraphAppRole is true: the deployer then needs the Entra rights to
// assign Graph app roles (Privileged Role Administrator, or AppRoleAssignment.ReadWrite.All
// with Application.Read.All). Otherwise deploy.sh grants the same role with az rest.
//
// Even with this permission the identity can create meetings only for organizers a Teams
// application access policy allows: that step has no API here (see infra/README.md).

extension microsoftGraphV1

@description('Principal (object) id of the managed identity\'s service principal.')
param principalId string

// Well-known ids, identical in every tenant: the Microsoft Graph application and its
// OnlineMeetings.ReadWrite.All application role ("Read and create online meetings").
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
var onlineMeetingsReadWriteAll = 'b8bb2037-6e08-44ac-a4ea-4674e010e2a4'

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

resource onlineMeetingsRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: microsoftGraph.id
  appRoleId: onlineMeetingsReadWriteAll
}

output appRoleAssignmentId string = onlineMeetingsRole.id
