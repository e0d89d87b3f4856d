"""The bridge's traces and metrics: one tracer, one meter and the instruments, over the OpenTelemetry API.

One trace per booking (W3C trace context): the invocation's trace context, which the Functions host
takes from the booking message, is the parent of a `booking` span; each Graph request and each state
table request is a CLIENT span under it, and Graph requests carry their span's `traceparent`. The
result message carries the booking span's in `Diagnostic-Id`, the property Service Bus and the Azure
SDKs read, so a consumer continues the same trace.

Only the API is imported here. Without an SDK every span and instrument is a no-op that still passes
the parent's context through, so Graph and the result carry the booking's trace whether or not this
process exports anything. Exporting is set up once per process (`export_to_azure_monitor`, called by
shared.runtime); the distro is imported only then: about 340 ms of CPU that a process without a
connection string never pays (docs/performance.md).

What may go into telemetry, as into the logs:
- spans: the externalId, source, revision, message id, delivery count, statuses, Graph's request-id and
  error codes. Never a subject, an attendee address, a join URL, a token, an exception's message (it may
  quote any of them), nor a Graph URL (its path names the organizer).
- metrics: closed sets only (status, Graph operation, HTTP method and status, error code) and the sources
  the operator's ALLOWED_ORGANIZERS names; never an id of a record, message or meeting, nor a source only a
  producer chose (any producer could mint a metric series per message otherwise).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping, Set
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.failure_policy import is_expected

logger = logging.getLogger(__name__)

INSTRUMENTATION_SCOPE = "booking_bridge"
BOOKING_SPAN = "booking"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# The application property Service Bus and the Azure SDKs read a message's trace context from.
DIAGNOSTIC_ID_PROPERTY = "Diagnostic-Id"
# Graph calls by resource: createOrGet (POST), and one onlineMeeting (PATCH, DELETE).
CREATE_OR_GET = "createOrGet"
ONLINE_MEETING = "onlineMeeting"
ONLINE_MEETINGS = "onlineMeetings"
EVENTS = "events"
EVENT = "event"
EVENT_CANCEL = "event cancel"
ATTENDANCE_REPORTS = "attendanceReports"
ATTENDANCE_RECORDS = "attendanceRecords"
# A source that did not pass validation is counted as this, so a producer cannot mint metric series.
UNKNOWN_SOURCE = "unknown"
# A valid source the operator's ALLOWED_ORGANIZERS does not name: the schema lets through more names than a
# metric backend can hold series for, so only sources an operator chose are counted by name.
OTHER_SOURCE = "other"
# The HTTP client libraries the Azure Monitor distro would instrument on its own: the bridge's spans
# already cover every Graph and table request, and theirs would record the URL.
_UNINSTRUMENTED = ("requests", "urllib3", "urllib")

# W3C trace context only: it is the format of Diagnostic-Id and of the host's trace context, whatever
# OTEL_PROPAGATORS says. extract() validates what a producer sent and yields no parent for garbage.
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer(INSTRUMENTATION_SCOPE)
_meter = metrics.get_meter(INSTRUMENTATION_SCOPE)

_results = _meter.create_counter("bridge.results", unit="{result}", description="Results published, by status and source")
_graph_duration = _meter.create_histogram(
    "bridge.graph.duration", unit="s", description="Duration of each Graph request, by method, operation and status code"
)
_graph_throttled = _meter.create_counter(
    "bridge.graph.throttled", unit="{response}", description="Graph answers 429 (Too Many Requests), by method and operation"
)
_retry_after_waited = _meter.create_histogram(
    "bridge.graph.retry_after_waited", unit="s", description="Time slept honouring Graph's Retry-After inside an invocation"
)
_requeues = _meter.create_counter(
    "bridge.requeues", unit="{message}", description="Throttled bookings re-enqueued for after Retry-After"
)
_last_delivery_failures = _meter.create_counter(
    "bridge.last_delivery_failures",
    unit="{message}",
    description="Bookings that failed on their last delivery and are dead-lettered, by error code",
)


@contextmanager
def booking_span(trace_parent: str | None, trace_state: str | None) -> Iterator[Span]:
    """The span of one booking delivery, child of the invocation's trace context (the current one if None)."""
    parent = None
    if trace_parent:
        carrier = {TRACEPARENT: trace_parent, **({TRACESTATE: trace_state} if trace_state else {})}
        parent = _propagator.extract(carrier)
    # INTERNAL, not CONSUMER: the host's invocation span is the message's request already; Azure
    # Monitor would count a CONSUMER span as a second one.
    span = _tracer.start_span(BOOKING_SPAN, context=parent, kind=SpanKind.INTERNAL)
    with _current(span):
        try:
            yield span
        except BaseException as error:
            _failed(span, error_type(error))
            raise


def describe_booking(*, external_id: str, source: str, revision: int | None, message_id: str) -> None:
    """Name the booking on its span once it is known (these are not personal data; the logs carry them too)."""
    attributes: dict[str, str | int] = {
        "bridge.external_id": external_id,
        "bridge.source": source,
        "messaging.message.id": message_id,
    }
    if revision is not None:
        attributes["bridge.revision"] = revision
    trace.get_current_span().set_attributes(attributes)


def record_result(status: str, source: str | None, error_code: str | None, named_sources: Set[str]) -> None:
    """A result was published: counted by status and source, and written on the booking's span.

    `source` is the validated booking's (None if it failed validation); it is counted by name only if
    `named_sources` (the sources ALLOWED_ORGANIZERS names) has it, else as OTHER_SOURCE."""
    span = trace.get_current_span()
    span.set_attribute("bridge.status", status)
    if error_code:
        span.set_attribute("bridge.error_code", error_code)
    _results.add(1, {"status": status, "source": result_source_label(source, named_sources)})


def result_source_label(source: str | None, named_sources: Set[str]) -> str:
    """The `source` attribute of bridge.results: one of a closed set the operator chose, whatever producers send."""
    if source is None:
        return UNKNOWN_SOURCE
    return source if source in named_sources else OTHER_SOURCE


def record_requeue() -> None:
    trace.get_current_span().set_attribute("bridge.requeued", True)
    _requeues.add(1)


def record_last_delivery_failure(code: str) -> None:
    _last_delivery_failures.add(1, {"code": code})


def error_type(error: BaseException) -> str:
    """An error's public code, or a defect's type name: never its message, which may quote personal data."""
    code = getattr(error, "code", None) if is_expected(error) else None
    return code if isinstance(code, str) else type(error).__name__


def diagnostic_id() -> str | None:
    """The current span's context as a traceparent value, for a message's Diagnostic-Id (None outside a trace)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


class HttpCall:
    """One HTTP request's CLIENT span; the caller reports the response."""

    def __init__(self, span: Span, request_id_attribute: str) -> None:
        self.span = span
        self.status: int | None = None
        self._request_id_attribute = request_id_attribute

    def carry_trace_context(self, headers: MutableMapping[str, str]) -> None:
        """Add this request's traceparent (and tracestate) to its headers."""
        _propagator.inject(headers)

    def responded(self, status: int, request_id: str | None) -> None:
        self.status = status
        self.span.set_attribute("http.response.status_code", status)
        if request_id:
            self.span.set_attribute(self._request_id_attribute, request_id)
        if status >= 400:
            _failed(self.span, str(status))


@contextmanager
def graph_request(method: str, operation: str, server_address: str | None, attempt: int) -> Iterator[HttpCall]:
    """One request to Graph: a dependency span, its duration by status, and 429s counted."""
    started = time.perf_counter()
    call: HttpCall | None = None
    try:
        with _client_span(f"graph {method} {operation}", method, server_address, attempt, "graph.request_id") as call:
            yield call
    finally:
        # 0: no response (a timeout or a dropped connection).
        status = call.status if call is not None and call.status is not None else 0
        attributes: dict[str, str | int] = {"method": method, "operation": operation, "status_code": status}
        _graph_duration.record(time.perf_counter() - started, attributes)
        if status == 429:
            _graph_throttled.add(1, {"method": method, "operation": operation})


def record_retry_after_wait(operation: str, seconds: float) -> None:
    """Time about to be slept because Graph asked for it with Retry-After."""
    _retry_after_waited.record(seconds, {"operation": operation})


def table_request(method: str, operation: str, server_address: str | None, attempt: int) -> AbstractContextManager[HttpCall]:
    """One request to the state table: a dependency span."""
    return _client_span(f"table {method} {operation}", method, server_address, attempt, "az.service_request_id")


@contextmanager
def _client_span(
    name: str, method: str, server_address: str | None, attempt: int, request_id_attribute: str
) -> Iterator[HttpCall]:
    attributes: dict[str, Any] = {"http.request.method": method}
    if server_address:
        attributes["server.address"] = server_address
    if attempt > 1:
        attributes["http.request.resend_count"] = attempt - 1
    span = _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
    with _current(span):
        try:
            yield HttpCall(span, request_id_attribute)
        except BaseException as error:
            _failed(span, type(error).__name__)
            raise


def _current(span: Span) -> AbstractContextManager[Span]:
    """`span` as the current span until the block ends, then ended: what start_as_current_span does after start_span,
    without the generator layers it adds (its own, and the API's proxy tracer's). The caller records a failure on the
    span, by its code, never its message."""
    return trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False)


def _failed(span: Span, kind: str) -> None:
    span.set_attribute("error.type", kind)
    span.set_status(StatusCode.ERROR)


def export_to_azure_monitor(connection_string: str) -> bool:
    """Export traces, metrics and logs to Application Insights (the Azure Functions documented way for Python).

    Called once per process. Ingestion authenticates with the identity that APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    names, as the host's own telemetry does (the exporter reads that setting). A failure is logged, never raised:
    bookings go on without telemetry rather than fail because of it."""
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=connection_string,
            instrumentation_options={library: {"enabled": False} for library in _UNINSTRUMENTED},
        )
    except Exception as error:
        logger.error("telemetry is not exported to Application Insights: %s", error_type(error))
        return False
    return True
