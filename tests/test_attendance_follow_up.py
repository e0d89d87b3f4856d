"""After the meeting: the follow-up a booking schedules on the bookings queue, and the `attendance` result it publishes.

Through create_meeting as the host calls it: Graph is the simulator on loopback (attendance reports added as Teams
would make them), the state table Azurite, the Service Bus leg intercepted; a follow-up is delivered back as Service
Bus would hand it over once its time came."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusMessage

from shared.attendance import ATTENDANCE_UNAVAILABLE, FIRST_LOOK, LAST_LOOK, follow_up_id
from shared.external_id import derive_external_id
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY
from shared.result import ResultStatus
from shared.settings import ATTENDANCE_REPORTS_ENABLED, CALENDAR_EVENTS_ENABLED, DEFAULT_RESULTS_QUEUE
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID
from tests.conftest import HostInvoker
from tests.follow_ups import attendance_booking, deliver, follow_up_of, on_the_bridge_clock, record, scheduled, times

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
OTHER_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"
CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"
# The margin shared.requeue adds to every scheduled copy.
MARGIN = timedelta(seconds=1)


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    organizers = [ORGANIZER_ID, OTHER_ORGANIZER]
    with GraphSimulator(known_organizers=organizers, channels={CHANNEL: organizers}) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")
    on_the_bridge_clock(monkeypatch)


def attendance_results(host: HostInvoker) -> list[tuple[str, object]]:
    """(message id, result) of every attendance result published so far."""
    return [
        (str(message.message_id), result)
        for message, result in zip(host.sent.to(DEFAULT_RESULTS_QUEUE), host.sent.results(), strict=True)
        if result.status is ResultStatus.ATTENDANCE
    ]


def scheduled_for(message: ServiceBusMessage, expected: datetime) -> bool:
    """Whether the message is scheduled for `expected` (to the millisecond: it is computed as a delay from the clock)."""
    when = message.scheduled_enqueue_time_utc
    return when is not None and abs(when - expected) < timedelta(milliseconds=1)


def test_an_applied_booking_schedules_its_follow_up_in_the_records_session_after_the_meetings_end(host: HostInvoker) -> None:
    when = times(timedelta(hours=3))
    host.deliver(attendance_booking(**when), message_id="booking-1", correlation_id="crm-correlation")

    created = host.last_result()
    [message] = scheduled(host.sent)
    follow_up = follow_up_of(message)
    end = datetime.fromisoformat(when["end"])
    assert created.status is ResultStatus.CREATED
    assert message.session_id == EXTERNAL_ID
    assert scheduled_for(message, end + FIRST_LOOK + MARGIN)
    assert message.correlation_id == "crm-correlation"
    assert message.application_properties == {
        ORIGINAL_MESSAGE_ID_PROPERTY: follow_up_id(EXTERNAL_ID, 3),
        REQUEUE_COUNT_PROPERTY: 1,
    }
    assert (follow_up.revision, follow_up.organizer_id, follow_up.meeting_id) == (3, ORGANIZER_ID, created.meeting.id)
    assert follow_up.booking_message_id == "booking-1"


def test_a_resend_or_a_redelivery_of_the_same_revision_schedules_no_second_follow_up(host: HostInvoker) -> None:
    host.deliver(attendance_booking(), message_id="booking-1")
    host.deliver(attendance_booking(), message_id="booking-1", delivery_count=2)
    host.deliver(attendance_booking(), message_id="resent")

    assert len(scheduled(host.sent)) == 1


def test_the_follow_up_publishes_one_attendance_result_with_every_report_and_every_record(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """A meeting joined again makes a second report; records come from every page."""
    host.deliver(attendance_booking(), message_id="booking-1")
    meeting_id = host.last_result().meeting.id
    graph.add_attendance_report(
        ORGANIZER_ID,
        meeting_id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(f"person-{n}@contoso.com") for n in range(7)],
    )
    graph.add_attendance_report(
        ORGANIZER_ID, meeting_id, start="2026-12-01T09:40:00Z", end="2026-12-01T09:45:00Z", records=[record("ada@contoso.com")]
    )
    graph.page_attendance(2)

    deliver(host, scheduled(host.sent)[0])

    [(_, result)] = attendance_results(host)
    assert (result.source, result.record_id, result.revision, result.external_id) == ("crm-eu", "BK-10023", 3, EXTERNAL_ID)
    assert result.booking_message_id == "booking-1" and result.error is None and result.meeting is None
    first, again = result.attendance.reports
    assert (first.meeting_start_date_time, again.meeting_start_date_time) == (
        datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 40, tzinfo=UTC),
    )
    assert [r.email_address for r in first.attendance_records] == [f"person-{n}@contoso.com" for n in range(7)]
    assert first.total_participant_count == 7
    assert first.attendance_records[0].attendance_intervals[0].duration_in_seconds == 30
    assert first.attendance_records[0].total_attendance_in_seconds == 1500
    assert [r.email_address for r in again.attendance_records] == ["ada@contoso.com"]
    assert (result.attendance.part, result.attendance.parts, result.attendance.meeting_id) == (1, 1, meeting_id)
    assert len(scheduled(host.sent)) == 1  # nothing more to look for


def test_a_redelivered_follow_up_publishes_nothing_new(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(attendance_booking())
    graph.hold_meeting(ORGANIZER_ID, host.last_result().meeting.id)
    [message] = scheduled(host.sent)

    deliver(host, message)
    deliver(host, message, delivery_count=2)

    first, second = attendance_results(host)
    assert first[0] == second[0]  # the results queue's duplicate detection keeps the first


def test_no_report_yet_schedules_the_next_look_later(host: HostInvoker) -> None:
    """An hour after the end, looks at 10, 20 and 40 minutes have passed: the next is 80 minutes after the end."""
    when = times(timedelta(hours=-1))
    host.deliver(attendance_booking(**when))
    [first] = scheduled(host.sent)

    deliver(host, first)

    [_, later] = scheduled(host.sent)
    assert attendance_results(host) == []
    assert scheduled_for(later, datetime.fromisoformat(when["end"]) + timedelta(minutes=80) + MARGIN)
    assert later.application_properties[REQUEUE_COUNT_PROPERTY] == 2
    assert later.session_id == EXTERNAL_ID and follow_up_of(later) == follow_up_of(first)


def test_past_the_limit_a_look_without_a_report_publishes_attendance_unavailable(host: HostInvoker) -> None:
    host.deliver(attendance_booking(**times(-LAST_LOOK - timedelta(hours=1))))

    deliver(host, scheduled(host.sent)[0])

    [(_, result)] = attendance_results(host)
    assert result.error is not None and result.error.code == ATTENDANCE_UNAVAILABLE
    assert result.attendance is not None and result.attendance.reports == []
    assert len(scheduled(host.sent)) == 1


def test_a_reschedule_before_the_follow_up_fires_makes_it_report_nothing_and_the_new_revision_has_its_own(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(attendance_booking(revision=3))
    new_times = times(timedelta(days=2))
    host.deliver(attendance_booking(revision=4, **new_times))
    old, new = scheduled(host.sent)
    graph.hold_meeting(ORGANIZER_ID, host.last_result().meeting.id)
    before = len(graph.graph_requests())

    deliver(host, old)

    assert attendance_results(host) == []
    assert len(graph.graph_requests()) == before  # a stale follow-up asks Graph for nothing
    assert follow_up_of(new).revision == 4
    assert scheduled_for(new, datetime.fromisoformat(new_times["end"]) + FIRST_LOOK + MARGIN)
    deliver(host, new)
    [(_, result)] = attendance_results(host)
    assert result.revision == 4


def test_a_cancelled_records_follow_up_reports_nothing_and_asks_graph_nothing(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(attendance_booking(revision=3))
    host.deliver(
        {
            "schemaVersion": 1,
            "source": "crm-eu",
            "recordId": "BK-10023",
            "revision": 4,
            "action": "cancel",
            "organizerId": ORGANIZER_ID,
        }
    )
    before = len(graph.graph_requests())

    deliver(host, scheduled(host.sent)[0])

    assert attendance_results(host) == []
    assert len(graph.graph_requests()) == before


def test_a_move_to_another_organizer_reads_the_report_of_the_meeting_that_took_place(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(attendance_booking(revision=3))
    host.deliver(attendance_booking(revision=4, organizerId=OTHER_ORGANIZER))
    moved = host.last_result().meeting
    graph.hold_meeting(OTHER_ORGANIZER, moved.id)
    old, new = scheduled(host.sent)

    deliver(host, old)
    deliver(host, new)

    [(_, result)] = attendance_results(host)
    assert (result.revision, result.organizer_id, result.attendance.meeting_id) == (4, OTHER_ORGANIZER, moved.id)
    assert {r.user_id for r in result.attendance.reports[0].attendance_records} >= {OTHER_ORGANIZER}


def test_a_calendar_booking_reads_the_reports_of_the_events_teams_meeting(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event's Teams meeting is the onlineMeeting the bridge found by the event's join URL."""
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")
    host.deliver(attendance_booking(calendar={"sendInvitations": True}))
    booked = host.last_result().meeting
    [event] = graph.events()
    assert booked.join_web_url == event["onlineMeeting"]["joinUrl"]
    graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start="2026-12-01T09:02:00Z", end="2026-12-01T09:31:00Z", records=[record("ada@contoso.com")]
    )

    deliver(host, scheduled(host.sent)[0])

    [(_, result)] = attendance_results(host)
    assert result.attendance.meeting_id == booked.id
    assert [r.email_address for r in result.attendance.reports[0].attendance_records] == ["ada@contoso.com"]


def test_a_channel_meeting_reports_only_the_sessions_at_its_own_times(host: HostInvoker, graph: GraphSimulator) -> None:
    """Graph lists the reports of every meeting of a channel for any one of them; the bridge keeps its meeting's."""
    host.deliver(attendance_booking(channel={"threadId": CHANNEL}))
    meeting_id = host.last_result().meeting.id
    for start, address in (
        ("2026-12-01T08:50:00Z", "early@contoso.com"),  # joined ten minutes early: this meeting
        ("2026-12-01T07:00:00Z", "earlier-class@contoso.com"),
        ("2026-12-01T09:30:00Z", "next-class@contoso.com"),  # starts as this one ends
    ):
        ended = start.replace(":00Z", ":59Z")
        graph.add_attendance_report(ORGANIZER_ID, meeting_id, start=start, end=ended, records=[record(address)])

    deliver(host, scheduled(host.sent)[0])

    [(_, result)] = attendance_results(host)
    assert [[r.email_address for r in report.attendance_records] for report in result.attendance.reports] == [
        ["early@contoso.com"]
    ]
