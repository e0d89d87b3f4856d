"""The function app's settings in infra/: exactly the names shared/settings.py reads, its defaults, identity-based
connections, and host.json's concurrency."""

from __future__ import annotations

import json
import re
import sys
import tomllib

from ruamel.yaml import YAML

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
from tests.infra.bicep import (
    CI_WORKFLOW,
    DEPLOY_SCRIPT,
    HOST_JSON,
    HOST_SETTINGS,
    INFRA,
    PYPROJECT,
    REPO_ROOT,
    bicep_app_setting_names,
    function_app_settings,
    host_service_bus,
    module_params,
    parse_bicep,
    parse_bicepparam,
    reference,
    timespan_seconds,
    unwrap_condition,
)


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


def allowed_python_versions() -> list[str]:
    (allowed,) = [
        decorator["argument"]
        for decorator in parse_bicep(INFRA / "main.bicep")["parameters"]["pythonVersion"]["decorators"]
        if decorator["type"] == "allowed"
    ]
    return allowed


def test_infra_allows_exactly_the_pythons_the_code_supports_and_ci_tests() -> None:
    """main.bicep's allowed versions: from pyproject's requires-python up, each one a CI test job runs on."""
    allowed = allowed_python_versions()
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"])
    assert minimum, "requires-python must read >=X.Y"
    assert min(tuple(map(int, version.split("."))) for version in allowed) == tuple(map(int, minimum.groups()))
    matrix = YAML(typ="safe").load(CI_WORKFLOW.read_text())["jobs"]["test"]["strategy"]["matrix"]["python"]
    assert sorted(allowed) == sorted(matrix), "every Python infra may deploy is tested, and no other"


def test_ci_run_runs_the_suite_on_every_python_infra_allows() -> None:
    """.ci/run (the README's test command, and CI's on this machine kind) as well as the workflow's matrix."""
    supported = re.search(r'^supported_pythons="([^"]*)"', (REPO_ROOT / ".ci" / "run").read_text(), re.M)
    assert supported, ".ci/run names no supported_pythons"
    assert sorted(supported.group(1).split()) == sorted(allowed_python_versions())


def test_the_deployed_python_is_allowed_and_this_suite_runs_on_an_allowed_one() -> None:
    main = parse_bicep(INFRA / "main.bicep")["parameters"]["pythonVersion"]["default"]
    deployed = parse_bicepparam(INFRA / "main.bicepparam")["pythonVersion"]
    assert main == deployed, "main.bicep's default and main.bicepparam name the same runtime"
    assert deployed in allowed_python_versions()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in allowed_python_versions()


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
