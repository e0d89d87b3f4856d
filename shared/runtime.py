"""The process's one pipeline: settings, credential, Graph session and Service Bus sender, built once.

Built on the first message rather than at import, so a cold start pays for it once and a
configuration error surfaces as a failed invocation (logged, message redelivered) naming the setting.
"""

from __future__ import annotations

import threading

from azure.core.credentials import TokenCredential

from shared.credential import GraphToken, build_credential
from shared.graph_client import GraphClient
from shared.pipeline import BookingPipeline
from shared.publisher import ResultPublisher, build_service_bus_client
from shared.settings import Settings, load_settings

_lock = threading.Lock()
_pipeline: BookingPipeline | None = None


def build_pipeline(settings: Settings, credential: TokenCredential | None = None) -> BookingPipeline:
    """Wire the pipeline for these settings; one credential serves Graph and Service Bus."""
    credential = credential or build_credential(settings)
    graph = GraphClient(settings.graph_base_url, GraphToken(credential, settings.graph_scope).bearer)
    publisher = ResultPublisher(build_service_bus_client(settings.service_bus, credential), settings.results_queue)
    return BookingPipeline(graph, publisher)


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
