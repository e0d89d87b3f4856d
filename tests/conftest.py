"""Fixtures that start the real local parts: the Graph simulator with its managed-identity endpoint,
and Azurite's Table service for the per-record state; and OpenTelemetry's SDK, exporting to memory.

Only the Service Bus leg is intercepted, at the SDK boundary (ServiceBusSender.send_messages):
everything up to the AMQP transfer, including the real ServiceBusClient and ServiceBusMessage,
runs as in Azure.
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest
from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
from azure.servicebus import ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import ServiceBusConnectionError
from hypothesis import settings
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import function_app
from devtools.azurite import AzuriteNotInstalled, azurite_table_service
from devtools.invocation import HostContext
from shared.graph_throttle import LONGEST_PAUSE_SECONDS, GraphThrottle
from shared.result import ResultMessage
from shared.runtime import reset_pipeline
from shared.settings import DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE
from simulator import GraphSimulator
from simulator.environment import STEERING_VARIABLES
from tests.bookings import ORGANIZER_ID
from tests.loopback_http import PROXY_VARIABLES, Recorder, self_signed
from tests.simulator_client import fetch_token

TEST_NAMESPACE = "bridge-tests.servicebus.windows.net"

# Every property: CI runs a fixed seed and a bounded number of examples, HYPOTHESIS_PROFILE=long many more
# with fresh seeds. The stateful machine's step counts have profiles of their own (test_stateful_invariants).
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(HYPOTHESIS_PROFILE)


class SentResults:
    """What reached ServiceBusSender.send_messages, with optional injected send failures."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, ServiceBusMessage]] = []
        self.failures_to_inject = 0

    def record(self, sender: ServiceBusSender, message: ServiceBusMessage) -> None:
        if self.failures_to_inject:
            self.failures_to_inject -= 1
            raise ServiceBusConnectionError(message="injected: the AMQP link was lost")
        self.messages.append((sender.entity_name, message))

    def results(self) -> list[ResultMessage]:
        return [ResultMessage.model_validate_json(str(message)) for message in self.to(DEFAULT_RESULTS_QUEUE)]

    def to(self, queue_name: str) -> list[ServiceBusMessage]:
        return [message for entity, message in self.messages if entity == queue_name]

    def requeued(self) -> list[ServiceBusMessage]:
        """Scheduled copies of throttled bookings, sent back to the bookings queue."""
        return self.to(DEFAULT_BOOKINGS_QUEUE)


def _without_azurite(missing: AzuriteNotInstalled) -> NoReturn:
    """Skip a test that needs Azurite when it is not installed; fail it in CI, which must run it."""
    if os.environ.get("CI") == "true":
        pytest.fail(str(missing), pytrace=False)
    pytest.skip(str(missing))


# The files of the slow tests (see the marker in pyproject.toml): `pytest -m "not slow"` is the quick loop while
# working; .ci/run runs everything.
SLOW_FILES = frozenset(
    {
        "test_fault_run.py",  # a whole run under injected faults
        "test_stateful_invariants.py",  # the stateful property over the broker, Azurite and the simulator
        "test_bench_smoke.py",  # the benchmark's small configuration
        "test_bench_cold_start.py",
        "test_external_checks.py",  # checkov and shellcheck
        "test_deployed_package.py",  # builds the deployment zip
        "test_package_bytecode.py",
        "test_package_contents.py",
        "test_failure_paths.py",  # Retry-After and throttling budgets, waited for real
        "test_lost_lock_repairs.py",
        "test_calendar_lost_locks.py",
        "test_answers_after_failures.py",  # lost session locks, forced with delays
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except AzuriteNotInstalled as missing:
        _without_azurite(missing)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except AzuriteNotInstalled as missing:
        _without_azurite(missing)


@pytest.fixture
def no_transport_settings_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxies and CA bundle stay out of a transport test (each sets its own)."""
    for name in (*PROXY_VARIABLES, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    """tests.loopback_http.Recorder on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_recorder(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The Recorder over TLS with a self-signed certificate: (port, the certificate's PEM file)."""
    certificate_file, key_file = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield server.server_port, certificate_file
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Azurite's Table service on loopback, one per test session: its connection string."""
    with azurite_table_service() as connection_string:
        yield connection_string


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """Graph on loopback; it knows only ORGANIZER_ID, as a tenant knows only its own users."""
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
        yield simulator


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    """A simulator where every GUID-shaped user exists, for tests that talk to it by hand."""
    with GraphSimulator() as simulator:
        yield simulator


@pytest.fixture
def token(sim: GraphSimulator) -> str:
    """A Graph token from `sim`'s managed-identity endpoint."""
    return fetch_token(sim).json()["access_token"]


@pytest.fixture
def managed_identity(graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch) -> GraphSimulator:
    """azure-identity's real App Service managed-identity path, pointed at the simulator's token endpoint."""
    for name in STEERING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", graph.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", graph.identity_header)
    return graph


@pytest.fixture
def sent_results(monkeypatch: pytest.MonkeyPatch) -> SentResults:
    sent = SentResults()

    def send_messages(sender: ServiceBusSender, message: ServiceBusMessage, *args: Any, **kwargs: Any) -> None:
        sent.record(sender, message)

    monkeypatch.setattr(ServiceBusSender, "send_messages", send_messages)
    return sent


@pytest.fixture
def app_settings(
    managed_identity: GraphSimulator, sent_results: SentResults, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The function app's settings as infra sets them, with Graph and the state table on loopback.

    A fresh pipeline and a fresh state table per test, so no test sees another's records."""
    monkeypatch.setenv("ServiceBusConnection__fullyQualifiedNamespace", TEST_NAMESPACE)
    monkeypatch.setenv("GRAPH_BASE_URL", managed_identity.graph_base_url)
    monkeypatch.setenv("RecordStateStorage", azurite)
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")
    reset_pipeline()
    yield
    reset_pipeline()


@functools.cache
def indexed_functions() -> dict[str, Any]:
    """The app's functions as the worker indexes them: once per process (indexing twice is an error)."""
    return {function.get_function_name(): function for function in function_app.app.get_functions()}


# The longest the Graph throttle closes an instance in the tests that run a broker in real time (the fault run, the
# stateful property): long enough to be a pause, short enough that a drain never waits on it.
SHORTEST_PAUSE_SECONDS = 0.2


class ThrottleClock:
    """The clock of the process's Graph throttle in host tests: real time, plus the time a test lets pass."""

    def __init__(self) -> None:
        self.passed = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.passed

    def wait(self, condition: threading.Condition, seconds: float) -> bool:
        """The throttle's wait for a pause to pass: the pause passes at once."""
        self.passed += seconds
        return False


class HostInvoker:
    """Invokes create_meeting the way the Functions host does, and settles like Service Bus would."""

    def __init__(self, sent: SentResults, clock: ThrottleClock | None = None) -> None:
        self._function = indexed_functions()["create_meeting"].get_user_function()
        self.sent = sent
        self._clock = clock or ThrottleClock()

    def wait_out_retry_after(self) -> None:
        """As if the longest a 429 closes Graph to this instance went by before the next delivery (its Retry-After,
        bounded, and its random spread), as between a throttled delivery and the next one in Service Bus."""
        self._clock.passed += LONGEST_PAUSE_SECONDS * 1.5 + 1

    def deliver(
        self,
        body: dict[str, Any] | bytes,
        *,
        message_id: str | None = None,
        delivery_count: int = 1,
        correlation_id: str | None = None,
        session_id: str | None = None,
        application_properties: dict[str, Any] | None = None,
        trace_parent: str = "",
        trace_state: str = "",
    ) -> None:
        """One delivery; raises whatever the function raises (the host would then abandon the message).

        `trace_parent` is the invocation's trace context, as the host passes it (empty: none)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        message = TriggerMessage(
            body=raw,
            message_id=message_id or str(uuid.uuid4()),
            delivery_count=delivery_count,
            correlation_id=correlation_id,
            session_id=session_id,
            content_type="application/json",
            application_properties=application_properties or {},
            user_properties=application_properties or {},
        )
        self._function(message, HostContext(trace_parent=trace_parent, trace_state=trace_state))

    def last_result(self) -> ResultMessage:
        return self.sent.results()[-1]


@pytest.fixture
def host(app_settings: None, sent_results: SentResults, monkeypatch: pytest.MonkeyPatch) -> HostInvoker:
    clock = ThrottleClock()
    monkeypatch.setattr("shared.runtime.GraphThrottle", functools.partial(GraphThrottle, clock=clock, wait=clock.wait))
    return HostInvoker(sent_results, clock)


class Telemetry:
    """What the bridge exported: finished spans, and metrics as cumulative sums since the process began."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """A metric's data points by their attributes."""
        data = self.reader.get_metrics_data()
        return {
            frozenset(point.attributes.items()): point
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        }

    def count(self, name: str, **attributes: Any) -> float:
        """A counter's value, or how many values a histogram recorded, for exactly these attributes (0 if none)."""
        point = self.points(name).get(frozenset(attributes.items()))
        if point is None:
            return 0
        return point.count if hasattr(point, "bucket_counts") else point.value


@pytest.fixture(scope="session")
def _telemetry_sdk() -> Telemetry:
    # The SDK's providers are global and can be set once per process: one for the whole session.
    telemetry = Telemetry()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(telemetry.spans))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[telemetry.reader]))
    return telemetry


@pytest.fixture
def telemetry(_telemetry_sdk: Telemetry) -> Telemetry:
    """OpenTelemetry's SDK with an in-memory span exporter (emptied for each test) and an in-memory metric reader."""
    _telemetry_sdk.spans.clear()
    return _telemetry_sdk
