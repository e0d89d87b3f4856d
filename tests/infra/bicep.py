"""What the infra tests share: where infra/ is, the role ids and expected assignments, and readers for the pycep trees.

Every .bicep file is parsed with pycep-parser (a Bicep grammar on PyPI); the tests hold the parsed
trees to the deployment's promises. What only a real `az bicep build` and deployment can prove (type
and API-version checks, that Azure accepts each property) is listed in docs/infrastructure.md.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MODULES = INFRA / "modules"
DEPLOY_SCRIPT = INFRA / "deploy.sh"
PACKAGE_SCRIPT = INFRA / "package.sh"
HOST_JSON = REPO_ROOT / "host.json"
EMULATOR_CONFIG = REPO_ROOT / "local" / "servicebus-emulator" / "Config.json"
PYPROJECT = REPO_ROOT / "pyproject.toml"
CI_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


# The settings the Functions host itself reads, on top of the code's APP_SETTINGS.
HOST_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "PYTHON_ENABLE_OPENTELEMETRY",
        "PYTHON_THREADPOOL_THREAD_COUNT",
    }
)


# Built-in role definition ids.
SERVICE_BUS_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SERVICE_BUS_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
SERVICE_BUS_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
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
    "storageTableContributor": (STORAGE_TABLE_DATA_CONTRIBUTOR, "storage", "identityPrincipalId", False),
    # The deployment package: read by its own identity, in its own account's one container (deploy.sh lets it
    # write only while it publishes).
    "deploymentPackageReader": (
        STORAGE_BLOB_DATA_READER,
        "deploymentContainer",
        "deploymentIdentityPrincipalId",
        False,
    ),
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
    "deploymentContainer": ("Microsoft.Storage/storageAccounts/blobServices/containers", "deploymentContainerName"),
    "applicationInsights": ("Microsoft.Insights/components", "applicationInsightsName"),
}

# The principals of the two identities main.bicep creates; any other principal is the deployer's.
MANAGED_IDENTITY_PRINCIPALS = frozenset({"identityPrincipalId", "deploymentIdentityPrincipalId"})


# checkov bundles pycep-parser 0.5.1, whose grammar predates Bicep's `extension` keyword,
# so it cannot read the one module that needs the Microsoft Graph extension. checkov has no
# checks for Microsoft.Graph resources anyway; test_every_bicep_file_parses reads that file
# with the current pycep-parser, and the Graph tests below check what it grants.
CHECKOV_UNPARSEABLE = {MODULES / "graph-app-role.bicep"}


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
