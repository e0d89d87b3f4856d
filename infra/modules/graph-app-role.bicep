// Grants the managed identity the Microsoft Graph application permission
// OnlineMeetings.ReadWrite.All (and the optional features' permissions), through the Microsoft
// Graph Bicep extension. Deployed only when main.bicep's grantGraphAppRole is true: the deployer
// then needs the Entra rights to assign Graph app roles (Privileged Role Administrator, or
// AppRoleAssignment.ReadWrite.All with Application.Read.All). Otherwise deploy.sh grants the same
// roles with az rest.
//
// Even with these permissions the identity can create meetings, and read their attendance reports,
// only for organizers a Teams application access policy allows: that step has no API here (see
// docs/infrastructure.md, "The Teams policy step").

extension microsoftGraphV1

@description('Principal (object) id of the managed identity\'s service principal.')
param principalId string

@description('Also grant Calendars.ReadWrite in Entra (calendar mode with calendarAccess entra): it reaches every mailbox of the tenant; with calendarAccess exchange it is never granted here (docs/infrastructure.md).')
param calendarsReadWrite bool = false

@description('Also grant OnlineMeetingArtifact.Read.All (attendance reports): it reads the attendance reports of the meetings of every organizer the Teams application access policy allows (docs/infrastructure.md).')
param onlineMeetingArtifactRead bool = false

// Well-known ids, identical in every tenant: the Microsoft Graph application and its application
// roles. Parameters and variables share one namespace in Bicep, so these names differ from the
// parameters above.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// OnlineMeetings.ReadWrite.All ("Read and create online meetings").
var onlineMeetingsReadWriteAllRoleId = 'b8bb2037-6e08-44ac-a4ea-4674e010e2a4'
// Calendars.ReadWrite, application ("Read and write calendars in all mailboxes").
var calendarsReadWriteRoleId = 'ef54d2bf-783f-4e0f-bca1-3210c0444d99'
// OnlineMeetingArtifact.Read.All, application ("Read online meeting artifacts").
var onlineMeetingArtifactReadAllRoleId = 'df01ed3b-eb61-4eca-9965-6b3d789751b2'

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

resource onlineMeetingsRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: microsoftGraph.id
  appRoleId: onlineMeetingsReadWriteAllRoleId
}

resource calendarsRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (calendarsReadWrite) {
  principalId: principalId
  resourceId: microsoftGraph.id
  appRoleId: calendarsReadWriteRoleId
}

resource onlineMeetingArtifactsRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (onlineMeetingArtifactRead) {
  principalId: principalId
  resourceId: microsoftGraph.id
  appRoleId: onlineMeetingArtifactReadAllRoleId
}

output appRoleAssignmentId string = onlineMeetingsRole.id
