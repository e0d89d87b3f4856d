"""infra/: the Bicep deployment and deploy.sh, checked without Azure or a Bicep compiler.

Every .bicep file is parsed with pycep-parser (a Bicep grammar on PyPI); the parsed trees
are then held to the deployment's security and naming promises: identity-based connections
only, local auth off, the queue settings the retry design needs, least-privilege role
assignments, and app setting names that are exactly the ones shared/settings.py reads.
checkov and shellcheck run as external tools; when one is missing the test skips, except
under CI=true where it fails, so CI can never pass by not looking.

What only a real `az bicep build` and deployment can prove (type and API-version checks,
that Azure accepts each property) is listed in README.md (Deploy to Azure).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from shared.settings import (
    APP_SETTINGS,
    DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_GRAPH_BASE_URL,
    DEFAULT_RECORD_STATE_TABLE,
    DEFAULT_RESULTS_QUEUE,
    LOCAL_ONLY_SETTINGS,
    TUNING_SETTINGS,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
INFRA = REPO_ROOT / "infra"
MODULES = INFRA / "modules"
DEPLOY_SCRIPT = INFRA / "deploy.sh"
HOST_JSON = REPO_ROOT / "host.json"
EMULATOR_CONFIG = REPO_ROOT / "local" / "servicebus-emulator" / "Config.json"

# The settings the Functions host itself reads, on top of the code's APP_SETTINGS.
HOST_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "PYTHON_THREADPOOL_THREAD_COUNT",
    }
)

# Built-in role definition ids.
SERVICE_BUS_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SERVICE_BUS_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
SERVICE_BUS_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
ONLINE_MEETINGS_READWRITE_ALL = "b8bb2037-6e08-44ac-a4ea-4674e010e2a4"
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# Every role assignment in the deployment: symbol -> (role, scope symbol, principal, conditional).
EXPECTED_ROLE_ASSIGNMENTS = {
    "bookingsReceiver": (SERVICE_BUS_DATA_RECEIVER, "bookingsQueue", "identityPrincipalId", False),
    "bookingsQueueLengthReader": (SERVICE_BUS_DATA_OWNER, "bookingsQueue", "identityPrincipalId", True),
    "resultsSender": (SERVICE_BUS_DATA_SENDER, "resultsQueue", "identityPrincipalId", False),
    # The function re-enqueues a long-throttled booking; its own grant, not the deployer's below.
    "bookingsSender": (SERVICE_BUS_DATA_SENDER, "bookingsQueue", "identityPrincipalId", False),
    "storageBlobOwner": (STORAGE_BLOB_DATA_OWNER, "storage", "identityPrincipalId", False),
    "storageQueueContributor": (STORAGE_QUEUE_DATA_CONTRIBUTOR, "storage", "identityPrincipalId", False),
    "storageTableContributor": (STORAGE_TABLE_DATA_CONTRIBUTOR, "storage", "identityPrincipalId", False),
    "telemetryPublisher": (MONITORING_METRICS_PUBLISHER, "applicationInsights", "identityPrincipalId", False),
    "deployerBookingsSender": (SERVICE_BUS_DATA_SENDER, "bookingsQueue", "deployerPrincipalId", True),
    "deployerResultsReceiver": (SERVICE_BUS_DATA_RECEIVER, "resultsQueue", "deployerPrincipalId", True),
    "deployerBookingsReceiver": (SERVICE_BUS_DATA_RECEIVER, "bookingsQueue", "deployerPrincipalId", True),
}

# What each scope symbol in rbac.bicep must be: (resource type, name parameter).
EXPECTED_SCOPES = {
    "bookingsQueue": ("Microsoft.ServiceBus/namespaces/queues", "bookingsQueueName"),
    "resultsQueue": ("Microsoft.ServiceBus/namespaces/queues", "resultsQueueName"),
    "storage": ("Microsoft.Storage/storageAccounts", "storageAccountName"),
    "applicationInsights": ("Microsoft.Insights/components", "applicationInsightsName"),
}

# checkov bundles pycep-parser 0.5.1, whose grammar predates Bicep's `extension` keyword,
# so it cannot read the one module that needs the Microsoft Graph extension. checkov has no
# checks for Microsoft.Graph resources anyway; test_every_bicep_file_parses reads that file
# with the current pycep-parser, and the Graph tests below check what it grants.
CHECKOV_UNPARSEABLE = {MODULES / "graph-app-role.bicep"}


# ---------------------------------------------------------------- parsing helpers


def bicep_files() -> list[Path]:
    """Every Bicep template under infra/."""
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def parse_bicep(path: Path) -> dict[str, Any]:
    """The pycep JSON tree of one .bicep file."""
    return BicepParser().parse(file_path=path)


def parse_bicepparam(path: Path) -> dict[str, Any]:
    """The parameter values of a .bicepparam file as pycep expressions, keyed by name.

    pycep-parser has no grammar for .bicepparam (`using` and value-only `param name = value`
    lines), so each `param name = value` is rewritten to `var name = value`, which shares the
    expression grammar, and parsed as Bicep. The `using` line must name main.bicep.
    """
    text = path.read_text()
    using = re.search(r"^using\s+'([^']+)'\s*$", text, re.M)
    assert using, f"{path.name} has no `using '<template>'` line"
    assert using.group(1) == "main.bicep", f"{path.name} is for {using.group(1)}, not main.bicep"
    body = text[: using.start()] + text[using.end() :]
    assert "var " not in re.sub(r"//.*", "", body), f"{path.name} declares a var; only params are checked here"
    as_bicep, count = re.subn(r"^param\s+(\w+)\s*=", r"var \1 =", body, flags=re.M)
    assert count, f"{path.name} sets no parameters"
    variables = BicepParser().parse(text=as_bicep).get("variables", {})
    return {name: declaration["value"] for name, declaration in variables.items()}


def variable(tree: dict[str, Any], name: str) -> Any:
    """The value of one `var` in a parsed file."""
    return tree["variables"][name]["value"]


def unwrap_condition(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A resource or module body and its `if (...)` condition (None when unconditional)."""
    if set(config) == {"condition", "config"}:
        return config["config"], config["condition"]
    return config, None


def resources_of_type(tree: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Symbol -> resource (pycep form) for every resource of one type in a parsed file."""
    return {
        symbol: resource
        for symbol, resource in tree.get("resources", {}).items()
        if resource["type"].lower() == resource_type.lower()
    }


def properties_of(tree: dict[str, Any], symbol: str) -> dict[str, Any]:
    """The `properties` object of one resource."""
    body, _ = unwrap_condition(tree["resources"][symbol]["config"])
    return body["properties"]


def description(declaration: dict[str, Any]) -> str | None:
    """The @description text of a parameter, or None."""
    for decorator in declaration.get("decorators") or []:
        if decorator["type"] == "description":
            return decorator["argument"]
    return None


def iso8601_minutes(duration: str) -> float:
    """Minutes in a simple ISO 8601 duration such as PT10M, PT1H or P1DT2H."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", duration)
    assert match and duration not in ("P", "PT"), f"{duration!r} is not an ISO 8601 duration"
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return days * 1440 + hours * 60 + minutes + seconds / 60


def timespan_seconds(value: str) -> float:
    """Seconds in a .NET TimeSpan as host.json writes it, such as 00:00:05 or 00:00:00.80."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", value)
    assert match, f"{value!r} is not a hh:mm:ss TimeSpan"
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def reference(expression: Any) -> str:
    """A property access such as serviceBus.outputs.name as that dotted text (else the expression as JSON)."""
    if isinstance(expression, str):
        return expression
    operator = expression.get("operator", {}) if isinstance(expression, dict) else {}
    if operator.get("type") != "property_accessor":
        return json.dumps(expression)
    operands = operator["operands"]
    return f"{reference(operands['operand_1'])}.{reference(operands['operand_2'])}"


def module_params(symbol: str) -> dict[str, Any]:
    """The params main.bicep passes to one module."""
    body, _ = unwrap_condition(parse_bicep(INFRA / "main.bicep")["modules"][symbol]["config"])
    return body["params"]


def host_service_bus() -> dict[str, Any]:
    """host.json's extensions.serviceBus section."""
    return json.loads(HOST_JSON.read_text())["extensions"]["serviceBus"]


def function_app_settings() -> dict[str, Any]:
    """Name -> value (pycep expression) of every app setting the function app gets."""
    site = properties_of(parse_bicep(MODULES / "functionapp.bicep"), "site")
    return {setting["name"]: setting["value"] for setting in site["siteConfig"]["appSettings"]}


def bicep_app_setting_names() -> set[str]:
    """The names of the app settings infra/ gives the function app, for consistency tests."""
    return set(function_app_settings())


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse_bicep(path)
    assert tree.get("resources") or tree.get("modules"), f"{path.name} parsed to nothing"


def test_expected_modules_exist() -> None:
    names = {path.name for path in MODULES.glob("*.bicep")}
    assert names == {
        "alerts.bicep",
        "identity.bicep",
        "storage.bicep",
        "servicebus.bicep",
        "monitoring.bicep",
        "functionapp.bicep",
        "rbac.bicep",
        "graph-app-role.bicep",
    }


def test_main_bicepparam_parses_and_sets_only_declared_parameters() -> None:
    values = parse_bicepparam(INFRA / "main.bicepparam")
    declared = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert set(values) <= set(declared), f"main.bicepparam sets undeclared parameters: {set(values) - set(declared)}"
    required = {name for name, param in declared.items() if param["default"] is None}
    assert required <= set(values), f"main.bicepparam leaves required parameters unset: {required - set(values)}"


def test_every_module_path_exists_and_every_module_param_is_declared() -> None:
    main = parse_bicep(INFRA / "main.bicep")
    for symbol, module in main["modules"].items():
        target = INFRA / module["detail"]["path"]
        assert target.is_file(), f"module {symbol} points at missing {target}"
        body, _ = unwrap_condition(module["config"])
        declared = parse_bicep(target)["parameters"]
        passed = set(body.get("params", {}))
        assert passed <= set(declared), f"module {symbol} passes unknown params {passed - set(declared)}"
        missing = {name for name, param in declared.items() if param["default"] is None} - passed
        assert not missing, f"module {symbol} leaves {missing} unset"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: str(path.relative_to(INFRA)))
def test_every_parameter_has_a_description(path: Path) -> None:
    undocumented = [name for name, param in parse_bicep(path).get("parameters", {}).items() if not description(param)]
    assert not undocumented, f"{path.name}: parameters without @description: {undocumented}"


# ---------------------------------------------------------------- names shared with the code


def test_app_setting_names_are_the_codes_plus_the_hosts() -> None:
    names = bicep_app_setting_names()
    # Tuning knobs keep the code's default as their one source; local-only settings never reach Azure.
    wired = set(APP_SETTINGS) - set(TUNING_SETTINGS) - set(LOCAL_ONLY_SETTINGS)
    assert names == wired | HOST_SETTINGS, (
        f"missing from infra: {sorted(wired | HOST_SETTINGS - names)}; "
        f"unknown to the code or not meant for infra: {sorted(names - wired - HOST_SETTINGS)}"
    )


def test_queue_and_graph_defaults_match_the_code() -> None:
    main = parse_bicep(INFRA / "main.bicep")["parameters"]
    values = parse_bicepparam(INFRA / "main.bicepparam")
    for name, expected in (
        ("bookingsQueueName", DEFAULT_BOOKINGS_QUEUE),
        ("resultsQueueName", DEFAULT_RESULTS_QUEUE),
        ("graphBaseUrl", DEFAULT_GRAPH_BASE_URL),
        ("recordStateTableName", DEFAULT_RECORD_STATE_TABLE),
        ("bookingsMaxDeliveryCount", DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT),
        ("allowedOrganizers", ""),
    ):
        assert main[name]["default"] == expected, f"main.bicep default for {name}"
        assert values[name] == expected, f"main.bicepparam value for {name}"


def test_queue_names_flow_from_the_service_bus_module_into_the_app_settings() -> None:
    settings = function_app_settings()
    assert settings["BOOKINGS_QUEUE"] == "bookingsQueueName"
    assert settings["RESULTS_QUEUE"] == "resultsQueueName"
    assert settings["GRAPH_BASE_URL"] == "graphBaseUrl"
    assert settings["ServiceBusConnection__fullyQualifiedNamespace"] == "serviceBusNamespaceFqdn"
    main = parse_bicep(INFRA / "main.bicep")
    service_bus, _ = unwrap_condition(main["modules"]["serviceBus"]["config"])
    assert service_bus["params"]["bookingsQueueName"] == "bookingsQueueName"
    assert service_bus["params"]["resultsQueueName"] == "resultsQueueName"
    function_app, _ = unwrap_condition(main["modules"]["functionApp"]["config"])
    for param in ("bookingsQueueName", "resultsQueueName", "serviceBusNamespaceFqdn"):
        assert "serviceBus" in json.dumps(function_app["params"][param]), f"functionApp.{param} must come from serviceBus"


def test_python_version_default_is_the_one_the_tests_run_on() -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert parse_bicep(INFRA / "main.bicep")["parameters"]["pythonVersion"]["default"] == running
    assert parse_bicepparam(INFRA / "main.bicepparam")["pythonVersion"] == running


def test_record_state_and_organizer_settings_flow_from_main_bicep() -> None:
    settings = function_app_settings()
    # The same account as AzureWebJobsStorage, reached with the identity: no connection string.
    assert settings["RecordStateStorage__tableServiceUri"] == "storageTableEndpoint"
    assert settings["RECORD_STATE_TABLE"] == "recordStateTableName"
    assert settings["ALLOWED_ORGANIZERS"] == "allowedOrganizers"
    function_app = module_params("functionApp")
    assert reference(function_app["storageTableEndpoint"]) == "storage.outputs.tableEndpoint"
    assert reference(function_app["recordStateTableName"]) == "storage.outputs.recordStateTableName"
    assert function_app["allowedOrganizers"] == "allowedOrganizers"
    assert module_params("storage")["recordStateTableName"] == "recordStateTableName"


def test_host_takes_one_message_per_session_and_lets_idle_sessions_go() -> None:
    host = json.loads(HOST_JSON.read_text())
    service_bus = host["extensions"]["serviceBus"]
    # Per record, in order: one invocation per session at a time.
    assert service_bus["maxConcurrentCallsPerSession"] == 1
    assert service_bus["maxConcurrentSessions"] >= 1
    # A session with nothing more to deliver must free its slot in seconds, not after the
    # default (clientRetryOptions.tryTimeout, one minute).
    assert 0 < timespan_seconds(service_bus["sessionIdleTimeout"]) <= 10
    # The only trigger is session-enabled, so maxConcurrentCalls would be dead configuration;
    # dynamic concurrency would ignore maxConcurrentSessions altogether.
    assert "maxConcurrentCalls" not in service_bus
    assert not host.get("concurrency", {}).get("dynamicConcurrencyEnabled", False)
    assert service_bus["autoCompleteMessages"] is True


def test_worker_threads_cover_the_hosts_concurrency() -> None:
    service_bus = host_service_bus()
    concurrency = service_bus["maxConcurrentSessions"] * service_bus["maxConcurrentCallsPerSession"]
    assert parse_bicep(INFRA / "main.bicep")["parameters"]["workerThreadCount"]["default"] >= concurrency
    assert parse_bicepparam(INFRA / "main.bicepparam")["workerThreadCount"] >= concurrency
    setting = function_app_settings()["PYTHON_THREADPOOL_THREAD_COUNT"]
    assert setting == {"function": {"type": "string", "parameters": {"value_to_convert": "workerThreadCount"}}}


def test_outputs_name_what_operators_and_deploy_sh_need() -> None:
    outputs = set(parse_bicep(INFRA / "main.bicep")["outputs"])
    assert {
        "functionAppName",
        "identityClientId",
        "identityPrincipalId",
        "serviceBusNamespaceFqdn",
        "bookingsQueueName",
        "resultsQueueName",
        "graphAppRoleGrantedByTemplate",
    } <= outputs
    script = DEPLOY_SCRIPT.read_text()
    for name in re.findall(r"deployment_output (\w+)", script):
        assert name in outputs, f"deploy.sh reads output {name}, which main.bicep does not have"


# ---------------------------------------------------------------- identity-based access only


def test_connections_are_identity_based() -> None:
    settings = function_app_settings()
    assert settings["ServiceBusConnection__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    for name in ("ServiceBusConnection__clientId", "AzureWebJobsStorage__clientId", "AZURE_CLIENT_ID"):
        assert settings[name] == "identityClientId", f"{name} must be the user-assigned identity's client id"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    # A bare AzureWebJobsStorage or ServiceBusConnection would be a connection string.
    assert "AzureWebJobsStorage" not in settings
    assert "ServiceBusConnection" not in settings
    assert "RecordStateStorage" not in settings
    secretish = [name for name in settings if re.search(r"connection_?string|key|secret|password", name, re.I)]
    assert secretish == ["APPLICATIONINSIGHTS_CONNECTION_STRING"], secretish


@pytest.mark.parametrize(
    "path",
    [*bicep_files(), INFRA / "main.bicepparam", DEPLOY_SCRIPT],
    ids=lambda path: str(path.relative_to(INFRA)),
)
def test_no_keys_or_connection_strings_anywhere(path: Path) -> None:
    text = path.read_text()
    for forbidden in ("listKeys", "listConnectionStrings", "AccountKey=", "SharedAccessKey", "primaryKey", "@secure"):
        assert forbidden not in text, f"{path.name} contains {forbidden}"


def test_function_app_runs_as_the_one_user_assigned_identity() -> None:
    site = parse_bicep(MODULES / "functionapp.bicep")["resources"]["site"]["config"]
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    deployment = site["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert deployment["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    identities = [
        resource
        for path in bicep_files()
        for resource in parse_bicep(path).get("resources", {}).values()
        if resource["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    ]
    assert len(identities) == 1


# ---------------------------------------------------------------- hardening


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
    assert config["scaleAndConcurrency"] == {
        "instanceMemoryMB": "instanceMemoryMB",
        "maximumInstanceCount": "maximumInstanceCount",
    }
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    policies = resources_of_type(tree, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {policy["config"]["name"]: policy["config"]["properties"]["allow"] for policy in policies.values()} == {
        "ftp": False,
        "scm": False,
    }
    # Flex Consumption rejects these: the runtime is set in functionAppConfig.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & bicep_app_setting_names()


def test_storage_account_has_shared_keys_off() -> None:
    properties = properties_of(parse_bicep(MODULES / "storage.bicep"), "storage")
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


# ---------------------------------------------------------------- queues


def test_bookings_queue_fits_the_retry_budget() -> None:
    tree = parse_bicep(MODULES / "servicebus.bicep")
    bookings = properties_of(tree, "bookingsQueue")
    # The host renews the lock (maxAutoLockRenewalDuration 00:05:00); one invocation's Graph
    # retries take at most 45 s, so a one-minute lock is never outlived between renewals.
    assert iso8601_minutes(bookings["lockDuration"]) * 60 > 45
    assert bookings["maxDeliveryCount"] == "bookingsMaxDeliveryCount"
    assert bookings["deadLetteringOnMessageExpiration"] is True
    assert bookings["defaultMessageTimeToLive"] == "messageTimeToLive"
    main = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert main["bookingsMaxDeliveryCount"]["default"] == 10
    assert iso8601_minutes(main["messageTimeToLive"]["default"]) >= 24 * 60


def test_bookings_queue_keeps_each_records_messages_in_order() -> None:
    bookings = properties_of(parse_bicep(MODULES / "servicebus.bicep"), "bookingsQueue")
    assert bookings["requiresSession"] is True
    # Off: a dead-letter replay re-sends with the original message id and would be dropped.
    assert bookings["requiresDuplicateDetection"] is False
    assert "duplicateDetectionHistoryTimeWindow" not in bookings


def test_max_delivery_count_is_configured_in_one_place() -> None:
    assert module_params("serviceBus")["bookingsMaxDeliveryCount"] == "bookingsMaxDeliveryCount"
    assert parse_bicepparam(INFRA / "main.bicepparam")["bookingsMaxDeliveryCount"] == 10
    values = {
        path.name: parse_bicep(path)["parameters"]["bookingsMaxDeliveryCount"]["default"]
        for path in bicep_files()
        if "bookingsMaxDeliveryCount" in parse_bicep(path).get("parameters", {})
    }
    # Only main.bicep has a value; the modules must be handed it.
    assert values == {"main.bicep": 10, "servicebus.bicep": None, "functionapp.bicep": None}


def test_the_bridge_reads_the_max_delivery_count_the_queue_enforces() -> None:
    service_bus = parse_bicep(MODULES / "servicebus.bicep")
    assert properties_of(service_bus, "bookingsQueue")["maxDeliveryCount"] == "bookingsMaxDeliveryCount"
    output = service_bus["outputs"]["bookingsMaxDeliveryCount"]["value"]
    assert reference(output) == "bookingsQueue.properties.maxDeliveryCount"
    passed = module_params("functionApp")["bookingsMaxDeliveryCount"]
    assert reference(passed) == "serviceBus.outputs.bookingsMaxDeliveryCount"
    setting = function_app_settings()["BOOKINGS_MAX_DELIVERY_COUNT"]
    assert setting == {"function": {"type": "string", "parameters": {"value_to_convert": "bookingsMaxDeliveryCount"}}}


def test_results_queue_detects_duplicates_for_at_least_ten_minutes() -> None:
    results = properties_of(parse_bicep(MODULES / "servicebus.bicep"), "resultsQueue")
    assert results["requiresDuplicateDetection"] is True
    assert iso8601_minutes(results["duplicateDetectionHistoryTimeWindow"]) >= 10
    assert results["deadLetteringOnMessageExpiration"] is True


def test_the_emulator_queues_behave_like_the_azure_ones() -> None:
    [namespace] = json.loads(EMULATOR_CONFIG.read_text())["UserConfig"]["Namespaces"]
    emulated = {queue["Name"]: queue["Properties"] for queue in namespace["Queues"]}
    tree = parse_bicep(MODULES / "servicebus.bicep")
    for name, symbol in ((DEFAULT_BOOKINGS_QUEUE, "bookingsQueue"), (DEFAULT_RESULTS_QUEUE, "resultsQueue")):
        azure = properties_of(tree, symbol)
        assert emulated[name]["RequiresSession"] is azure["requiresSession"], f"{name}: sessions differ from Azure"
        assert emulated[name]["RequiresDuplicateDetection"] is azure["requiresDuplicateDetection"], name
        assert emulated[name]["LockDuration"] == azure["lockDuration"], name
    assert emulated[DEFAULT_BOOKINGS_QUEUE]["MaxDeliveryCount"] == DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT


def test_namespace_output_is_a_host_name_not_an_url() -> None:
    output = parse_bicep(MODULES / "servicebus.bicep")["outputs"]["fullyQualifiedNamespace"]["value"]
    text = json.dumps(output)
    # split(split(serviceBusEndpoint, '//')[1], ':')[0] turns https://host:443/ into host.
    assert "serviceBusEndpoint" in text and '"//"' in text and '":"' in text


# ---------------------------------------------------------------- role assignments


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
        expected_type = "ServicePrincipal" if principal == "identityPrincipalId" else "deployerPrincipalType"
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


# ---------------------------------------------------------------- Microsoft Graph app role


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


# ---------------------------------------------------------------- external tools


def external_tool(name: str, env_var: str, *fallbacks: Path) -> str:
    """Path of a tool from env_var, PATH or a fallback; fail under CI=true, else skip."""
    candidate = os.environ.get(env_var) or shutil.which(name)
    if not candidate:
        candidate = next((str(path) for path in fallbacks if path.is_file()), None)
    if candidate and os.access(candidate, os.X_OK):
        return candidate
    found = f"{candidate} is not executable" if candidate else f"set {env_var}, or put {name} on PATH"
    message = f"{name} not found ({found})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: CI must run this check")
    pytest.skip(message)


def test_checkov_finds_nothing_unsuppressed() -> None:
    checkov = external_tool("checkov", "CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    completed = subprocess.run(
        [checkov, "--directory", str(INFRA), "--framework", "bicep", "--output", "json", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    summary = report["summary"]
    results = report["results"]
    failed = [f"{check['check_id']} {check['resource']} ({check['file_path']})" for check in results["failed_checks"]]
    assert not failed, "checkov failures (fix them, or suppress inline with a reason):\n" + "\n".join(failed)
    unparsed = {Path(path) for path in results.get("parsing_errors", [])}
    assert unparsed <= CHECKOV_UNPARSEABLE, f"checkov could not parse {sorted(map(str, unparsed - CHECKOV_UNPARSEABLE))}"
    assert summary["passed"] > 0 and summary["resource_count"] > 0, summary
    for check in results["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 20, f"{check['check_id']} on {check['resource']} is suppressed without a reason"


def test_deploy_sh_passes_shellcheck() -> None:
    shellcheck = external_tool("shellcheck", "SHELLCHECK")
    completed = subprocess.run([shellcheck, str(DEPLOY_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_deploy_sh_is_valid_bash() -> None:
    completed = subprocess.run(["bash", "-n", str(DEPLOY_SCRIPT)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert DEPLOY_SCRIPT.stat().st_mode & stat.S_IXUSR, "deploy.sh must be executable"
    assert "set -euo pipefail" in DEPLOY_SCRIPT.read_text()


# ---------------------------------------------------------------- deploy.sh against a fake az

FAKE_AZ = r'''#!{python}
"""A stand-in for the Azure CLI: logs every call, keeps the state a real tenant would."""
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_AZ_STATE"])
args = sys.argv[1:]
line = " ".join(args)
with (state / "calls.log").open("a") as log:
    log.write(line + "\n")

def out(text):
    print(text)
    sys.exit(0)

def option(name):
    return args[args.index(name) + 1]

if args[:2] == ["account", "show"]:
    if (state / "signed-out").exists():
        sys.exit(1)
    if "user.type" in line:
        out("user")
    if "[name, id]" in line:
        out("Contoso\n11111111-1111-1111-1111-111111111111")
    sys.exit(0)
if args[:2] == ["bicep", "version"]:
    out("Bicep CLI version 0.30.0")
if args[:2] == ["group", "exists"]:
    out("true" if (state / "group").exists() else "false")
if args[:2] == ["group", "create"]:
    (state / "group").write_text(option("--location"))
    sys.exit(0)
if args[:3] in (["deployment", "group", "create"], ["deployment", "group", "what-if"]):
    env = {k: v for k, v in os.environ.items() if k.startswith("BOOKING_BRIDGE_")}
    (state / ("deploy-env-" + args[2] + ".json")).write_text(json.dumps(env))
    sys.exit(0)
if args[:3] == ["deployment", "group", "show"]:
    outputs = {
        "functionAppName": "func-bookingbridge-abc",
        "identityClientId": "22222222-2222-2222-2222-222222222222",
        "identityPrincipalId": "33333333-3333-3333-3333-333333333333",
        "serviceBusNamespaceFqdn": "sb-bookingbridge-abc.servicebus.windows.net",
        "bookingsQueueName": "bookings",
        "resultsQueueName": "meeting-results",
        "graphAppRoleGrantedByTemplate": os.environ.get("BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE", "false").title(),
    }
    out(outputs[option("--query").split(".")[2]])
if args[:2] == ["ad", "signed-in-user"]:
    out("44444444-4444-4444-4444-444444444444")
if args[:2] == ["cloud", "show"]:
    out("https://graph.microsoft.com/")
if args[:3] == ["ad", "sp", "show"]:
    out("1" if "appRoles" in line else "55555555-5555-5555-5555-555555555555")
if args[:1] == ["rest"] and option("--method") == "get":
    out("1" if (state / "granted").exists() else "0")
if args[:1] == ["rest"] and option("--method") == "post":
    if (state / "forbidden").exists():
        print("Forbidden", file=sys.stderr)
        sys.exit(1)
    (state / "granted").write_text(option("--body"))
    sys.exit(0)
if args[:3] == ["functionapp", "deployment", "source"]:
    import zipfile
    with zipfile.ZipFile(option("--src")) as package:
        (state / "package.json").write_text(json.dumps(sorted(package.namelist())))
    sys.exit(0)
print("fake az: unexpected call: " + line, file=sys.stderr)
sys.exit(2)
'''


# What deploy.sh may run besides az and func: the PATH holds only these, so a real az or func
# on the machine can never be reached.
SCRIPT_TOOLS = ("bash", "cat", "dirname", "mktemp", "paste", "rm", "sleep", "zip")


@pytest.fixture
def fake_azure(tmp_path: Path) -> dict[str, Any]:
    """A copy of deploy.sh in a small project, with a fake `az` and `func` as the only Azure tools."""
    project = tmp_path / "project"
    for path, text in {
        "host.json": '{"version": "2.0"}',
        "function_app.py": "",
        "requirements.txt": "",
        "shared/settings.py": "",
        "shared/__pycache__/settings.cpython-311.pyc": "",
        "tests/test_x.py": "",
        "local.settings.json": "{}",
    }.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    (project / "infra").mkdir()
    shutil.copy2(DEPLOY_SCRIPT, project / "infra" / "deploy.sh")
    shutil.copy2(REPO_ROOT / ".funcignore", project / ".funcignore")
    state = tmp_path / "state"
    state.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in SCRIPT_TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "az").write_text(FAKE_AZ.replace("{python}", sys.executable))
    (bin_dir / "func").write_text(f'#!{shutil.which("bash")}\necho "func $*" >> "{state}/calls.log"\n')
    for tool in ("az", "func"):
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir), "FAKE_AZ_STATE": str(state)}
    env.pop("BOOKING_BRIDGE_RESOURCE_GROUP", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "bash"), str(project / "infra" / "deploy.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def calls() -> list[str]:
        log = state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    return {"run": run, "calls": calls, "state": state, "project": project, "bin": bin_dir}


def test_deploy_sh_help_needs_no_azure(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("--help")
    assert completed.returncode == 0
    assert "--what-if" in completed.stdout and "az group delete" in completed.stdout
    assert fake_azure["calls"]() == []


def test_deploy_sh_says_how_to_sign_in(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "signed-out").touch()
    completed = fake_azure["run"]("--resource-group", "rg-bridge")
    assert completed.returncode != 0
    assert "az login" in completed.stderr


def test_deploy_sh_needs_a_location_for_a_new_resource_group(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("--resource-group", "rg-bridge")
    assert completed.returncode != 0
    assert "--location" in completed.stderr
    assert not any(call.startswith("deployment group create") for call in fake_azure["calls"]())


def test_deploy_sh_deploys_publishes_grants_and_prints_the_teams_step(fake_azure: dict[str, Any]) -> None:
    completed = fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral", "--organizer", "ana@contoso.com")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure["calls"]()
    assert "group create --name rg-bridge --location swedencentral --output none" in calls
    create = next(call for call in calls if call.startswith("deployment group create"))
    assert "--resource-group rg-bridge" in create and "main.bicepparam" in create
    assert "func azure functionapp publish func-bookingbridge-abc --python" in calls
    posts = [call for call in calls if call.startswith("rest --method post")]
    assert len(posts) == 1 and "/servicePrincipals/55555555-5555-5555-5555-555555555555/appRoleAssignedTo" in posts[0]
    granted = json.loads((fake_azure["state"] / "granted").read_text())
    assert granted == {
        "principalId": "33333333-3333-3333-3333-333333333333",
        "resourceId": "55555555-5555-5555-5555-555555555555",
        "appRoleId": ONLINE_MEETINGS_READWRITE_ALL,
    }
    out = completed.stdout
    assert 'New-CsApplicationAccessPolicy -Identity BookingBridge -AppIds "22222222-2222-2222-2222-222222222222"' in out
    assert 'Grant-CsApplicationAccessPolicy -PolicyName BookingBridge -Identity "ana@contoso.com"' in out
    assert "Grant-CsApplicationAccessPolicy -PolicyName BookingBridge -Global" in out
    assert "30 minutes" in out


def test_deploy_sh_twice_changes_nothing_the_second_time(fake_azure: dict[str, Any]) -> None:
    assert fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral").returncode == 0
    first = len(fake_azure["calls"]())
    second = fake_azure["run"]("-g", "rg-bridge", "-l", "swedencentral")
    assert second.returncode == 0, second.stderr
    again = fake_azure["calls"]()[first:]
    assert not any(call.startswith("group create") for call in again)
    assert not any(call.startswith("rest --method post") for call in again)
    assert "Already granted." in second.stdout


def test_deploy_sh_what_if_changes_nothing(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge", "--what-if")
    assert completed.returncode == 0, completed.stderr
    calls = fake_azure["calls"]()
    assert any(call.startswith("deployment group what-if --resource-group rg-bridge") for call in calls)
    changing = ("group create", "deployment group create", "rest --method post", "func ", "functionapp")
    assert not [call for call in calls if call.startswith(changing)]


def test_deploy_sh_leaves_the_graph_role_to_the_template_when_asked(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge", "--graph-in-template", "--skip-code", "--local-access")
    assert completed.returncode == 0, completed.stderr
    env = json.loads((fake_azure["state"] / "deploy-env-create.json").read_text())
    assert env["BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE"] == "true"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID"] == "44444444-4444-4444-4444-444444444444"
    assert env["BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE"] == "User"
    calls = fake_azure["calls"]()
    assert not any(call.startswith("rest") for call in calls)
    assert not any(call.startswith("func") for call in calls)
    assert "Granted by the Bicep deployment." in completed.stdout


def test_deploy_sh_reads_every_environment_variable_main_bicepparam_reads(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    assert fake_azure["run"]("-g", "rg-bridge", "--skip-code").returncode == 0
    exported = set(json.loads((fake_azure["state"] / "deploy-env-create.json").read_text()))
    read = set(re.findall(r"readEnvironmentVariable\('(\w+)'", (INFRA / "main.bicepparam").read_text()))
    assert read <= exported, f"main.bicepparam reads variables deploy.sh never sets: {read - exported}"


def test_deploy_sh_explains_a_graph_grant_it_may_not_make(fake_azure: dict[str, Any]) -> None:
    (fake_azure["state"] / "group").write_text("swedencentral")
    (fake_azure["state"] / "forbidden").touch()
    completed = fake_azure["run"]("-g", "rg-bridge", "--skip-code")
    assert completed.returncode != 0
    assert "Privileged Role Administrator" in completed.stderr
    assert "az rest --method post" in completed.stderr
    # The Teams step is still printed: everything else is deployed.
    assert "New-CsApplicationAccessPolicy" in completed.stdout


def test_deploy_sh_without_core_tools_publishes_a_zip_honouring_funcignore(fake_azure: dict[str, Any]) -> None:
    (fake_azure["bin"] / "func").unlink()
    (fake_azure["state"] / "group").write_text("swedencentral")
    completed = fake_azure["run"]("-g", "rg-bridge")
    assert completed.returncode == 0, completed.stderr
    publish = next(call for call in fake_azure["calls"]() if call.startswith("functionapp deployment source config-zip"))
    assert "--name func-bookingbridge-abc" in publish and "--build-remote true" in publish
    package = json.loads((fake_azure["state"] / "package.json").read_text())
    assert {"host.json", "function_app.py", "requirements.txt", "shared/settings.py"} <= set(package)
    leaked = [name for name in package if name.startswith(("tests/", "infra/", "local.settings")) or "__pycache__" in name]
    assert not leaked, leaked
