"""Every setting the bridge reads, read in this one module.

The names here are the single source of truth: infra/, README.md and
local.settings.json.example are checked against them by tests/test_settings_consistency.py.
A missing or malformed setting raises ConfigurationError naming the setting, so an
operator sees what to fix instead of a stack trace from deep inside an SDK.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import ConfigurationError

# The trigger's connection name; the host reads ServiceBusConnection__* from it.
SERVICE_BUS_CONNECTION = "ServiceBusConnection"
SERVICE_BUS_NAMESPACE = "ServiceBusConnection__fullyQualifiedNamespace"
SERVICE_BUS_CREDENTIAL = "ServiceBusConnection__credential"
SERVICE_BUS_CLIENT_ID = "ServiceBusConnection__clientId"
BOOKINGS_QUEUE = "BOOKINGS_QUEUE"
RESULTS_QUEUE = "RESULTS_QUEUE"
GRAPH_BASE_URL = "GRAPH_BASE_URL"
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
# Set to "Development" by Core Tools (`func start`); never set in Azure.
FUNCTIONS_ENVIRONMENT = "AZURE_FUNCTIONS_ENVIRONMENT"

DEFAULT_BOOKINGS_QUEUE = "bookings"
DEFAULT_RESULTS_QUEUE = "meeting-results"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"

# The settings an operator may set, in the order README documents them.
APP_SETTINGS = (
    SERVICE_BUS_NAMESPACE,
    SERVICE_BUS_CREDENTIAL,
    SERVICE_BUS_CLIENT_ID,
    BOOKINGS_QUEUE,
    RESULTS_QUEUE,
    GRAPH_BASE_URL,
    AZURE_CLIENT_ID,
)

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class ServiceBusTarget:
    """Where results are published: a namespace reached with the identity, or the local emulator."""

    fully_qualified_namespace: str | None = None
    emulator_connection_string: str | None = None


@dataclass(frozen=True)
class Settings:
    bookings_queue: str
    results_queue: str
    graph_base_url: str
    graph_scope: str
    service_bus: ServiceBusTarget
    managed_identity_client_id: str | None
    developer_credential: bool


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigurationError naming the first bad one."""
    env = os.environ if environ is None else environ
    graph_base_url = _graph_base_url(env)
    return Settings(
        bookings_queue=_queue_name(env, BOOKINGS_QUEUE, DEFAULT_BOOKINGS_QUEUE),
        results_queue=_queue_name(env, RESULTS_QUEUE, DEFAULT_RESULTS_QUEUE),
        graph_base_url=graph_base_url,
        graph_scope=graph_scope_for(graph_base_url),
        service_bus=_service_bus_target(env),
        managed_identity_client_id=_managed_identity_client_id(env),
        developer_credential=_value(env, FUNCTIONS_ENVIRONMENT) == "Development",
    )


def graph_scope_for(graph_base_url: str) -> str:
    """The token scope for a Graph endpoint: its own origin + /.default, so national clouds just work."""
    parts = urlsplit(graph_base_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _queue_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = _value(env, name) or default
    if not _QUEUE_NAME.match(value):
        raise ConfigurationError(
            name,
            f"{value!r} is not a Service Bus queue name (1-260 letters, digits, '.', '-', '_' or '/', "
            "starting and ending with a letter or digit)",
        )
    return value


def _graph_base_url(env: Mapping[str, str]) -> str:
    value = (_value(env, GRAPH_BASE_URL) or DEFAULT_GRAPH_BASE_URL).rstrip("/")
    parts = urlsplit(value)
    example = "such as https://graph.microsoft.com/v1.0 or https://graph.microsoft.us/v1.0"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(GRAPH_BASE_URL, f"{value!r} is not an absolute URL {example}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            GRAPH_BASE_URL, f"{value!r} must use https (plain http is allowed only on loopback, for the simulator)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(GRAPH_BASE_URL, f"{value!r} must not carry credentials, a query or a fragment")
    if not parts.path.endswith("/v1.0"):
        raise ConfigurationError(
            GRAPH_BASE_URL, f"{value!r} must end with /v1.0, the API version this bridge is built against ({example})"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _service_bus_target(env: Mapping[str, str]) -> ServiceBusTarget:
    connection_string = _value(env, SERVICE_BUS_CONNECTION)
    if connection_string is not None:
        # Only the emulator's well-known development string is accepted: real namespaces are
        # reached with the managed identity, so no secret ever sits in app settings.
        if "usedevelopmentemulator=true" not in connection_string.replace(" ", "").lower():
            raise ConfigurationError(
                SERVICE_BUS_CONNECTION,
                "a connection string is accepted only for the local Service Bus emulator "
                "(it must contain UseDevelopmentEmulator=true); for a real namespace remove it "
                f"and set {SERVICE_BUS_NAMESPACE} so the managed identity is used",
            )
        return ServiceBusTarget(emulator_connection_string=connection_string)

    namespace = _value(env, SERVICE_BUS_NAMESPACE)
    if namespace is None:
        raise ConfigurationError(
            SERVICE_BUS_NAMESPACE,
            "is not set: give the namespace host name, such as contoso-bookings.servicebus.windows.net",
        )
    if "://" in namespace or "/" in namespace or not _HOST_NAME.match(namespace):
        raise ConfigurationError(
            SERVICE_BUS_NAMESPACE,
            f"{namespace!r} is not a host name: give only the host, such as contoso-bookings.servicebus.windows.net",
        )
    credential = _value(env, SERVICE_BUS_CREDENTIAL)
    if credential is not None and credential.lower() != "managedidentity":
        raise ConfigurationError(SERVICE_BUS_CREDENTIAL, f"{credential!r} is not supported: the only value is 'managedidentity'")
    return ServiceBusTarget(fully_qualified_namespace=namespace.lower())


def _managed_identity_client_id(env: Mapping[str, str]) -> str | None:
    client_id = _value(env, AZURE_CLIENT_ID)
    trigger_client_id = _value(env, SERVICE_BUS_CLIENT_ID)
    for name, value in ((AZURE_CLIENT_ID, client_id), (SERVICE_BUS_CLIENT_ID, trigger_client_id)):
        if value is not None and not _GUID.match(value):
            raise ConfigurationError(name, f"{value!r} is not a client id (a GUID)")
    if client_id and trigger_client_id and client_id.lower() != trigger_client_id.lower():
        raise ConfigurationError(
            SERVICE_BUS_CLIENT_ID,
            f"names a different identity than {AZURE_CLIENT_ID}; the bridge uses one user-assigned identity for "
            "Service Bus and Graph, so set both to its client id",
        )
    chosen = client_id or trigger_client_id
    return chosen.lower() if chosen else None
