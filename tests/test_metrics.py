"""Metrics an operator charts and alerts on, read back from an in-memory reader after bookings went through the
function as the host calls it: results by status and source, Graph latency and throttling, re-enqueues and
last-delivery failures. Their attributes are low-cardinality: never an externalId, record id or message id."""

from __future__ import annotations

import pytest

from shared.errors import GraphAccessDenied, GraphThrottled
from simulator import GraphSimulator
from simulator.faults import Fault
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker, Telemetry

METRICS = (
    "bridge.results",
    "bridge.graph.duration",
    "bridge.graph.throttled",
    "bridge.graph.retry_after_waited",
    "bridge.requeues",
    "bridge.last_delivery_failures",
)
ALLOWED_ATTRIBUTES = {"status", "source", "method", "operation", "status_code", "code"}


def test_results_are_counted_by_status_and_by_the_sources_the_operator_named(
    host: HostInvoker, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORGANIZERS", f"crm-eu={ORGANIZER_ID},{ORGANIZER_ID}")
    created = telemetry.count("bridge.results", status="created", source="crm-eu")
    existing = telemetry.count("bridge.results", status="existing", source="crm-eu")
    rejected = telemetry.count("bridge.results", status="rejected", source="unknown")
    other = telemetry.count("bridge.results", status="created", source="other")

    host.deliver(booking())
    host.deliver(booking())
    host.deliver(booking(source="a source nobody validated", start="naive"))
    host.deliver(booking(source="lms", recordId="BK-lms"))

    assert telemetry.count("bridge.results", status="created", source="crm-eu") == created + 1
    assert telemetry.count("bridge.results", status="existing", source="crm-eu") == existing + 1
    # An invalid booking's source is whatever the producer wrote: it is counted as unknown, never as a new series.
    assert telemetry.count("bridge.results", status="rejected", source="unknown") == rejected + 1
    # A valid source the allow-list does not name (here allowed by the organizer's "any source" entry): `other`.
    assert telemetry.count("bridge.results", status="created", source="other") == other + 1


def test_every_graph_request_records_its_duration_by_method_operation_and_status(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    post = {"method": "POST", "operation": "createOrGet"}
    before = {status: telemetry.count("bridge.graph.duration", **post, status_code=status) for status in (201, 503, 0)}

    graph.inject(Fault(status=503, retry_after="0"))
    graph.inject(Fault(drop_connection=True))
    host.deliver(booking())

    after = {status: telemetry.count("bridge.graph.duration", **post, status_code=status) for status in (201, 503, 0)}
    assert after == {201: before[201] + 1, 503: before[503] + 1, 0: before[0] + 1}  # 0: no answer
    (point,) = [
        point for key, point in telemetry.points("bridge.graph.duration").items() if dict(key) == {**post, "status_code": 201}
    ]
    assert 0 < point.min < 20


def test_throttling_counts_429s_and_the_retry_after_waited(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    throttled = telemetry.count("bridge.graph.throttled", method="POST", operation="createOrGet")
    waits = telemetry.points("bridge.graph.retry_after_waited").get(frozenset({"operation": "createOrGet"}.items()))
    waited_before = waits.sum if waits else 0.0

    graph.inject(Fault(status=429, retry_after="1"))
    host.deliver(booking())

    assert telemetry.count("bridge.graph.throttled", method="POST", operation="createOrGet") == throttled + 1
    waits = telemetry.points("bridge.graph.retry_after_waited")[frozenset({"operation": "createOrGet"}.items())]
    assert waits.sum - waited_before == pytest.approx(1.0)


def test_a_booking_re_enqueued_after_a_long_throttle_is_counted(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    requeues = telemetry.count("bridge.requeues")

    graph.inject(Fault(status=429, retry_after="120"))
    host.deliver(booking())

    assert len(host.sent.requeued()) == 1
    assert telemetry.count("bridge.requeues") == requeues + 1


def test_a_failure_on_the_last_delivery_is_counted_by_its_code(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    denied = telemetry.count("bridge.last_delivery_failures", code="graph_access_denied")
    graph.deny_organizer(ORGANIZER_ID)

    with pytest.raises(GraphAccessDenied):
        host.deliver(booking(), delivery_count=9)  # redelivered: not counted
    assert telemetry.count("bridge.last_delivery_failures", code="graph_access_denied") == denied
    with pytest.raises(GraphAccessDenied):
        host.deliver(booking(), delivery_count=10)  # the queue's last: dead-lettered after a failed result

    assert telemetry.count("bridge.last_delivery_failures", code="graph_access_denied") == denied + 1
    assert telemetry.count("bridge.results", status="failed", source="other") >= 1  # no allow-list names crm-eu


def test_no_metric_attribute_names_a_record_message_or_meeting(
    host: HostInvoker, graph: GraphSimulator, telemetry: Telemetry
) -> None:
    message_id = "message-id-that-must-not-be-a-dimension"
    host.deliver(booking(), message_id=message_id)
    graph.inject(Fault(status=429, retry_after="120"))
    with pytest.raises(GraphThrottled):
        host.deliver(booking(revision=None, recordId="BK-2"))
    result = host.sent.results()[0]
    forbidden = {message_id, result.external_id, result.record_id, result.meeting.id, ORGANIZER_ID}

    for name in METRICS:
        for attributes in telemetry.points(name):
            assert {key for key, _ in attributes} <= ALLOWED_ATTRIBUTES, (name, attributes)
            assert not forbidden & {str(value) for _, value in attributes}, (name, attributes)
