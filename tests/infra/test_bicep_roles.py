"""Role assignments: least privilege, the narrowest scopes, deterministic names, and the Graph app role."""

from __future__ import annotations

import json

from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    EXPECTED_ROLE_ASSIGNMENTS,
    EXPECTED_SCOPES,
    INFRA,
    MANAGED_IDENTITY_PRINCIPALS,
    MICROSOFT_GRAPH_APP_ID,
    MODULES,
    ONLINE_MEETINGS_READWRITE_ALL,
    SERVICE_BUS_DATA_OWNER,
    STORAGE_QUEUE_DATA_CONTRIBUTOR,
    bicep_files,
    function_app_settings,
    module_params,
    parse_bicep,
    reference,
    resources_of_type,
    unwrap_condition,
    variable,
)


def test_role_assignments_are_least_privilege_and_deterministic() -> None:
    tree = parse_bicep(MODULES / "rbac.bicep")
    assignments = resources_of_type(tree, "Microsoft.Authorization/roleAssignments")
    assert set(assignments) == set(EXPECTED_ROLE_ASSIGNMENTS)
    for symbol, resource in assignments.items():
        role, scope, principal, conditional = EXPECTED_ROLE_ASSIGNMENTS[symbol]
        body, condition = unwrap_condition(resource["config"])
        assert (condition is not None) == conditional, f"{symbol}: conditional should be {conditional}"
        assert body["scope"] == scope, f"{symbol} is scoped to {body['scope']}, not {scope}"
        role_id = body["properties"]["roleDefinitionId"]["function"]
        assert role_id["type"] == "subscription_resource_id"
        assert role_id["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        assert variable(tree, role_id["parameters"]["resource_name_1"]) == role, f"{symbol} grants the wrong role"
        assert body["properties"]["principalId"] == principal
        expected_type = "ServicePrincipal" if principal in MANAGED_IDENTITY_PRINCIPALS else "deployerPrincipalType"
        assert body["properties"]["principalType"] == expected_type
        name = body["name"]["function"]
        assert name["type"] == "guid"
        assert name["parameters"]["base_string"] == {
            "operator": {"type": "property_accessor", "operands": {"operand_1": scope, "operand_2": "id"}}
        }
        assert name["parameters"]["extra_string_1"] == principal
        assert variable(tree, name["parameters"]["extra_string_2"]) == role


def test_role_assignment_scopes_are_the_narrowest_resources() -> None:
    tree = parse_bicep(MODULES / "rbac.bicep")
    for scope, (resource_type, name_param) in EXPECTED_SCOPES.items():
        resource = tree["resources"][scope]
        assert resource["existing"] is True
        assert resource["type"] == resource_type
        assert resource["config"]["name"] == name_param
    # The namespace is only a parent here: nothing is granted on the whole namespace.
    assert not any(
        unwrap_condition(resource["config"])[0].get("scope") == "namespace"
        for resource in resources_of_type(tree, "Microsoft.Authorization/roleAssignments").values()
    )


def test_the_function_identity_cannot_write_its_own_code() -> None:
    """The package sits in an account of its own; only the deployment identity may write it, and nothing else."""
    tree = parse_bicep(MODULES / "rbac.bicep")
    assignments = resources_of_type(tree, "Microsoft.Authorization/roleAssignments")
    by_principal: dict[str, list[str]] = {}
    for resource in assignments.values():
        body, _ = unwrap_condition(resource["config"])
        by_principal.setdefault(body["properties"]["principalId"], []).append(body["scope"])
    assert by_principal["deploymentIdentityPrincipalId"] == ["deploymentContainer"]
    assert "deploymentContainer" not in by_principal["identityPrincipalId"]
    container = tree["resources"]["deploymentContainer"]["config"]
    assert reference(tree["resources"][container["parent"]]["config"]["parent"]) == "deploymentStorage"
    main_rbac = module_params("rbac")
    assert reference(main_rbac["deploymentStorageAccountName"]) == "deploymentStorage.outputs.name"
    assert reference(main_rbac["storageAccountName"]) == "storage.outputs.name"
    assert reference(main_rbac["deploymentIdentityPrincipalId"]) == "deploymentIdentity.outputs.principalId"
    assert reference(module_params("functionApp")["deploymentContainerUrl"]) == "deploymentStorage.outputs.containerUrl"


def test_host_storage_grants_no_queue_role_and_names_no_queue_endpoint() -> None:
    """No blob or queue trigger here: the host needs Blob Data Owner and tables, never queues."""
    tree = parse_bicep(MODULES / "rbac.bicep")
    granted = {variable(tree, name) for name in tree["variables"]}
    assert STORAGE_QUEUE_DATA_CONTRIBUTOR not in granted
    assert "AzureWebJobsStorage__queueServiceUri" not in function_app_settings()


def test_data_owner_is_granted_on_the_bookings_queue_alone_and_can_be_turned_off() -> None:
    """Target-based scaling needs the Manage right; no narrower built-in role carries it for Entra principals."""
    tree = parse_bicep(MODULES / "rbac.bicep")
    owners = []
    for resource in resources_of_type(tree, "Microsoft.Authorization/roleAssignments").values():
        body, condition = unwrap_condition(resource["config"])
        role = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        if variable(tree, role) == SERVICE_BUS_DATA_OWNER:
            owners.append((body["scope"], condition))
    assert owners == [("bookingsQueue", "allowScaleByQueueLength")]
    docs = (INFRA.parent / "docs" / "infrastructure.md").read_text()
    assert "allowScaleByQueueLength" in docs and "Manage" in docs


def test_rbac_names_the_queues_the_service_bus_module_created() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    rbac, _ = unwrap_condition(main["modules"]["rbac"]["config"])
    for param in ("bookingsQueueName", "resultsQueueName", "serviceBusNamespaceName"):
        assert "serviceBus" in json.dumps(rbac["params"][param]), f"rbac.{param} must come from serviceBus"
    assert rbac["params"]["deployerPrincipalId"] == "deployerPrincipalId"
    assert main["parameters"]["deployerPrincipalId"]["default"] == ""


def test_no_role_assignment_outside_rbac_bicep() -> None:
    for path in bicep_files():
        if path.name != "rbac.bicep":
            assert not resources_of_type(parse_bicep(path), "Microsoft.Authorization/roleAssignments"), path.name


def test_graph_app_role_is_online_meetings_for_the_identity_behind_a_parameter() -> None:
    tree = parse_bicep(MODULES / "graph-app-role.bicep")
    assert set(tree["extensions"]) == {"microsoftGraphV1"}
    graph = tree["resources"]["microsoftGraph"]
    assert graph["type"] == "Microsoft.Graph/servicePrincipals" and graph["existing"] is True
    assert variable(tree, graph["config"]["appId"]) == MICROSOFT_GRAPH_APP_ID
    grant = tree["resources"]["onlineMeetingsRole"]
    assert grant["type"] == "Microsoft.Graph/appRoleAssignedTo"
    assert variable(tree, grant["config"]["appRoleId"]) == ONLINE_MEETINGS_READWRITE_ALL
    assert grant["config"]["principalId"] == "principalId"
    main = parse_bicep(INFRA / "main.bicep")
    module = main["modules"]["graphAppRole"]["config"]
    assert module["condition"] == "grantGraphAppRole"
    assert main["parameters"]["grantGraphAppRole"]["default"] is False
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert config["extensions"]["microsoftGraphV1"].startswith("br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:")


def test_deploy_sh_grants_the_same_graph_role() -> None:
    script = DEPLOY_SCRIPT.read_text()
    assert f'ONLINE_MEETINGS_ROLE_ID="{ONLINE_MEETINGS_READWRITE_ALL}"' in script
    assert f'MICROSOFT_GRAPH_APP_ID="{MICROSOFT_GRAPH_APP_ID}"' in script
