// Private networking, deployed only when main.bicep's privateNetworking is set: a virtual network
// the function app joins (Flex Consumption virtual network integration), private endpoints for
// both storage accounts and, with Service Bus Premium, for the namespace, the private DNS zones
// that resolve their names to those endpoints inside the network, and a NAT gateway through
// which the app reaches what stays public (Microsoft Graph, Microsoft Entra, Application
// Insights ingestion, and Service Bus Standard). Cost and limits: docs/infrastructure.md.

@description('Name of the virtual network; the other resources here are named after it.')
param name string

@description('Azure region of the network, its endpoints and the NAT gateway (the app\'s region).')
param location string

@description('Tags applied to every resource here.')
param tags object

@description('Address space of the network.')
param addressPrefix string

@description('Address range of the app\'s subnet, inside addressPrefix; a /24 leaves room for a Flex Consumption app\'s addresses.')
param appSubnetPrefix string

@description('Address range of the private endpoints\' subnet, inside addressPrefix.')
param endpointSubnetPrefix string

@description('Name of the subnet the app joins, delegated to Flex Consumption (Microsoft.App/environments).')
param appSubnetName string

@description('Name of the host storage account (blob and table endpoints).')
param storageAccountName string

@description('Name of the storage account that holds the deployment package (blob endpoint).')
param deploymentStorageAccountName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Give the namespace a private endpoint: Premium only (Standard namespaces have none).')
param serviceBusPrivateEndpoint bool

var endpointSubnetName = 'private-endpoints'
var storageSuffix = environment().suffixes.storage
// The public cloud's zone name; a national cloud has its own (Azure Private Endpoint DNS zone values).
var serviceBusZoneName = 'privatelink.servicebus.windows.net'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource deploymentStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: deploymentStorageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

// One static address for everything the app sends out: the default outbound access of new
// virtual networks is being retired, and a fixed address is one a partner can allow.
resource egressAddress 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${name}-egress'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource egress 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: egressAddress.id
      }
    ]
  }
}

// Both subnets keep the default rules, which let nothing in from the internet: the app has no
// HTTP function, and the endpoints answer only from inside the network.
resource subnetRules 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource network 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          natGateway: {
            id: egress.id
          }
          networkSecurityGroup: {
            id: subnetRules.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: endpointSubnetName
        properties: {
          addressPrefix: endpointSubnetPrefix
          networkSecurityGroup: {
            id: subnetRules.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource endpointSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: network
  name: endpointSubnetName
}

resource blobZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.blob.${storageSuffix}'
  location: 'global'
  tags: tags
}

resource tableZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.table.${storageSuffix}'
  location: 'global'
  tags: tags
}

resource serviceBusZone 'Microsoft.Network/privateDnsZones@2024-06-01' = if (serviceBusPrivateEndpoint) {
  name: serviceBusZoneName
  location: 'global'
  tags: tags
}

resource blobZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: blobZone
  name: name
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: network.id
    }
  }
}

resource tableZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: tableZone
  name: name
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: network.id
    }
  }
}

resource serviceBusZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = if (serviceBusPrivateEndpoint) {
  parent: serviceBusZone
  name: name
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: network.id
    }
  }
}

module hostBlobEndpoint 'private-endpoint.bicep' = {
  name: 'pe-host-blob'
  params: {
    name: 'pe-${storage.name}-blob'
    location: location
    tags: tags
    subnetId: endpointSubnet.id
    targetId: storage.id
    groupId: 'blob'
    zoneId: blobZone.id
  }
}

module hostTableEndpoint 'private-endpoint.bicep' = {
  name: 'pe-host-table'
  params: {
    name: 'pe-${storage.name}-table'
    location: location
    tags: tags
    subnetId: endpointSubnet.id
    targetId: storage.id
    groupId: 'table'
    zoneId: tableZone.id
  }
}

module deploymentBlobEndpoint 'private-endpoint.bicep' = {
  name: 'pe-deployment-blob'
  params: {
    name: 'pe-${deploymentStorage.name}-blob'
    location: location
    tags: tags
    subnetId: endpointSubnet.id
    targetId: deploymentStorage.id
    groupId: 'blob'
    zoneId: blobZone.id
  }
}

module serviceBusEndpoint 'private-endpoint.bicep' = if (serviceBusPrivateEndpoint) {
  name: 'pe-servicebus'
  params: {
    name: 'pe-${namespace.name}'
    location: location
    tags: tags
    subnetId: endpointSubnet.id
    targetId: namespace.id
    groupId: 'namespace'
    zoneId: resourceId('Microsoft.Network/privateDnsZones', serviceBusZoneName)
  }
  dependsOn: [
    serviceBusZone
  ]
}
