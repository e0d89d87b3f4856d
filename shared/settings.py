"""Every setting the bridge reads, read in this one module.

The names here are the single source of truth: infra/, docs/operations.md and
local.settings.json.example are checked against them by tests/test_settings_consistency.py.
A missing or malformed setting raises ConfigurationError naming the setting, so an
operator sees what to fix instead of a stack trace from deep inside an SDK.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.errors import ConfigurationError
from shared.identifiers import GUID
from shared.organizer_policy import OrganizerPolicy, parse_organizer_policy

# The trigger's connection name; the host reads ServiceBusConnection__* from it.
SERVICE_BUS_CONNECTION = "ServiceBusConnection"
SERVICE_BUS_NAMESPACE = "ServiceBusConnection__fullyQualifiedNamespace"
SERVICE_BUS_CREDENTIAL = "ServiceBusConnection__credential"
SERVICE_BUS_CLIENT_ID = "ServiceBusConnection__clientId"
BOOKINGS_QUEUE = "BOOKINGS_QUEUE"
RESULTS_QUEUE = "RESULTS_QUEUE"
GRAPH_BASE_URL = "GRAPH_BASE_URL"
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
# Per-record state (last applied revision, cancellation) in Azure Table storage: the identity
# reaches the table service at this URI; locally RECORD_STATE_CONNECTION may hold Azurite's string.
RECORD_STATE_CONNECTION = "RecordStateStorage"
RECORD_STATE_TABLE_SERVICE_URI = "RecordStateStorage__tableServiceUri"
RECORD_STATE_TABLE = "RECORD_STATE_TABLE"
# The bookings queue's maxDeliveryCount, passed in by infra from the same parameter.
BOOKINGS_MAX_DELIVERY_COUNT = "BOOKINGS_MAX_DELIVERY_COUNT"
ALLOWED_ORGANIZERS = "ALLOWED_ORGANIZERS"
GRAPH_RETRY_BUDGET_SECONDS = "GRAPH_RETRY_BUDGET_SECONDS"
MAX_THROTTLE_REQUEUES = "MAX_THROTTLE_REQUEUES"
# Calendar mode (issue 15): bookings with `calendar` become Outlook events; off unless the operator turns it on,
# because it needs Calendars.ReadWrite, a permission over mailboxes, not only meetings.
CALENDAR_EVENTS_ENABLED = "CALENDAR_EVENTS_ENABLED"
# Set to "Development" by Core Tools (`func start`); an operator could set it in Azure too.
FUNCTIONS_ENVIRONMENT = "AZURE_FUNCTIONS_ENVIRONMENT"
# Set by the platform on every Azure Functions (App Service) instance, never by Core Tools: where one is present
# the process runs in Azure, whatever FUNCTIONS_ENVIRONMENT says, and only the managed identity is used (issue 13).
AZURE_INSTANCE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME")
# Development only: Graph signs in on its own (the simulator's identity endpoint, or an app registration of a
# test tenant with a certificate) while Service Bus and the state table keep the developer's sign-in (issue 13).
# Names no SDK reads: the Functions host reads local.settings.json too, and its trigger would take the simulator's
# tokens for Service Bus if they were IDENTITY_ENDPOINT and IDENTITY_HEADER.
GRAPH_CREDENTIAL = "GRAPH_CREDENTIAL"
GRAPH_IDENTITY_ENDPOINT = "GRAPH_IDENTITY_ENDPOINT"
GRAPH_IDENTITY_HEADER = "GRAPH_IDENTITY_HEADER"
GRAPH_TENANT_ID = "GRAPH_TENANT_ID"
GRAPH_CLIENT_ID = "GRAPH_CLIENT_ID"
GRAPH_CERTIFICATE_PATH = "GRAPH_CERTIFICATE_PATH"
GRAPH_SIGN_IN_SETTINGS = (
    GRAPH_CREDENTIAL,
    GRAPH_IDENTITY_ENDPOINT,
    GRAPH_IDENTITY_HEADER,
    GRAPH_TENANT_ID,
    GRAPH_CLIENT_ID,
    GRAPH_CERTIFICATE_PATH,
)
# Telemetry goes to Application Insights when its connection string is set (shared.telemetry). The Python
# worker configures the same exporter itself when PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is true, but
# without the bridge's choices; then the bridge leaves it to the worker, so it is configured once.
APPLICATIONINSIGHTS_CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
# Read by the exporter, not the bridge: ingestion signs in with the managed identity it names (infra sets it).
APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"

DEFAULT_BOOKINGS_QUEUE = "bookings"
DEFAULT_RESULTS_QUEUE = "meeting-results"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_RECORD_STATE_TABLE = "bookingstate"
DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT = 10
# Well inside the bookings queue's 1-minute lock, which the host renews for up to 5 minutes.
DEFAULT_GRAPH_RETRY_BUDGET_SECONDS = 45.0
DEFAULT_MAX_THROTTLE_REQUEUES = 5

# The settings an operator may set, in the order docs/operations.md documents them.
APP_SETTINGS = (
    SERVICE_BUS_NAMESPACE,
    SERVICE_BUS_CREDENTIAL,
    SERVICE_BUS_CLIENT_ID,
    BOOKINGS_QUEUE,
    RESULTS_QUEUE,
    GRAPH_BASE_URL,
    AZURE_CLIENT_ID,
    RECORD_STATE_TABLE_SERVICE_URI,
    RECORD_STATE_CONNECTION,
    RECORD_STATE_TABLE,
    BOOKINGS_MAX_DELIVERY_COUNT,
    ALLOWED_ORGANIZERS,
    GRAPH_RETRY_BUDGET_SECONDS,
    MAX_THROTTLE_REQUEUES,
    *GRAPH_SIGN_IN_SETTINGS,
    APPLICATIONINSIGHTS_CONNECTION_STRING,
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY,
    CALENDAR_EVENTS_ENABLED,
)
# Settings infra leaves at the code's default: tuning knobs an operator may set, not wiring.
TUNING_SETTINGS = (GRAPH_RETRY_BUDGET_SECONDS, MAX_THROTTLE_REQUEUES)
# Local-only settings: infra never sets them (Azure uses the identity-based form).
LOCAL_ONLY_SETTINGS = (RECORD_STATE_CONNECTION, *GRAPH_SIGN_IN_SETTINGS)

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_LOOPBACK_NAMES = {"localhost"}
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
# Azurite's well-known development account: the only storage account a connection string may name.
_AZURITE_ACCOUNT = "devstoreaccount1"


@dataclass(frozen=True)
class ServiceBusTarget:
    """Where results are published: a namespace reached with the identity, or the local emulator."""

    fully_qualified_namespace: str | None = None
    emulator_connection_string: str | None = None


@dataclass(frozen=True)
class RecordStateTarget:
    """Where per-record state lives: a table service reached with the identity, or Azurite locally."""

    table_service_uri: str | None = None
    emulator_connection_string: str | None = None

    def require(self) -> RecordStateTarget:
        """This target, or ConfigurationError if neither form is set (only the function needs the table)."""
        if self.table_service_uri is None and self.emulator_connection_string is None:
            raise ConfigurationError(
                RECORD_STATE_TABLE_SERVICE_URI,
                "is not set: give the storage account's table endpoint, such as https://contosobridge.table.core.windows.net",
            )
        return self


@dataclass(frozen=True)
class SimulatorIdentity:
    """Graph's token from a local App Service-style identity endpoint: the project's simulator."""

    endpoint: str
    header: str = field(repr=False)


@dataclass(frozen=True)
class CertificateSignIn:
    """Graph's token for an app registration of a test tenant, signed in with its certificate (PEM or PKCS12)."""

    tenant_id: str
    client_id: str
    certificate_path: str


GraphSignIn = SimulatorIdentity | CertificateSignIn


@dataclass(frozen=True)
class QueueSettings:
    """The Service Bus target and the two queue names, for code that only talks to the queues."""

    service_bus: ServiceBusTarget
    bookings_queue: str
    results_queue: str


@dataclass(frozen=True)
class Settings:
    bookings_queue: str
    results_queue: str
    graph_base_url: str
    graph_scope: str
    service_bus: ServiceBusTarget
    managed_identity_client_id: str | None
    developer_credential: bool
    record_state: RecordStateTarget = RecordStateTarget()
    record_state_table: str = DEFAULT_RECORD_STATE_TABLE
    max_delivery_count: int = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
    organizer_policy: OrganizerPolicy = field(default_factory=OrganizerPolicy)
    graph_retry_budget_seconds: float = DEFAULT_GRAPH_RETRY_BUDGET_SECONDS
    max_throttle_requeues: int = DEFAULT_MAX_THROTTLE_REQUEUES
    # Development only: Graph's own sign-in; None means Graph uses the process's one credential.
    graph_sign_in: GraphSignIn | None = None
    calendar_events_enabled: bool = False


@dataclass(frozen=True)
class TelemetrySettings:
    """Where the bridge exports telemetry itself: None when nowhere, or when the worker does it."""

    azure_monitor_connection_string: str | None


@dataclass(frozen=True)
class ResultRoute:
    """Just what publishing a result needs: enough to answer a booking while another setting is broken."""

    service_bus: ServiceBusTarget
    results_queue: str
    max_delivery_count: int
    managed_identity_client_id: str | None
    developer_credential: bool
    graph_sign_in: GraphSignIn | None = None


def load_result_route(environ: Mapping[str, str] | None = None) -> ResultRoute:
    """The settings a result is published with; a malformed BOOKINGS_MAX_DELIVERY_COUNT counts as the default."""
    env = os.environ if environ is None else environ
    try:
        max_delivery_count = _integer(env, BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, 1, 2000)
    except ConfigurationError:
        max_delivery_count = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
    developer = _developer(env)
    try:
        graph_sign_in = _graph_sign_in(env, developer)
    except ConfigurationError:
        graph_sign_in = None  # then the pipeline was never built, and no Graph credential changed the environment
    return ResultRoute(
        service_bus=_service_bus_target(env),
        results_queue=_queue_name(env, RESULTS_QUEUE, DEFAULT_RESULTS_QUEUE),
        max_delivery_count=max_delivery_count,
        managed_identity_client_id=_managed_identity_client_id(env),
        developer_credential=developer,
        graph_sign_in=graph_sign_in,
    )


def load_telemetry_settings(environ: Mapping[str, str] | None = None) -> TelemetrySettings:
    """Never raises: a malformed connection string is the exporter's to report, and telemetry never stops a booking."""
    env = os.environ if environ is None else environ
    worker_exports = (_value(env, PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY) or "").lower() == "true"
    return TelemetrySettings(None if worker_exports else _value(env, APPLICATIONINSIGHTS_CONNECTION_STRING))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigurationError naming the first bad one."""
    env = os.environ if environ is None else environ
    graph_base_url = _graph_base_url(env)
    developer = _developer(env)
    return Settings(
        bookings_queue=_queue_name(env, BOOKINGS_QUEUE, DEFAULT_BOOKINGS_QUEUE),
        results_queue=_queue_name(env, RESULTS_QUEUE, DEFAULT_RESULTS_QUEUE),
        graph_base_url=graph_base_url,
        graph_scope=graph_scope_for(graph_base_url),
        service_bus=_service_bus_target(env),
        managed_identity_client_id=_managed_identity_client_id(env),
        developer_credential=developer,
        record_state=_record_state_target(env),
        record_state_table=_table_name(env),
        max_delivery_count=_integer(env, BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, 1, 2000),
        organizer_policy=_organizer_policy(env),
        graph_retry_budget_seconds=_seconds(env, GRAPH_RETRY_BUDGET_SECONDS, DEFAULT_GRAPH_RETRY_BUDGET_SECONDS),
        max_throttle_requeues=_integer(env, MAX_THROTTLE_REQUEUES, DEFAULT_MAX_THROTTLE_REQUEUES, 0, 100),
        graph_sign_in=_graph_sign_in(env, developer),
        calendar_events_enabled=_flag(env, CALENDAR_EVENTS_ENABLED),
    )


def load_queue_settings(environ: Mapping[str, str] | None = None) -> QueueSettings:
    """Read and validate only the Service Bus settings, as load_settings does; the rest is not looked at."""
    env = os.environ if environ is None else environ
    return QueueSettings(
        bookings_queue=_queue_name(env, BOOKINGS_QUEUE, DEFAULT_BOOKINGS_QUEUE),
        results_queue=_queue_name(env, RESULTS_QUEUE, DEFAULT_RESULTS_QUEUE),
        service_bus=_service_bus_target(env),
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


def check_graph_base_url(value: str) -> str:
    """A Graph URL given elsewhere (the CLI's --graph-url), held to GRAPH_BASE_URL's rules; ConfigurationError if broken."""
    return _graph_base_url({GRAPH_BASE_URL: value})


def check_identity_endpoint(name: str, value: str) -> str:
    """A managed-identity endpoint URL: absolute, plain http only on loopback; ConfigurationError naming `name`."""
    return _local_or_https_url(name, value, "such as http://127.0.0.1:8010/msi/token, as the simulator prints it")


def _local_or_https_url(name: str, value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(name, f"{_redacted(value)} is not an absolute URL {example}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            name, f"{_redacted(value)} must use https (plain http is allowed only on loopback, for the simulator)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(name, f"{_redacted(value)} must not carry credentials, a query or a fragment")
    return value


def _graph_base_url(env: Mapping[str, str]) -> str:
    value = (_value(env, GRAPH_BASE_URL) or DEFAULT_GRAPH_BASE_URL).rstrip("/")
    example = "such as https://graph.microsoft.com/v1.0 or https://graph.microsoft.us/v1.0"
    parts = urlsplit(_local_or_https_url(GRAPH_BASE_URL, value, example))
    if not parts.path.endswith("/v1.0"):
        raise ConfigurationError(
            GRAPH_BASE_URL, f"{_redacted(value)} must end with /v1.0, the API version this bridge is built against ({example})"
        )
    return value


def _redacted(url: str) -> str:
    """A URL setting as it may be quoted in an error (which reaches logs and results): no user info, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if _has_port(parts) else ""
    hidden = (
        " (user info, query and fragment not shown)" if parts.username or parts.password or parts.query or parts.fragment else ""
    )
    return repr(f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "the value") + hidden


def _has_port(parts: Any) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


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
        if not _is_service_bus_emulator(connection_string):
            raise ConfigurationError(
                SERVICE_BUS_CONNECTION,
                "a connection string is accepted only for the local Service Bus emulator "
                "(UseDevelopmentEmulator=true with an Endpoint on loopback, such as sb://localhost); for a real "
                f"namespace remove it and set {SERVICE_BUS_NAMESPACE} so the managed identity is used",
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
        if value is not None and not GUID.match(value):
            raise ConfigurationError(name, f"{value!r} is not a client id (a GUID)")
    if client_id and trigger_client_id and client_id.lower() != trigger_client_id.lower():
        raise ConfigurationError(
            SERVICE_BUS_CLIENT_ID,
            f"names a different identity than {AZURE_CLIENT_ID}; the bridge uses one user-assigned identity for "
            "Service Bus and Graph, so set both to its client id",
        )
    chosen = client_id or trigger_client_id
    return chosen.lower() if chosen else None


def _developer(env: Mapping[str, str]) -> bool:
    """A developer's machine under func start: Development, and none of the platform's marks of an Azure instance."""
    on_azure = any(_value(env, marker) is not None for marker in AZURE_INSTANCE_MARKERS)
    return _value(env, FUNCTIONS_ENVIRONMENT) == "Development" and not on_azure


def _graph_sign_in(env: Mapping[str, str], developer: bool) -> GraphSignIn | None:
    given = [name for name in GRAPH_SIGN_IN_SETTINGS if _value(env, name) is not None]
    if not given:
        return None
    if not developer:
        # As with a connection string: in Azure the managed identity is the only way in, so a leftover is an error.
        raise ConfigurationError(
            given[0],
            f"is for local runs only ({FUNCTIONS_ENVIRONMENT}=Development, as func start sets it, on a machine "
            f"without {' or '.join(AZURE_INSTANCE_MARKERS)}); in Azure Graph is reached with the managed identity: remove it",
        )
    kind = (_value(env, GRAPH_CREDENTIAL) or "").lower()
    if kind == "simulator":
        _only_these(env, kind, (GRAPH_IDENTITY_ENDPOINT, GRAPH_IDENTITY_HEADER))
        if _value(env, APPLICATIONINSIGHTS_AUTHENTICATION_STRING) is not None:
            # The simulator's endpoint becomes this process's IDENTITY_ENDPOINT (shared.credential), which the
            # exporter's managed identity would read too: telemetry would ask the simulator for its token.
            raise ConfigurationError(
                APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
                f"cannot be set together with {GRAPH_CREDENTIAL}=simulator: the simulator's identity endpoint is set "
                "for the whole process, so the telemetry exporter would sign in with the simulator; remove it locally "
                "(or use GRAPH_CREDENTIAL=certificate)",
            )
        endpoint = _required(env, GRAPH_IDENTITY_ENDPOINT, "give the identity endpoint the simulator prints")
        return SimulatorIdentity(
            check_identity_endpoint(GRAPH_IDENTITY_ENDPOINT, endpoint),
            _required(env, GRAPH_IDENTITY_HEADER, "give the IDENTITY_HEADER the simulator prints (new on every start)"),
        )
    if kind == "certificate":
        _only_these(env, kind, (GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CERTIFICATE_PATH))
        tenant_id = _required(env, GRAPH_TENANT_ID, "give the test tenant's id (a GUID) or its domain")
        if not (GUID.match(tenant_id) or _HOST_NAME.match(tenant_id)):
            raise ConfigurationError(GRAPH_TENANT_ID, f"{tenant_id!r} is not a tenant id (a GUID) or a domain name")
        client_id = _required(env, GRAPH_CLIENT_ID, "give the app registration's client id")
        if not GUID.match(client_id):
            raise ConfigurationError(GRAPH_CLIENT_ID, f"{client_id!r} is not a client id (a GUID)")
        path = _required(env, GRAPH_CERTIFICATE_PATH, "give the path of the app registration's certificate with its key")
        return CertificateSignIn(tenant_id, client_id.lower(), path)
    if not kind:
        raise ConfigurationError(GRAPH_CREDENTIAL, f"is not set while {given[0]} is: set it to 'simulator' or 'certificate'")
    raise ConfigurationError(
        GRAPH_CREDENTIAL,
        f"{_value(env, GRAPH_CREDENTIAL)!r} is not supported: 'simulator' (GRAPH_IDENTITY_ENDPOINT and "
        "GRAPH_IDENTITY_HEADER) or 'certificate' (GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CERTIFICATE_PATH)",
    )


def _only_these(env: Mapping[str, str], kind: str, used: tuple[str, ...]) -> None:
    for name in GRAPH_SIGN_IN_SETTINGS:
        if name != GRAPH_CREDENTIAL and name not in used and _value(env, name) is not None:
            raise ConfigurationError(name, f"is not used with {GRAPH_CREDENTIAL}={kind}: remove it")


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = _value(env, name)
    if value is None:
        raise ConfigurationError(name, f"is not set: {hint}")
    return value


def _record_state_target(env: Mapping[str, str]) -> RecordStateTarget:
    connection_string = _value(env, RECORD_STATE_CONNECTION)
    if connection_string is not None:
        # As for Service Bus: a connection string (a secret) is accepted only for the local emulator.
        if not _is_azurite(connection_string):
            raise ConfigurationError(
                RECORD_STATE_CONNECTION,
                "a connection string is accepted only for Azurite (UseDevelopmentStorage=true, or "
                f"AccountName={_AZURITE_ACCOUNT} with a loopback TableEndpoint); in Azure remove it and set "
                f"{RECORD_STATE_TABLE_SERVICE_URI} so the managed identity is used",
            )
        return RecordStateTarget(emulator_connection_string=connection_string)
    uri = _value(env, RECORD_STATE_TABLE_SERVICE_URI)
    if uri is None:
        return RecordStateTarget()  # required where the table is opened (RecordStateTarget.require)
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.username or parts.password:
        raise ConfigurationError(
            RECORD_STATE_TABLE_SERVICE_URI,
            f"{_redacted(uri)} is not a table endpoint such as https://contosobridge.table.core.windows.net",
        )
    return RecordStateTarget(table_service_uri=uri.rstrip("/"))


def _connection_fields(connection_string: str) -> dict[str, str]:
    fields = dict(part.split("=", 1) for part in connection_string.replace(" ", "").split(";") if "=" in part)
    return {key.lower(): value for key, value in fields.items()}


def _is_service_bus_emulator(connection_string: str) -> bool:
    # The flag alone would let a secret for a real namespace through: the endpoint must be this machine.
    fields = _connection_fields(connection_string)
    endpoint = urlsplit(fields.get("endpoint", ""))
    return fields.get("usedevelopmentemulator", "").lower() == "true" and _is_loopback(endpoint.hostname or "")


def _is_azurite(connection_string: str) -> bool:
    fields = _connection_fields(connection_string)
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return True
    endpoint = urlsplit(fields.get("tableendpoint", ""))
    return fields.get("accountname") == _AZURITE_ACCOUNT and bool(endpoint.hostname) and _is_loopback(endpoint.hostname or "")


def _table_name(env: Mapping[str, str]) -> str:
    value = _value(env, RECORD_STATE_TABLE) or DEFAULT_RECORD_STATE_TABLE
    if not _TABLE_NAME.match(value):
        raise ConfigurationError(
            RECORD_STATE_TABLE, f"{value!r} is not a table name (3-63 letters and digits, starting with a letter)"
        )
    return value


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = _value(env, name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigurationError(name, f"{text!r} is not a whole number from {low} to {high}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = _value(env, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    # More than four minutes would outlast the host's lock renewal and function timeout (5 minutes).
    if not 1.0 <= value <= 240.0:
        raise ConfigurationError(name, f"{text!r} is not a number of seconds from 1 to 240")
    return value


def _organizer_policy(env: Mapping[str, str]) -> OrganizerPolicy:
    try:
        return parse_organizer_policy(_value(env, ALLOWED_ORGANIZERS) or "")
    except ValueError as error:
        raise ConfigurationError(ALLOWED_ORGANIZERS, str(error)) from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = _value(env, name)
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise ConfigurationError(name, f"{text!r} is not true or false")
    return text.lower() == "true"
