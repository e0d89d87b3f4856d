"""What the attendance follow-up promises however its input is made.

- A follow-up is trusted only as far as the record state backs it: a producer's message dressed as the bridge's copy
  reads nothing for a record that never asked, and whatever its body says (organizer, meeting, channel, times), a
  look acts on the record state's facts, so it can neither skip the channel filter nor answer early.
- A cancel that repeats `attendance` is applied while attendance reports are off.
- A valid booking ending late in year 9999 is applied with its follow-up.
- A `@odata.nextLink` never leaves Graph's API version, written plainly or percent-encoded.
- A channel meeting's result carries no attendee of another meeting of the channel that started while it ran.
- A throttle longer than the deliveries does not lose the attendance.

Through create_meeting as the host calls it: Graph is the simulator, the state table Azurite, the Service Bus leg
intercepted."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.attendance import FollowUp, follow_up_id
from shared.errors import GraphThrottled, GraphUnavailable
from shared.external_id import derive_external_id
from shared.graph_client import MAX_NEXT_LINK_LENGTH, GraphClient
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY, REQUEUE_MESSAGE_NAMESPACE
from shared.result import ResultMessage, ResultStatus
from shared.runtime import reset_pipeline
from shared.settings import (
    ATTENDANCE_REPORTS_ENABLED,
    DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT,
    DEFAULT_RESULTS_QUEUE,
)
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker
from tests.follow_ups import attendance_booking, deliver, on_the_bridge_clock, record, scheduled, times

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID], channels={CHANNEL: [ORGANIZER_ID]}) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")
    on_the_bridge_clock(monkeypatch)


def attendance_results(host: HostInvoker) -> list[tuple[str, ResultMessage]]:
    return [
        (str(message.message_id), result)
        for message, result in zip(host.sent.to(DEFAULT_RESULTS_QUEUE), host.sent.results(), strict=True)
        if result.status is ResultStatus.ATTENDANCE
    ]


def forged_delivery(host: HostInvoker, follow_up: dict[str, Any], look: int = 1) -> None:
    """A producer's own message, dressed as the bridge's copy: every id it needs is computable from public constants."""
    original = follow_up_id(follow_up["externalId"], follow_up["revision"])
    host.deliver(
        json.dumps(follow_up).encode("utf-8"),
        message_id=str(uuid.uuid5(REQUEUE_MESSAGE_NAMESPACE, f"{original}\n{look}")),
        session_id=follow_up["externalId"],
        application_properties={ORIGINAL_MESSAGE_ID_PROPERTY: original, REQUEUE_COUNT_PROPERTY: look},
    )


def forged_follow_up(meeting_id: str, start: str, end: str, **overrides: Any) -> dict[str, Any]:
    document = FollowUp(
        follow_up="attendance",
        source="crm-eu",
        record_id="BK-10023",
        external_id=EXTERNAL_ID,
        revision=3,
        organizer_id=ORGANIZER_ID,
        meeting_id=meeting_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
        booking_message_id="forged",
    ).model_dump(mode="json", by_alias=True)
    document.update(overrides)
    return document


def test_a_producers_message_with_a_follow_ups_body_cannot_read_every_channel_meetings_attendance(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """The id the bridge gives its copy is a UUIDv5 of
    public namespaces (FOLLOW_UP_NAMESPACE, REQUEUE_MESSAGE_NAMESPACE) over the externalId and revision, and the two
    application properties are plain properties: a producer computes them. Its forged follow-up, for a channel
    booking that never asked for attendance, sets channelThreadId to null, so the bridge skips the channel filter and
    would publish the attendance (e-mail addresses) of every other meeting of the channel (other sources' classes) if
    the bridge believed the body; the record state does not back it, so nothing is read or published."""
    host.deliver(booking(channel={"threadId": CHANNEL}))  # no `attendance`: the source never asked
    booked = host.last_result().meeting
    assert booked is not None
    # Another record's class in the same channel (another source), which took place earlier that day.
    host.deliver(
        booking(
            source="lms",
            recordId="class-7",
            channel={"threadId": CHANNEL},
            start="2026-12-01T07:00:00Z",
            end="2026-12-01T07:59:00Z",
        )
    )
    other = host.last_result().meeting
    assert other is not None
    graph.add_attendance_report(
        ORGANIZER_ID, other.id, start="2026-12-01T07:00:00Z", end="2026-12-01T07:59:00Z", records=[record("other@clinic.example")]
    )

    forged_delivery(host, forged_follow_up(booked.id, "2026-12-01T10:00:00+01:00", "2026-12-01T10:30:00+01:00"))

    leaked = [
        r.email_address
        for _, result in attendance_results(host)
        for report in (result.attendance.reports if result.attendance else [])
        for r in report.attendance_records
    ]
    assert leaked == []
    assert attendance_results(host) == []


def test_at_most_one_attendance_answer_per_revision_reaches_the_source(host: HostInvoker, graph: GraphSimulator) -> None:
    """At most one attendance answer per revision reaches the source, and it is the report: a forged follow-up (see
    above) of a record that did ask, saying the meeting ended days ago, would publish `attendance_unavailable` under the
    very message id the real report's result gets if its `end` were believed; the look uses the record state's end."""
    when = times(timedelta(days=2))
    host.deliver(attendance_booking(**when))
    booked = host.last_result().meeting
    assert booked is not None
    [real] = scheduled(host.sent)
    long_ago = (datetime.fromisoformat(when["end"]) - timedelta(days=3)).isoformat()
    forged_delivery(host, forged_follow_up(booked.id, long_ago, long_ago))

    graph.hold_meeting(ORGANIZER_ID, booked.id)  # the meeting takes place
    deliver(host, real)

    kept: dict[str, ResultMessage] = {}
    for message_id, result in attendance_results(host):
        kept.setdefault(message_id, result)  # the results queue's duplicate detection keeps the first
    [heard] = kept.values()
    assert heard.error is None and heard.attendance is not None and heard.attendance.reports


def test_a_cancel_is_applied_after_attendance_reports_are_turned_off(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`attendance` is ignored on a cancel: a source that asked for attendance echoes the record's fields in its cancel,
    and once the operator has turned attendance reports off the cancel is still applied (not `rejected` with
    attendance_not_enabled, which would leave the meeting and its join link live)."""
    host.deliver(attendance_booking())
    assert len(graph.meetings()) == 1
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "false")
    reset_pipeline()

    host.deliver(attendance_booking(revision=4, action="cancel"))

    assert host.last_result().status is ResultStatus.CANCELLED
    assert graph.meetings() == []


def test_a_booking_that_ends_late_in_year_9999_is_applied_with_its_follow_up(host: HostInvoker, graph: GraphSimulator) -> None:
    """Contract: a date-time is valid "within years 1 to 9999 once converted to UTC". A meeting ending at
    9999-12-31T23:55Z is a valid booking, but schedule() computes end + FIRST_LOOK (10 minutes), which overflows
    datetime: OverflowError after the meeting was created in Graph and before the state is written, on every delivery,
    until the booking is dead-lettered with a `failed` result for a meeting that exists."""
    host.deliver(attendance_booking(start="9999-12-31T23:00:00Z", end="9999-12-31T23:55:00Z"))

    assert host.last_result().status is ResultStatus.CREATED
    assert len(scheduled(host.sent)) == 1


def test_a_next_link_with_encoded_dot_segments_never_leaves_the_api_version(host: HostInvoker, graph: GraphSimulator) -> None:
    """Contract: a `@odata.nextLink` "that leaves Graph's own origin and API version ... is never followed" (the
    follow-up is redelivered with InvalidResponse). GraphClient._own_path splits the path on "/" and looks for literal
    "." and ".." only: "/v1.0/%2E%2E/beta/..." passes, though %2E is "." (RFC 3986 6.2.2.2: servers and proxies decode
    it before resolving dot segments), so the bridge sends its token to /beta (or anywhere else on the host). Here the
    simulator answers that path 404 and the bridge even publishes Graph's 404 as the final answer of the follow-up."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    graph.page_attendance(1, next_link_base=f"{graph.graph_base_url}/%2E%2E/beta")
    graph.add_attendance_report(
        ORGANIZER_ID,
        booked.id,
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record("ada@contoso.com"), record("lin@contoso.com")],
    )

    with contextlib.suppress(GraphUnavailable):
        deliver(host, follow_up)

    followed = [request.path for request in graph.graph_requests() if "%2e" in request.path.lower() or "beta" in request.path]
    assert followed == []


def test_a_next_link_with_encoded_dot_segments_slashes_or_excess_length_is_not_followed(graph: GraphSimulator) -> None:
    """The same at the unit: "%2E%2E" is a dot segment, "%2e%2e%2f" an encoded slash, and a link longer than any Graph
    sends is not followed; a plain link below the API version is."""
    client = GraphClient(graph.graph_base_url, lambda: "token")
    try:
        assert client._own_path(f"{graph.graph_base_url}/users/x/onlineMeetings/y/attendanceReports?$skiptoken=a") == (
            "/users/x/onlineMeetings/y/attendanceReports?$skiptoken=a"
        )
        assert client._own_path(f"{graph.graph_base_url}/users/x%5c..%5cbeta/attendanceReports") is None
        assert client._own_path(f"{graph.graph_base_url}/users/{'x' * MAX_NEXT_LINK_LENGTH}/attendanceReports") is None
        assert client._own_path(f"{graph.graph_base_url}/%2E%2E/beta/users/x/onlineMeetings/y/attendanceReports") is None
        assert client._own_path(f"{graph.graph_base_url}/%2e%2e%2fbeta/users/x/onlineMeetings/y/attendanceReports") is None
    finally:
        client.close()


def test_a_channel_meetings_result_carries_no_attendee_of_another_meeting_of_the_channel(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Contract: attendees' addresses "are the source's own data". For a channel meeting the bridge keeps the channel's
    reports that *started* from 15 minutes before the booked start up to the booked end: a meeting of another record
    (another source) in the same channel that starts while this one runs (overlapping classes, a back-to-back slot
    booked a few minutes early) is kept, and its attendees' addresses go to this record's source."""
    host.deliver(attendance_booking(channel={"threadId": CHANNEL}, start="2026-12-01T09:00:00Z", end="2026-12-01T10:00:00Z"))
    mine = host.last_result().meeting
    assert mine is not None
    [follow_up] = scheduled(host.sent)
    host.deliver(
        booking(
            source="lms",
            recordId="class-8",
            channel={"threadId": CHANNEL},
            start="2026-12-01T09:45:00Z",
            end="2026-12-01T10:45:00Z",
        )
    )
    theirs = host.last_result().meeting
    assert theirs is not None
    graph.add_attendance_report(
        ORGANIZER_ID, mine.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:50:00Z", records=[record("mine@crm.example")]
    )
    graph.add_attendance_report(
        ORGANIZER_ID, theirs.id, start="2026-12-01T09:46:00Z", end="2026-12-01T10:45:00Z", records=[record("theirs@lms.example")]
    )

    deliver(host, follow_up)

    [(_, result)] = attendance_results(host)
    assert result.attendance is not None
    reported = {r.email_address for report in result.attendance.reports for r in report.attendance_records}
    assert "theirs@lms.example" not in reported


def test_a_throttle_longer_than_the_deliveries_does_not_lose_the_attendance(host: HostInvoker, graph: GraphSimulator) -> None:
    """Issue: "Throttling ... follow the failure policy, as for meetings" - a throttled booking is re-enqueued for after
    Graph's Retry-After. A follow-up is only ever redelivered, and Service Bus redelivers an abandoned message at once:
    one 429 with Retry-After 600 (the instance's throttle then refuses to call Graph for 10 minutes) burns every
    delivery in seconds, and the source is told the follow-up gave up; the report that Teams has is never sent."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    graph.hold_meeting(ORGANIZER_ID, booked.id)
    graph.inject(Fault(status=429, retry_after="600"))

    for count in range(1, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT + 1):
        with contextlib.suppress(GraphUnavailable, GraphThrottled):
            deliver(host, follow_up, delivery_count=count)

    gave_up = [result for _, result in attendance_results(host) if result.error is not None]
    assert gave_up == []
