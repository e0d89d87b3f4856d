// One private endpoint in the endpoints subnet, and the DNS record that sends the target's
// name to it inside the network (a private DNS zone group).

@description('Name of the private endpoint.')
param name string

@description('Azure region of the endpoint (the network\'s).')
param location string

@description('Tags applied to the endpoint.')
param tags object

@description('Resource id of the subnet the endpoint takes its address from.')
param subnetId string

@description('Resource id of the resource the endpoint reaches (a storage account or a Service Bus namespace).')
param targetId string

@description('Which of the target\'s services: blob, table (storage) or namespace (Service Bus).')
@allowed([
  'blob'
  'table'
  'namespace'
])
param groupId string

@description('Resource id of the private DNS zone the endpoint\'s record goes in.')
param zoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: groupId
        properties: {
          privateLinkServiceId: targetId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: zoneId
        }
      }
    ]
  }
}
