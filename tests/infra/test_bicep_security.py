"""infra/ keeps its security promises: no keys or connection strings, one user-assigned identity, local auth off."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import (
    DEPLOY_SCRIPT,
    EXPECTED_ROLE_ASSIGNMENTS,
    INFRA,
    MODULES,
    bicep_app_setting_names,
    bicep_files,
    function_app_settings,
    module_params,
    parse_bicep,
    properties_of,
    reference,
    resources_of_type,
    unwrap_condition,
)


@pytest.mark.parametrize(
    "path",
    [*bicep_files(), INFRA / "main.bicepparam", DEPLOY_SCRIPT],
    ids=lambda path: str(path.relative_to(INFRA)),
)
def test_no_keys_or_connection_strings_anywhere(path: Path) -> None:
    text = path.read_text()
    for forbidden in ("listKeys", "listConnectionStrings", "AccountKey=", "SharedAccessKey", "primaryKey", "@secure"):
        assert forbidden not in text, f"{path.name} contains {forbidden}"


def test_function_app_runs_as_its_identity_and_deploys_with_another() -> None:
    """The connections name the function's identity; the package is read and written with the deployment identity."""
    site = parse_bicep(MODULES / "functionapp.bicep")["resources"]["site"]["config"]
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'", "'${deploymentIdentityId}'"]
    deployment = site["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert deployment["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "deploymentIdentityId",
    }
    # No setting hands the bridge the deployment identity: every client id is the function's.
    client_ids = {name: value for name, value in function_app_settings().items() if "clientid" in name.lower()}
    assert client_ids and set(client_ids.values()) == {"identityClientId"}, client_ids
    main = parse_bicep(INFRA / "main.bicep")
    function_app = module_params("functionApp")
    assert reference(function_app["identityId"]) == "identity.outputs.id"
    assert reference(function_app["deploymentIdentityId"]) == "deploymentIdentity.outputs.id"
    identity_modules = {
        symbol: unwrap_condition(module["config"])[0]["params"]["name"]
        for symbol, module in main["modules"].items()
        if module["detail"]["path"] == "modules/identity.bicep"
    }
    assert set(identity_modules) == {"identity", "deploymentIdentity"}
    assert len(set(identity_modules.values())) == 2, identity_modules
    identities = [
        resource
        for path in bicep_files()
        for resource in parse_bicep(path).get("resources", {}).values()
        if resource["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    ]
    assert len(identities) == 1, "one identity module, used twice"


def test_function_app_is_flex_consumption_python_and_locked_down() -> None:
    tree = parse_bicep(MODULES / "functionapp.bicep")
    plan = tree["resources"]["plan"]["config"]
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = properties_of(tree, "site")
    assert tree["resources"]["site"]["config"]["kind"] == "functionapp,linux"
    assert site["httpsOnly"] is True
    assert site["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["siteConfig"]["ftpsState"] == "Disabled"
    config = site["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    scale = {name: value for name, value in config["scaleAndConcurrency"].items() if name != "alwaysReady"}
    assert scale == {"instanceMemoryMB": "instanceMemoryMB", "maximumInstanceCount": "maximumInstanceCount"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    policies = resources_of_type(tree, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {policy["config"]["name"]: policy["config"]["properties"]["allow"] for policy in policies.values()} == {
        "ftp": False,
        "scm": False,
    }
    # Flex Consumption rejects these: the runtime is set in functionAppConfig.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & bicep_app_setting_names()


@pytest.mark.parametrize(("module", "symbol"), [("storage.bicep", "storage"), ("deployment-storage.bicep", "account")])
def test_storage_accounts_have_shared_keys_off(module: str, symbol: str) -> None:
    properties = properties_of(parse_bicep(MODULES / module), symbol)
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["defaultToOAuthAuthentication"] is True


def test_record_state_table_lives_in_the_host_storage_account() -> None:
    tree = parse_bicep(MODULES / "storage.bicep")
    [service] = resources_of_type(tree, "Microsoft.Storage/storageAccounts/tableServices").values()
    assert service["config"] == {"parent": "storage", "name": "default"}
    tables = resources_of_type(tree, "Microsoft.Storage/storageAccounts/tableServices/tables")
    assert {symbol: table["config"] for symbol, table in tables.items()} == {
        "recordStateTable": {"parent": "tableService", "name": "recordStateTableName"}
    }
    assert reference(tree["outputs"]["recordStateTableName"]["value"]) == "recordStateTable.name"
    # Covered by the account-wide Storage Table Data Contributor the host already needs.
    assert EXPECTED_ROLE_ASSIGNMENTS["storageTableContributor"][1] == "storage"


def test_service_bus_has_local_auth_off() -> None:
    tree = parse_bicep(MODULES / "servicebus.bicep")
    properties = properties_of(tree, "namespace")
    assert properties["disableLocalAuth"] is True
    assert properties["minimumTlsVersion"] == "1.2"
    assert tree["parameters"]["sku"]["decorators"][1] == {"type": "allowed", "argument": ["Standard", "Premium"]}
    assert parse_bicep(INFRA / "main.bicep")["parameters"]["serviceBusSku"]["default"] == "Standard"
    assert not resources_of_type(tree, "Microsoft.ServiceBus/namespaces/AuthorizationRules")
    assert not resources_of_type(tree, "Microsoft.ServiceBus/namespaces/queues/authorizationRules")


def test_application_insights_and_log_analytics_have_local_auth_off() -> None:
    tree = parse_bicep(MODULES / "monitoring.bicep")
    assert properties_of(tree, "applicationInsights")["DisableLocalAuth"] is True
    assert properties_of(tree, "workspace")["features"]["disableLocalAuth"] is True
