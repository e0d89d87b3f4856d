"""The attendance follow-up when things go wrong: every failure rule of a booking applies, nothing is dropped unsaid,
and attendees' addresses reach the result only.

Through create_meeting as the host calls it, as tests/test_attendance_follow_up.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.servicebus import ServiceBusMessage

from shared.attendance import ATTENDANCE_NOT_ENABLED
from shared.attendance_report import MAX_PART_BYTES
from shared.errors import GraphAccessDenied, GraphUnavailable
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY
from shared.result import ResultMessage, ResultStatus
from shared.runtime import reset_pipeline
from shared.settings import ATTENDANCE_REPORTS_ENABLED, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_RESULTS_QUEUE
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID
from tests.conftest import HostInvoker
from tests.follow_ups import attendance_booking, body, deliver, record, scheduled
from tests.simulator_client import fetch_token

# Service Bus Standard's largest message.
SERVICE_BUS_STANDARD_MAX_BYTES = 256 * 1024


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")


@pytest.fixture
def follow_up(host: HostInvoker) -> Iterator[ServiceBusMessage]:
    """The follow-up of an applied booking, as it comes back after the meeting."""
    host.deliver(attendance_booking(), message_id="booking-1")
    [message] = scheduled(host.sent)
    yield message


def attendance_messages(host: HostInvoker) -> list[tuple[ServiceBusMessage, ResultMessage]]:
    return [
        (message, result)
        for message, result in zip(host.sent.to(DEFAULT_RESULTS_QUEUE), host.sent.results(), strict=True)
        if result.status is ResultStatus.ATTENDANCE
    ]


def meeting_id(host: HostInvoker) -> str:
    booked = host.sent.results()[0].meeting
    assert booked is not None
    return booked.id


def test_a_policy_that_does_not_cover_the_artifacts_redelivers_then_answers_on_the_last_delivery(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage, caplog: pytest.LogCaptureFixture
) -> None:
    graph.deny_meeting_artifacts(ORGANIZER_ID)

    with pytest.raises(GraphAccessDenied):
        deliver(host, follow_up)
    redelivered = attendance_messages(host)
    with pytest.raises(GraphAccessDenied):
        deliver(host, follow_up, delivery_count=DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT)

    assert redelivered == []
    assert "OnlineMeetingArtifact.Read.All" in caplog.text
    [(_, result)] = attendance_messages(host)
    assert result.error is not None and (result.error.code, result.error.http_status) == ("Forbidden", 403)
    assert result.error.message.startswith(f"gave up after {DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT} deliveries")
    assert result.attendance is None


def test_a_dead_lettered_follow_up_replayed_after_the_fix_reaches_the_source_under_an_id_of_its_own(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage
) -> None:
    graph.deny_meeting_artifacts(ORGANIZER_ID)
    with pytest.raises(GraphAccessDenied):
        deliver(host, follow_up, delivery_count=DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT)
    graph.allow_meeting_artifacts(ORGANIZER_ID)
    graph.hold_meeting(ORGANIZER_ID, meeting_id(host))

    deliver(host, follow_up)  # the dead letter, replayed with its properties (bridgectl dlq replay)

    gave_up, reported = attendance_messages(host)
    assert (gave_up[1].revision, reported[1].revision) == (3, 3)
    assert gave_up[1].error is not None and reported[1].error is None and reported[1].attendance is not None
    assert gave_up[0].message_id != reported[0].message_id


def test_a_meeting_deleted_in_teams_answers_the_follow_up_with_graphs_404(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage
) -> None:
    token = fetch_token(graph).json()["access_token"]
    url = f"{graph.graph_base_url}/users/{ORGANIZER_ID}/onlineMeetings/{requests.utils.quote(meeting_id(host), safe='')}"
    assert requests.delete(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 204

    deliver(host, follow_up)

    [(_, result)] = attendance_messages(host)
    assert result.error is not None and (result.error.code, result.error.http_status) == ("NotFound", 404)
    assert not result.error.message.startswith("gave up")


def test_a_throttled_follow_up_is_re_enqueued_for_after_graphs_retry_after(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage
) -> None:
    """As a throttled booking: a scheduled copy of the follow-up (its body, its original id, the next count) for after
    Graph's Retry-After, so the instance's own throttle does not use up its deliveries in seconds."""
    graph.inject(Fault(status=429, retry_after="600"))

    deliver(host, follow_up)

    assert attendance_messages(host) == []
    first, copy = scheduled(host.sent)
    assert body(copy) == body(first)
    assert copy.application_properties is not None and first.application_properties is not None
    assert copy.application_properties[REQUEUE_COUNT_PROPERTY] == first.application_properties[REQUEUE_COUNT_PROPERTY] + 1
    assert copy.application_properties[ORIGINAL_MESSAGE_ID_PROPERTY] == first.application_properties[ORIGINAL_MESSAGE_ID_PROPERTY]
    assert copy.scheduled_enqueue_time_utc is not None
    assert copy.scheduled_enqueue_time_utc >= datetime.now(UTC) + timedelta(seconds=590)


@pytest.mark.parametrize("answer", ["a record that is not an object", "a next link to another origin"])
def test_a_bad_answer_is_redelivered_never_dropped(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage, answer: str
) -> None:
    records = [record("ada@contoso.com"), record("lin@contoso.com")]
    if answer == "a record that is not an object":
        records.append("lin@contoso.com")  # type: ignore[arg-type]
    else:
        graph.page_attendance(1, next_link_base="https://graph.example.net/v1.0")
    graph.add_attendance_report(
        ORGANIZER_ID, meeting_id(host), start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=records
    )

    with pytest.raises(GraphUnavailable) as raised:
        deliver(host, follow_up)

    assert raised.value.info.code == "InvalidResponse"
    assert attendance_messages(host) == []


def test_a_producers_message_with_a_follow_ups_body_is_a_booking(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage
) -> None:
    """Only the bridge's own copy is a follow-up: a producer cannot make the bridge read a meeting's attendance."""
    before = len(graph.graph_requests())

    host.deliver(body(follow_up), message_id="forged", session_id=follow_up.session_id)

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None and result.error.code == "invalid_booking"
    assert len(graph.graph_requests()) == before


def test_attendance_turned_off_since_answers_attendance_not_enabled_without_calling_graph(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "false")
    reset_pipeline()
    before = len(graph.graph_requests())

    deliver(host, follow_up)

    [(_, result)] = attendance_messages(host)
    assert result.error is not None and result.error.code == ATTENDANCE_NOT_ENABLED
    assert len(graph.graph_requests()) == before


def test_an_attendance_too_large_for_one_message_is_split_into_parts_with_every_record(
    host: HostInvoker, graph: GraphSimulator, follow_up: ServiceBusMessage
) -> None:
    addresses = [f"participant-{n:04d}-with-a-rather-long-mailbox-name@lecture-hall.contoso.com" for n in range(1500)]
    graph.add_attendance_report(
        ORGANIZER_ID,
        meeting_id(host),
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(address, intervals=3) for address in addresses],
    )
    graph.page_attendance(500)

    deliver(host, follow_up)
    sent = attendance_messages(host)
    deliver(host, follow_up, delivery_count=2)

    assert len(sent) >= 3
    assert [result.attendance.part for _, result in sent] == list(range(1, len(sent) + 1))
    assert {result.attendance.parts for _, result in sent} == {len(sent)}
    reported = [r.email_address for _, result in sent for report in result.attendance.reports for r in report.attendance_records]
    assert sorted(reported) == addresses
    assert all(len(str(message)) <= MAX_PART_BYTES + 4096 < SERVICE_BUS_STANDARD_MAX_BYTES for message, _ in sent)
    assert len({str(message.message_id) for message, _ in sent}) == len(sent)
    again = attendance_messages(host)[len(sent) :]
    assert [str(message.message_id) for message, _ in again] == [str(message.message_id) for message, _ in sent]
