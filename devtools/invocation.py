"""The invocation context the Python worker passes a function's `context` parameter, for tests and benchmarks.

azure.functions declares Context and TraceContext as abstract types; the worker builds its own from the
host's gRPC InvocationRequest (trace context: the host's, continued from the message's Diagnostic-Id).
These carry the same attributes, so the function runs as it does under the host.
"""

from __future__ import annotations

import threading
import uuid

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext


class HostTraceContext(TraceContext):
    def __init__(self, trace_parent: str = "", trace_state: str = "") -> None:
        self._trace_parent = trace_parent
        self._trace_state = trace_state

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class HostContext(func.Context):
    """One invocation's context; the host sends an empty trace parent when it has none, as the worker's proto does."""

    _thread_local = threading.local()

    def __init__(self, function_name: str = "create_meeting", trace_parent: str = "", trace_state: str = "") -> None:
        self._function_name = function_name
        self._invocation_id = str(uuid.uuid4())
        self._trace_context = HostTraceContext(trace_parent, trace_state)

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return ""

    @property
    def trace_context(self) -> HostTraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        raise NotImplementedError("the bridge sets no retry policy: Service Bus redelivers")
