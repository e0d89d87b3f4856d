"""Private networking: off by default; when on, the app joins a virtual network, storage answers on private endpoints
only, Service Bus too when it is Premium (Standard has no private endpoints), and deploy.sh keeps the choice."""

from __future__ import annotations

import json

from tests.infra.bicep import (
    INFRA,
    MODULES,
    module_params,
    parse_bicep,
    parse_bicepparam,
    properties_of,
    reference,
    resources_of_type,
    unwrap_condition,
)
from tests.infra.fake_azure import FakeAzure, fake_azure  # noqa: F401  (the fixture)


def conditional(expression: object, when: str, then: object, otherwise: object) -> bool:
    """Whether a pycep expression is `when ? then : otherwise`."""
    return expression == {
        "operator": {"type": "conditional", "operands": {"condition": when, "true_value": then, "false_value": otherwise}}
    }


def test_private_networking_is_an_opt_in() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    assert main["parameters"]["privateNetworking"]["default"] is False
    assert "BOOKING_BRIDGE_PRIVATE_NETWORKING" in (INFRA / "main.bicepparam").read_text()
    network = main["modules"]["network"]
    assert network["detail"]["path"] == "modules/network.bicep"
    assert network["config"]["condition"] == "privateNetworking"
    for module in ("storage", "deploymentStorage", "serviceBus"):
        assert module_params(module)["privateNetworking"] == "privateNetworking", module
    assert module_params("network")["serviceBusPrivateEndpoint"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "serviceBusSku", "operand_2": "Premium"}}
    }


def test_storage_closes_its_public_endpoint_only_with_private_networking() -> None:
    for module, symbol in (("storage.bicep", "storage"), ("deployment-storage.bicep", "account")):
        properties = properties_of(parse_bicep(MODULES / module), symbol)
        assert conditional(properties["publicNetworkAccess"], "privateNetworking", "Disabled", "Enabled"), module
        assert conditional(properties["networkAcls"]["defaultAction"], "privateNetworking", "Deny", "Allow"), module


def test_service_bus_closes_its_public_endpoint_only_when_premium_and_private() -> None:
    properties = properties_of(parse_bicep(MODULES / "servicebus.bicep"), "namespace")
    condition = {
        "operator": {
            "type": "and",
            "operands": {
                "operand_1": "privateNetworking",
                "operand_2": {"operator": {"type": "equals", "operands": {"operand_1": "sku", "operand_2": "Premium"}}},
            },
        }
    }
    assert conditional(properties["publicNetworkAccess"], condition, "Disabled", "Enabled")


def test_the_app_joins_the_delegated_subnet_that_leaves_through_the_nat_gateway() -> None:
    site = properties_of(parse_bicep(MODULES / "functionapp.bicep"), "site")
    assert conditional(
        site["virtualNetworkSubnetId"],
        {"function": {"type": "empty", "parameters": {"item_to_test": "appSubnetId"}}},
        None,
        "appSubnetId",
    )
    subnet_id = json.dumps(module_params("functionApp")["appSubnetId"])
    assert "Microsoft.Network/virtualNetworks/subnets" in subnet_id and "virtualNetworkName" in subnet_id
    assert "network" in parse_bicep(INFRA / "main.bicep")["modules"]["functionApp"]["config"]["dependsOn"]
    network = parse_bicep(MODULES / "network.bicep")
    (app_subnet, endpoint_subnet) = properties_of(network, "network")["subnets"]
    assert app_subnet["name"] == "appSubnetName"
    assert app_subnet["properties"]["delegations"][0]["properties"]["serviceName"] == "Microsoft.App/environments"
    assert reference(app_subnet["properties"]["natGateway"]["id"]) == "egress.id"
    assert endpoint_subnet["properties"]["privateEndpointNetworkPolicies"] == "Disabled"
    for subnet in (app_subnet, endpoint_subnet):
        assert reference(subnet["properties"]["networkSecurityGroup"]["id"]) == "subnetRules.id"
    assert properties_of(network, "subnetRules")["securityRules"] == [], "the default rules let nothing in"
    assert parse_bicepparam(INFRA / "main.bicepparam")["appSubnetPrefix"] == "10.80.0.0/24"


def test_every_private_endpoint_has_its_dns_zone_linked_to_the_network() -> None:
    network = parse_bicep(MODULES / "network.bicep")
    endpoints = {
        symbol: unwrap_condition(module["config"])
        for symbol, module in network["modules"].items()
        if module["detail"]["path"] == "private-endpoint.bicep"
    }
    targets = {
        symbol: (reference(body["params"]["targetId"]), body["params"]["groupId"]) for symbol, (body, _) in endpoints.items()
    }
    assert targets == {
        "hostBlobEndpoint": ("storage.id", "blob"),
        "hostTableEndpoint": ("storage.id", "table"),
        "deploymentBlobEndpoint": ("deploymentStorage.id", "blob"),
        "serviceBusEndpoint": ("namespace.id", "namespace"),
    }
    assert endpoints["serviceBusEndpoint"][1] == "serviceBusPrivateEndpoint", "only a Premium namespace has one"
    assert all(condition is None for symbol, (_, condition) in endpoints.items() if symbol != "serviceBusEndpoint")
    zones = resources_of_type(network, "Microsoft.Network/privateDnsZones")
    links = resources_of_type(network, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
    linked = {unwrap_condition(link["config"])[0]["parent"] for link in links.values()}
    assert linked == set(zones) == {"blobZone", "tableZone", "serviceBusZone"}
    for link in links.values():
        body, _ = unwrap_condition(link["config"])
        assert body["properties"]["registrationEnabled"] is False
        assert reference(body["properties"]["virtualNetwork"]["id"]) == "network.id"
    endpoint = parse_bicep(MODULES / "private-endpoint.bicep")
    group = endpoint["resources"]["zoneGroup"]["config"]
    assert group["parent"] == "endpoint"
    assert group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"] == "zoneId"


def test_deploy_sh_turns_private_networking_on_keeps_it_and_says_what_standard_leaves_public(
    fake_azure: FakeAzure,  # noqa: F811
) -> None:
    fake_azure.with_resource_group()
    on = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--private-networking")
    kept = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes")
    off = fake_azure.run("-g", "rg-bridge", "--skip-code", "--yes", "--no-private-networking")

    assert on.returncode == kept.returncode == off.returncode == 0, on.stderr + kept.stderr + off.stderr
    assert "Service Bus stays on its public endpoint" in on.stderr, "main.bicepparam's serviceBusSku is Standard"
    assert "Private networking:  on (kept)" in kept.stdout
    assert fake_azure.recorded_parameters()["privateNetworking"] is False
