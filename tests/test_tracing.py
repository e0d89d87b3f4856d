"""One trace per booking: the invocation's trace context (as the host passes it in `context`) is the parent of the
bridge's `booking` span; every Graph request carries a traceparent of that trace, the state table's calls are spans
of it too, and the result message carries it in Diagnostic-Id. No span holds personal data or a secret."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from shared.telemetry import DIAGNOSTIC_ID_PROPERTY
from simulator import GraphSimulator
from simulator.faults import Fault
from tests.bookings import ORGANIZER_ID, REPO_ROOT, booking
from tests.conftest import HostInvoker, Telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
HOST_SPAN_ID = "00f067aa0ba902b7"
TRACE_PARENT = f"00-{TRACE_ID}-{HOST_SPAN_ID}-01"
SECRET_SUBJECT = "Therapy session for Jane Doe"
PATIENT = "jane.doe@patients.example"


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def span_id_of(traceparent: str) -> str:
    return traceparent.split("-")[2]


def hex_id(value: int, digits: int) -> str:
    return f"{value:0{digits}x}"


def named(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def booking_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    (span,) = [span for span in spans if span.name == "booking"]
    return span


def test_the_booking_continues_the_invocations_trace_in_graph_the_state_table_and_the_result(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    host.deliver(booking(), trace_parent=TRACE_PARENT, trace_state="congo=t61rcWkgMzE")

    spans = telemetry.spans.get_finished_spans()
    root = booking_span(spans)
    assert hex_id(root.context.trace_id, 32) == TRACE_ID
    assert root.parent is not None and hex_id(root.parent.span_id, 16) == HOST_SPAN_ID
    assert root.kind is SpanKind.INTERNAL
    assert root.attributes["bridge.status"] == "created"
    assert root.attributes["bridge.source"] == "crm-eu"
    assert root.attributes["bridge.external_id"] == host.last_result().external_id

    # Every Graph request carries a traceparent of the booking's trace: its own CLIENT span's.
    graph_spans = {hex_id(span.context.span_id, 16): span for span in named(spans, "graph ")}
    requests = graph.graph_requests()
    assert requests
    for request in requests:
        traceparent = request.headers["traceparent"]
        assert trace_id_of(traceparent) == TRACE_ID
        assert span_id_of(traceparent) in graph_spans
        assert request.headers["tracestate"] == "congo=t61rcWkgMzE"
    create = graph_spans[span_id_of(requests[0].headers["traceparent"])]
    assert create.name == "graph POST createOrGet"
    assert create.kind is SpanKind.CLIENT
    assert create.parent is not None and create.parent.span_id == root.context.span_id
    assert create.attributes["http.request.method"] == "POST"
    assert create.attributes["http.response.status_code"] == 201
    assert create.attributes["server.address"] == "127.0.0.1"
    assert create.attributes["graph.request_id"] == host.last_result().graph_request_id

    # The state table's calls are dependencies of the same booking (creating the table belongs to no booking).
    table = [span for span in named(spans, "table ") if span.name != "table POST Tables"]
    assert {span.name for span in table} == {"table GET entity", "table POST entity"}
    for span in table:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.attributes["http.response.status_code"] in (200, 204, 404)

    # The result continues the booking's trace: a consumer's work joins it.
    (message,) = host.sent.to("meeting-results")
    diagnostic_id = message.application_properties[DIAGNOSTIC_ID_PROPERTY]
    assert trace_id_of(diagnostic_id) == TRACE_ID
    assert span_id_of(diagnostic_id) == hex_id(root.context.span_id, 16)


def test_each_retried_graph_request_is_its_own_span_with_its_answer(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    graph.inject(Fault(status=503, retry_after="0"))
    host.deliver(booking(), trace_parent=TRACE_PARENT)

    first, second = named(telemetry.spans.get_finished_spans(), "graph POST")
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code is StatusCode.ERROR and first.attributes["error.type"] == "503"
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 201
    assert second.attributes["http.request.resend_count"] == 1
    assert second.status.status_code is StatusCode.UNSET


def test_a_redelivered_booking_marks_its_span_failed_with_the_error_code_only(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    graph.deny_organizer(ORGANIZER_ID)
    try:
        host.deliver(booking(), trace_parent=TRACE_PARENT)
    except Exception as error:
        assert type(error).__name__ == "GraphAccessDenied"
    root = booking_span(telemetry.spans.get_finished_spans())
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description is None
    assert root.attributes["error.type"] == "graph_access_denied"
    assert not root.events  # no exception event: its message quotes Graph's, which names the organizer


def test_a_malformed_traceparent_starts_a_new_trace_and_the_booking_goes_through(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    host.deliver(booking(), trace_parent="00-not-a-trace-context-at-all\r\nx: y")

    assert host.last_result().status.value == "created"
    root = booking_span(telemetry.spans.get_finished_spans())
    assert root.parent is None
    trace_id = hex_id(root.context.trace_id, 32)
    assert {trace_id_of(request.headers["traceparent"]) for request in graph.graph_requests()} == {trace_id}
    (message,) = host.sent.to("meeting-results")
    assert trace_id_of(message.application_properties[DIAGNOSTIC_ID_PROPERTY]) == trace_id


def test_spans_carry_no_subject_attendee_join_url_organizer_or_token(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    private = booking(subject=SECRET_SUBJECT, attendees=[{"upn": PATIENT, "role": "attendee"}])
    host.deliver(private, trace_parent=TRACE_PARENT)
    host.deliver(booking(revision=4, subject="Moved: " + SECRET_SUBJECT, attendees=[{"upn": PATIENT}]))  # a PATCH
    join_url = host.last_result().meeting.join_web_url
    host.deliver(booking(revision=5, action="cancel"))  # the lock PATCH and the DELETE
    graph.inject(Fault(status=429, retry_after="0"))
    host.deliver(booking(recordId="BK-2", subject=SECRET_SUBJECT, attendees=[{"upn": PATIENT}]))
    host.deliver(booking(recordId="BK-3", start="naive", subject=SECRET_SUBJECT))  # rejected

    spans = telemetry.spans.get_finished_spans()
    assert {"graph PATCH onlineMeeting", "graph DELETE onlineMeeting"} <= {span.name for span in spans}
    issued = {request.headers["Authorization"].removeprefix("Bearer ") for request in graph.graph_requests()}
    exported = "\n".join(_text_of(span) for span in spans)
    for forbidden in (SECRET_SUBJECT, "jane.doe", "patients.example", join_url, ORGANIZER_ID, graph.identity_header, *issued):
        assert forbidden not in exported, forbidden


def _text_of(span: ReadableSpan) -> str:
    parts: list[Any] = [span.name, span.status.description, *span.attributes.items()]
    parts += [(event.name, *event.attributes.items()) for event in span.events]
    return repr(parts)


def test_without_an_sdk_the_trace_context_still_passes_through() -> None:
    # opentelemetry-api alone (as in a process that exports nothing): the booking span is the invocation's
    # context itself, so Graph and the result still carry the booking's trace.
    program = (
        "from shared.telemetry import booking_span, diagnostic_id\n"
        f"with booking_span({TRACE_PARENT!r}, None):\n"
        "    print(diagnostic_id())\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == TRACE_PARENT
