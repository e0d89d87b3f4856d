"""The process's one pipeline: settings, credential, Graph session, Service Bus senders and state table, built once.

Built on the first message rather than at import, so a cold start pays for it once and a
configuration error surfaces as a failed invocation (logged, message redelivered) naming the setting.
Telemetry export is set up once per process too, on the first message, before anything it should see.
"""

from __future__ import annotations

import logging
import threading

from azure.core.credentials import TokenCredential

from shared.credential import GraphToken, build_credential, build_graph_credential
from shared.errors import ConfigurationError, RetryableError
from shared.graph_client import GraphClient
from shared.graph_throttle import GraphThrottle
from shared.inbound import InboundMessage
from shared.pipeline import BookingPipeline, PipelineLimits, answer_unconfigured
from shared.publisher import ResultPublisher, SenderPool, build_service_bus_client
from shared.record_state import RecordStateStore, TableRecordStateStore
from shared.retry_policy import RetryPolicy
from shared.settings import Settings, load_result_route, load_settings, load_telemetry_settings
from shared.telemetry import booking_span, export_to_azure_monitor

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pipeline: BookingPipeline | None = None
_telemetry_set_up = False


def build_pipeline(settings: Settings, credential: TokenCredential | None = None) -> BookingPipeline:
    """Wire the pipeline for these settings; one credential serves Graph, Service Bus and the state table,
    except in Development with GRAPH_CREDENTIAL, where Graph signs in on its own."""
    credential = credential or build_credential(
        settings.managed_identity_client_id, settings.developer_credential, settings.graph_sign_in
    )
    graph_credential = build_graph_credential(settings.graph_sign_in) if settings.graph_sign_in else credential
    graph = GraphClient(
        settings.graph_base_url,
        GraphToken(graph_credential, settings.graph_scope).bearer,
        retry_policy=RetryPolicy(budget_seconds=settings.graph_retry_budget_seconds),
        throttle=GraphThrottle(),
    )
    service_bus = build_service_bus_client(settings.service_bus, credential)
    return BookingPipeline(
        graph,
        ResultPublisher(service_bus, settings.results_queue),
        build_record_state_store(settings, credential),
        SenderPool(service_bus, settings.bookings_queue),
        policy=settings.organizer_policy,
        limits=PipelineLimits(settings.max_delivery_count, settings.max_throttle_requeues),
        calendar_events=settings.calendar_events_enabled,
        attendance_reports=settings.attendance_reports_enabled,
    )


def build_record_state_store(settings: Settings, credential: TokenCredential) -> RecordStateStore:
    """The state table through the identity in Azure, or Azurite's when a local connection string is set."""
    target = settings.record_state.require()
    if target.emulator_connection_string:
        return TableRecordStateStore.for_emulator(target.emulator_connection_string, settings.record_state_table)
    assert target.table_service_uri is not None  # require() guarantees one of the two
    return TableRecordStateStore.with_identity(target.table_service_uri, settings.record_state_table, credential)


def handle(message: InboundMessage) -> None:
    """The function's one call: the process's pipeline handles the message.

    If a setting keeps the pipeline from being built, the message is redelivered; on its last delivery the
    source is first sent a `failed` result naming the setting, whenever the result's own route is configured."""
    set_up_telemetry()
    try:
        pipeline = get_pipeline()
    except ConfigurationError as error:
        with booking_span(message.trace_parent, message.trace_state):
            _answer_unconfigured(message, error)
            raise
    pipeline.handle(message)


def set_up_telemetry() -> None:
    """Export telemetry from this process, once, if the settings say where and the worker does not already."""
    global _telemetry_set_up
    if _telemetry_set_up:
        return
    with _lock:
        if not _telemetry_set_up:
            connection_string = load_telemetry_settings().azure_monitor_connection_string
            if connection_string:
                export_to_azure_monitor(connection_string)
            _telemetry_set_up = True


def _answer_unconfigured(message: InboundMessage, error: ConfigurationError) -> None:
    try:
        route = load_result_route()
    except ConfigurationError as route_error:
        logger.error("the bridge is misconfigured and cannot publish results either: %s", route_error)
        return
    if not message.is_last_delivery(route.max_delivery_count):
        logger.error("the bridge is misconfigured; the booking will be redelivered: %s", error)
        return
    credential = build_credential(route.managed_identity_client_id, route.developer_credential, route.graph_sign_in)
    publisher = ResultPublisher(build_service_bus_client(route.service_bus, credential), route.results_queue)
    try:
        answer_unconfigured(publisher, message, error)
        logger.error("the bridge is misconfigured; published a failed result before dead-lettering: %s", error)
    except RetryableError as publish_error:
        logger.error("the bridge is misconfigured and the failed result could not be published: %s", publish_error.code)
    finally:
        publisher.close()


def get_pipeline() -> BookingPipeline:
    """The process-wide pipeline, created on first use from the environment's settings."""
    global _pipeline
    if _pipeline is None:
        with _lock:
            if _pipeline is None:
                _pipeline = build_pipeline(load_settings())
    return _pipeline


def reset_pipeline() -> None:
    """Forget the process-wide pipeline, closing its connections (tests and settings reloads)."""
    global _pipeline
    with _lock:
        pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        pipeline.close()
