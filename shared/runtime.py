"""The process's one pipeline: settings, credential, Graph session, Service Bus senders and state table, built once.

Built on the first message rather than at import, so a cold start pays for it once and a
configuration error surfaces as a failed invocation (logged, message redelivered) naming the setting.
"""

from __future__ import annotations

import threading

from azure.core.credentials import TokenCredential

from shared.credential import GraphToken, build_credential
from shared.graph_client import GraphClient
from shared.pipeline import BookingPipeline, PipelineLimits
from shared.publisher import ResultPublisher, SenderPool, build_service_bus_client
from shared.record_state import RecordStateStore, TableRecordStateStore
from shared.retry_policy import RetryPolicy
from shared.settings import Settings, load_settings

_lock = threading.Lock()
_pipeline: BookingPipeline | None = None


def build_pipeline(settings: Settings, credential: TokenCredential | None = None) -> BookingPipeline:
    """Wire the pipeline for these settings; one credential serves Graph, Service Bus and the state table."""
    credential = credential or build_credential(settings)
    graph = GraphClient(
        settings.graph_base_url,
        GraphToken(credential, settings.graph_scope).bearer,
        retry_policy=RetryPolicy(budget_seconds=settings.graph_retry_budget_seconds),
    )
    service_bus = build_service_bus_client(settings.service_bus, credential)
    return BookingPipeline(
        graph,
        ResultPublisher(service_bus, settings.results_queue),
        build_record_state_store(settings, credential),
        SenderPool(service_bus, settings.bookings_queue),
        policy=settings.organizer_policy,
        limits=PipelineLimits(settings.max_delivery_count, settings.max_throttle_requeues),
    )


def build_record_state_store(settings: Settings, credential: TokenCredential) -> RecordStateStore:
    """The state table through the identity in Azure, or Azurite's when a local connection string is set."""
    target = settings.record_state.require()
    if target.emulator_connection_string:
        return TableRecordStateStore.for_emulator(target.emulator_connection_string, settings.record_state_table)
    assert target.table_service_uri is not None  # require() guarantees one of the two
    return TableRecordStateStore.with_identity(target.table_service_uri, settings.record_state_table, credential)


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
