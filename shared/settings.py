"""Every setting the bridge reads, validated by one pydantic model.

The names here are the single source of truth: infra/, docs/operations.md and
local.settings.json.example are checked against them by tests/test_settings_consistency.py.
A missing or malformed setting raises ConfigurationError naming the setting and what it should
hold, never its value: a value pasted into the wrong setting may be a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from shared.connection_string import AZURITE_ACCOUNT, HOST_NAME, azurite_fields, is_host, is_loopback, is_service_bus_emulator
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
# Per-record state in Azure Table storage: the identity reaches the table service at this URI;
# locally RECORD_STATE_CONNECTION may hold Azurite's connection string.
RECORD_STATE_CONNECTION = "RecordStateStorage"
RECORD_STATE_TABLE_SERVICE_URI = "RecordStateStorage__tableServiceUri"
RECORD_STATE_TABLE = "RECORD_STATE_TABLE"
# The bookings queue's maxDeliveryCount, passed in by infra from the same parameter.
BOOKINGS_MAX_DELIVERY_COUNT = "BOOKINGS_MAX_DELIVERY_COUNT"
ALLOWED_ORGANIZERS = "ALLOWED_ORGANIZERS"
GRAPH_RETRY_BUDGET_SECONDS = "GRAPH_RETRY_BUDGET_SECONDS"
MAX_THROTTLE_REQUEUES = "MAX_THROTTLE_REQUEUES"
# Calendar mode: bookings with `calendar` become Outlook events; off unless the operator turns it on,
# because it needs Calendars.ReadWrite, a permission over mailboxes, not only meetings.
CALENDAR_EVENTS_ENABLED = "CALENDAR_EVENTS_ENABLED"
# Attendance reports after the meeting: off unless the operator turns it on, because it needs
# OnlineMeetingArtifact.Read.All, a permission over what happened in meetings, not only over the meetings.
ATTENDANCE_REPORTS_ENABLED = "ATTENDANCE_REPORTS_ENABLED"
# Set to "Development" by Core Tools (`func start`); an operator could set it in Azure too.
FUNCTIONS_ENVIRONMENT = "AZURE_FUNCTIONS_ENVIRONMENT"
# Set by the platform on every Azure Functions (App Service) instance, never by Core Tools: where one is present
# the process runs in Azure, whatever FUNCTIONS_ENVIRONMENT says, and only the managed identity is used.
AZURE_INSTANCE_MARKERS = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME")
# Development only: Graph signs in on its own (the simulator's identity endpoint, or an app registration of a
# test tenant with a certificate) while Service Bus and the state table keep the developer's sign-in.
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
    ATTENDANCE_REPORTS_ENABLED,
)
# Settings infra leaves at the code's default: tuning knobs an operator may set, not wiring.
TUNING_SETTINGS = (GRAPH_RETRY_BUDGET_SECONDS, MAX_THROTTLE_REQUEUES)
# Local-only settings: infra never sets them (Azure uses the identity-based form).
LOCAL_ONLY_SETTINGS = (RECORD_STATE_CONNECTION, *GRAPH_SIGN_IN_SETTINGS)
# What publishing a result needs, and what talking to the queues needs: read alone, so that a broken setting
# elsewhere still lets a booking be answered and the command line reach the queues.
_QUEUE_SETTINGS = (SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE, SERVICE_BUS_CREDENTIAL, BOOKINGS_QUEUE, RESULTS_QUEUE)
_ROUTE_SETTINGS = (
    *_QUEUE_SETTINGS,
    SERVICE_BUS_CLIENT_ID,
    AZURE_CLIENT_ID,
    BOOKINGS_MAX_DELIVERY_COUNT,
    FUNCTIONS_ENVIRONMENT,
    *AZURE_INSTANCE_MARKERS,
    *GRAPH_SIGN_IN_SETTINGS,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
)
# A result is still published when the delivery count is broken (its default) or Graph's sign-in is (none):
# the settings a broken one is dropped with.
_SIGN_IN_RULES = (*GRAPH_SIGN_IN_SETTINGS, APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
_LENIENT = {BOOKINGS_MAX_DELIVERY_COUNT: (BOOKINGS_MAX_DELIVERY_COUNT,), **dict.fromkeys(_SIGN_IN_RULES, _SIGN_IN_RULES)}

# GRAPH_CREDENTIAL's values, the settings each one takes, and what to give when one is missing.
_SIGN_IN_KINDS = {
    "simulator": {
        GRAPH_IDENTITY_ENDPOINT: "give the identity endpoint the simulator prints",
        GRAPH_IDENTITY_HEADER: "give the IDENTITY_HEADER the simulator prints (new on every start)",
    },
    "certificate": {
        GRAPH_TENANT_ID: "give the test tenant's id (a GUID) or its domain",
        GRAPH_CLIENT_ID: "give the app registration's client id",
        GRAPH_CERTIFICATE_PATH: "give the path of the app registration's certificate with its key",
    },
}

_QUEUE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?")
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
# Digits 0-9 only: str.isdigit, int() and float() also take "²", other scripts' digits, "1_0" and "nan".
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")


@dataclass(frozen=True)
class ServiceBusTarget:
    """Where results are published: a namespace reached with the identity, or the local emulator."""

    fully_qualified_namespace: str | None = None
    emulator_connection_string: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RecordStateTarget:
    """Where per-record state lives: a table service reached with the identity, or Azurite locally."""

    table_service_uri: str | None = None
    emulator_connection_string: str | None = field(default=None, repr=False)

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
class TelemetrySettings:
    """Where the bridge exports telemetry itself: None when nowhere, or when the worker does it."""

    azure_monitor_connection_string: str | None = field(repr=False)


class _Problem(ValueError):
    """What is wrong with a setting, in the operator's words: the only text a validator may pass on (the
    standard library's own errors, urlsplit's among them, quote the value)."""


def _rule(holds: Callable[[str], object], problem: str, read: Callable[[str], Any] = str) -> BeforeValidator:
    """The setting's value read with `read` where `holds` says it is well formed; else _Problem(problem)."""

    def check(value: str) -> Any:
        if not holds(value):
            raise _Problem(problem)
        return read(value)

    return BeforeValidator(check)


def _whole_number(low: int, high: int) -> BeforeValidator:
    return _rule(
        lambda value: _WHOLE_NUMBER.fullmatch(value) and low <= int(value) <= high,
        f"is not a whole number from {low} to {high}",
        int,
    )


def _organizer_policy(value: str) -> OrganizerPolicy:
    try:
        policy = parse_organizer_policy(value)
    except ValueError as error:  # its messages name an entry by its position, never its text
        raise _Problem(str(error)) from None
    if not policy.restricts:
        raise _Problem("is set but names no organizer: remove it to allow every organizer the Teams policy covers")
    return policy


def _endpoint(value: str, problem: str) -> SplitResult:
    """`value` split as a URL whose host and port a request can be sent to; _Problem(problem) if it is not one."""
    try:
        parts = urlsplit(value)
        usable = bool(parts.hostname) and is_host(parts.hostname or "") and parts.port != 0
    except ValueError:
        usable = False
    if not usable or parts.scheme not in ("https", "http"):
        raise _Problem(problem)
    return parts


def _table_endpoint(value: str) -> str:
    problem = "is not a table endpoint such as https://contosobridge.table.core.windows.net"
    parts = _endpoint(value, problem)
    if parts.scheme != "https" or parts.query or parts.fragment or parts.username or parts.password:
        raise _Problem(problem)
    return value.rstrip("/")


def _url(example: str, *, path_suffix: str = "") -> Callable[[str], str]:
    """An absolute https URL (plain http only on loopback, for the simulator), no credentials, query or fragment."""

    def check(value: str) -> str:
        value = value.rstrip("/")
        parts = _endpoint(value, f"is not an absolute URL {example}")
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise _Problem("must use https (plain http is allowed only on loopback, for the simulator)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise _Problem("must not carry credentials, a query or a fragment")
        if not parts.path.endswith(path_suffix):
            raise _Problem(f"must end with {path_suffix}, the API version this bridge is built against ({example})")
        return value

    return check


_graph_base_url = _url("such as https://graph.microsoft.com/v1.0 or https://graph.microsoft.us/v1.0", path_suffix="/v1.0")
_identity_endpoint = _url("such as http://127.0.0.1:8010/msi/token, as the simulator prints it")
_QUEUE_NAME_HINT = "1-260 letters, digits, '.', '-', '_' or '/', starting and ending with a letter or digit"
QueueName = Annotated[str, _rule(_QUEUE_NAME.fullmatch, f"is not a Service Bus queue name ({_QUEUE_NAME_HINT})")]
HostName = Annotated[
    str, _rule(HOST_NAME.fullmatch, "is not a host name: give only the host, such as contoso-bookings.servicebus.windows.net")
]
TableName = Annotated[str, _rule(_TABLE_NAME.fullmatch, "is not a table name (3-63 letters and digits, starting with a letter)")]
ClientId = Annotated[str, _rule(GUID.fullmatch, "is not a client id (a GUID)", str.lower)]
TenantId = Annotated[
    str, _rule(lambda value: GUID.fullmatch(value) or HOST_NAME.fullmatch(value), "is not a tenant id (a GUID) or a domain name")
]
Credential = Annotated[
    str, _rule(lambda value: value.lower() == "managedidentity", "is not supported: the only value is 'managedidentity'")
]
# More than four minutes would outlast the host's lock renewal and function timeout (5 minutes).
Seconds = Annotated[
    float,
    _rule(
        lambda value: _SECONDS.fullmatch(value) and 1.0 <= float(value) <= 240.0,
        "is not a number of seconds from 1 to 240",
        float,
    ),
]
Flag = Annotated[
    bool, _rule(lambda value: value.lower() in ("true", "false"), "is not true or false", lambda value: value.lower() == "true")
]
# Real namespaces and storage accounts are reached with the managed identity, so no secret ever sits in app settings.
EmulatorConnection = Annotated[
    str,
    _rule(
        is_service_bus_emulator,
        "a connection string is accepted only for the local Service Bus emulator (UseDevelopmentEmulator=true with an "
        f"Endpoint on loopback, such as sb://localhost); for a real namespace remove it and set {SERVICE_BUS_NAMESPACE} "
        "so the managed identity is used",
    ),
]
AzuriteConnection = Annotated[
    str,
    _rule(
        lambda value: azurite_fields(value) is not None,
        f"a connection string is accepted only for Azurite (UseDevelopmentStorage=true, or AccountName={AZURITE_ACCOUNT} "
        f"with its key and a loopback TableEndpoint); in Azure remove it and set {RECORD_STATE_TABLE_SERVICE_URI} so the "
        "managed identity is used",
    ),
]
TableEndpoint = Annotated[str, BeforeValidator(_table_endpoint)]
GraphBaseUrl = Annotated[str, BeforeValidator(_graph_base_url)]
IdentityEndpoint = Annotated[str, BeforeValidator(_identity_endpoint)]
Policy = Annotated[OrganizerPolicy, BeforeValidator(_organizer_policy)]


class Settings(BaseModel):
    """The app settings, by their names (aliases); what the bridge derives from them is a property."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True, arbitrary_types_allowed=True)

    bookings_queue: QueueName = Field(DEFAULT_BOOKINGS_QUEUE, validation_alias=BOOKINGS_QUEUE)
    results_queue: QueueName = Field(DEFAULT_RESULTS_QUEUE, validation_alias=RESULTS_QUEUE)
    graph_base_url: GraphBaseUrl = Field(DEFAULT_GRAPH_BASE_URL, validation_alias=GRAPH_BASE_URL)
    service_bus_connection: EmulatorConnection | None = Field(None, validation_alias=SERVICE_BUS_CONNECTION, repr=False)
    service_bus_namespace: HostName | None = Field(None, validation_alias=SERVICE_BUS_NAMESPACE)
    service_bus_credential: Credential | None = Field(None, validation_alias=SERVICE_BUS_CREDENTIAL)
    azure_client_id: ClientId | None = Field(None, validation_alias=AZURE_CLIENT_ID)
    trigger_client_id: ClientId | None = Field(None, validation_alias=SERVICE_BUS_CLIENT_ID)
    record_state_connection: AzuriteConnection | None = Field(None, validation_alias=RECORD_STATE_CONNECTION, repr=False)
    record_state_table_service_uri: TableEndpoint | None = Field(None, validation_alias=RECORD_STATE_TABLE_SERVICE_URI)
    record_state_table: TableName = Field(DEFAULT_RECORD_STATE_TABLE, validation_alias=RECORD_STATE_TABLE)
    max_delivery_count: Annotated[int, _whole_number(1, 2000)] = Field(
        DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, validation_alias=BOOKINGS_MAX_DELIVERY_COUNT
    )
    organizer_policy: Policy = Field(default_factory=OrganizerPolicy, validation_alias=ALLOWED_ORGANIZERS)
    graph_retry_budget_seconds: Seconds = Field(DEFAULT_GRAPH_RETRY_BUDGET_SECONDS, validation_alias=GRAPH_RETRY_BUDGET_SECONDS)
    max_throttle_requeues: Annotated[int, _whole_number(0, 100)] = Field(
        DEFAULT_MAX_THROTTLE_REQUEUES, validation_alias=MAX_THROTTLE_REQUEUES
    )
    calendar_events_enabled: Flag = Field(False, validation_alias=CALENDAR_EVENTS_ENABLED)
    attendance_reports_enabled: Flag = Field(False, validation_alias=ATTENDANCE_REPORTS_ENABLED)
    functions_environment: str | None = Field(None, validation_alias=FUNCTIONS_ENVIRONMENT)
    website_instance_id: str | None = Field(None, validation_alias=AZURE_INSTANCE_MARKERS[0])
    website_site_name: str | None = Field(None, validation_alias=AZURE_INSTANCE_MARKERS[1])
    graph_credential: str | None = Field(None, validation_alias=GRAPH_CREDENTIAL)
    graph_identity_endpoint: IdentityEndpoint | None = Field(None, validation_alias=GRAPH_IDENTITY_ENDPOINT)
    graph_identity_header: str | None = Field(None, validation_alias=GRAPH_IDENTITY_HEADER, repr=False)
    graph_tenant_id: TenantId | None = Field(None, validation_alias=GRAPH_TENANT_ID)
    graph_client_id: ClientId | None = Field(None, validation_alias=GRAPH_CLIENT_ID)
    graph_certificate_path: str | None = Field(None, validation_alias=GRAPH_CERTIFICATE_PATH)
    insights_authentication: str | None = Field(None, validation_alias=APPLICATIONINSIGHTS_AUTHENTICATION_STRING, repr=False)

    @model_validator(mode="after")
    def _rules_across_settings(self) -> Settings:
        """The few rules that involve more than one setting; ConfigurationError names the one to change."""
        if self.service_bus_connection is None and self.service_bus_namespace is None:
            raise ConfigurationError(
                SERVICE_BUS_NAMESPACE, "is not set: give the namespace host name, such as contoso-bookings.servicebus.windows.net"
            )
        if self.azure_client_id and self.trigger_client_id and self.azure_client_id != self.trigger_client_id:
            raise ConfigurationError(
                SERVICE_BUS_CLIENT_ID,
                f"names a different identity than {AZURE_CLIENT_ID}; the bridge uses one user-assigned identity for "
                "Service Bus and Graph, so set both to its client id",
            )
        _ = self.graph_sign_in  # its rules raise here, at load, not at first use
        return self

    @property
    def graph_scope(self) -> str:
        return graph_scope_for(self.graph_base_url)

    @property
    def service_bus(self) -> ServiceBusTarget:
        if self.service_bus_connection is not None:
            return ServiceBusTarget(emulator_connection_string=self.service_bus_connection)
        return ServiceBusTarget(fully_qualified_namespace=(self.service_bus_namespace or "").lower())

    @property
    def record_state(self) -> RecordStateTarget:
        return RecordStateTarget(self.record_state_table_service_uri, self.record_state_connection)

    @property
    def managed_identity_client_id(self) -> str | None:
        return self.azure_client_id or self.trigger_client_id

    @property
    def developer_credential(self) -> bool:
        """A developer's machine under func start: Development, and none of the platform's marks of an Azure instance."""
        on_azure = self.website_instance_id is not None or self.website_site_name is not None
        return self.functions_environment == "Development" and not on_azure

    @property
    def graph_sign_in(self) -> GraphSignIn | None:
        """Graph's own sign-in for local runs; None means Graph uses the process's one credential."""
        given = {
            str(field.validation_alias): getattr(self, name)
            for name, field in type(self).model_fields.items()
            if field.validation_alias in GRAPH_SIGN_IN_SETTINGS and getattr(self, name) is not None
        }
        if not given:
            return None
        if not self.developer_credential:
            # As with a connection string: in Azure the managed identity is the only way in, so a leftover is an error.
            raise ConfigurationError(
                next(iter(given)),
                f"is for local runs only ({FUNCTIONS_ENVIRONMENT}=Development, as func start sets it, on a machine "
                f"without {' or '.join(AZURE_INSTANCE_MARKERS)}); in Azure Graph is reached with the managed identity: remove it",
            )
        kind = (self.graph_credential or "").lower()
        used = _SIGN_IN_KINDS.get(kind)
        if used is None:
            problem = f"is not set while {next(iter(given))} is" if not kind else "is not supported"
            raise ConfigurationError(
                GRAPH_CREDENTIAL,
                f"{problem}: set it to 'simulator' (GRAPH_IDENTITY_ENDPOINT and GRAPH_IDENTITY_HEADER) or "
                "'certificate' (GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CERTIFICATE_PATH)",
            )
        for name in given:
            if name not in (GRAPH_CREDENTIAL, *used):
                raise ConfigurationError(name, f"is not used with {GRAPH_CREDENTIAL}={kind}: remove it")
        for name, hint in used.items():
            if name not in given:
                raise ConfigurationError(name, f"is not set: {hint}")
        if kind == "certificate":
            return CertificateSignIn(given[GRAPH_TENANT_ID], given[GRAPH_CLIENT_ID], given[GRAPH_CERTIFICATE_PATH])
        if self.insights_authentication is not None:
            # The simulator's endpoint becomes this process's IDENTITY_ENDPOINT (shared.credential), which the
            # exporter's managed identity would read too: telemetry would ask the simulator for its token.
            raise ConfigurationError(
                APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
                f"cannot be set together with {GRAPH_CREDENTIAL}=simulator: the simulator's identity endpoint is set "
                "for the whole process, so the telemetry exporter would sign in with the simulator; remove it locally "
                "(or use GRAPH_CREDENTIAL=certificate)",
            )
        return SimulatorIdentity(given[GRAPH_IDENTITY_ENDPOINT], given[GRAPH_IDENTITY_HEADER])


def _given(environ: Mapping[str, str] | None, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """The settings among `names` (every one the model reads by default) that are set, stripped; blank counts as
    unset. Each is looked up by its name, as the platform's environment is (Windows' is case-insensitive)."""
    env = os.environ if environ is None else environ
    values = {name: env.get(name) for name in (names or _NAMES)}
    return {name: value.strip() for name, value in values.items() if isinstance(value, str) and value.strip()}


_NAMES = tuple(str(field.validation_alias) for field in Settings.model_fields.values())


def _validated(values: Mapping[str, str]) -> Settings:
    """Settings from `values`; the first malformed one as a ConfigurationError naming it, without its value."""
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else "a setting"
        cause = (first.get("ctx") or {}).get("error")
        raise ConfigurationError(name, str(cause) if isinstance(cause, _Problem) else "is not valid") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigurationError naming the first bad one."""
    return _validated(_given(environ))


def load_queue_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Only the Service Bus settings, validated as load_settings does; the rest is left at its default."""
    return _validated(_given(environ, _QUEUE_SETTINGS))


def load_result_route(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings a result is published with: a malformed BOOKINGS_MAX_DELIVERY_COUNT counts as the default, and
    a broken Graph sign-in as none (then the pipeline was never built, and no Graph credential changed the environment)."""
    values = _given(environ, _ROUTE_SETTINGS)
    while True:
        try:
            return _validated(values)
        except ConfigurationError as error:
            dropped = _LENIENT.get(error.setting, ())
            if not any(name in values for name in dropped):
                raise
            values = {name: value for name, value in values.items() if name not in dropped}


def load_telemetry_settings(environ: Mapping[str, str] | None = None) -> TelemetrySettings:
    """Never raises: a malformed connection string is the exporter's to report, and telemetry never stops a booking."""
    values = _given(environ, (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY, APPLICATIONINSIGHTS_CONNECTION_STRING))
    worker_exports = values.get(PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY, "").lower() == "true"
    return TelemetrySettings(None if worker_exports else values.get(APPLICATIONINSIGHTS_CONNECTION_STRING))


def graph_scope_for(graph_base_url: str) -> str:
    """The token scope for a Graph endpoint: its own origin + /.default, so national clouds just work."""
    parts = urlsplit(graph_base_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def _checked(name: str, validator: Callable[[str], str], value: str) -> str:
    try:
        return validator(value)
    except _Problem as error:
        raise ConfigurationError(name, str(error)) from None


def check_graph_base_url(value: str) -> str:
    """A Graph URL given elsewhere (the CLI's --graph-url), held to GRAPH_BASE_URL's rules; ConfigurationError if broken."""
    return _checked(GRAPH_BASE_URL, _graph_base_url, value)


def check_identity_endpoint(name: str, value: str) -> str:
    """A managed-identity endpoint URL: absolute, plain http only on loopback; ConfigurationError naming `name`."""
    return _checked(name, _identity_endpoint, value)
