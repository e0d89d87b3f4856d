"""What an attendance follow-up promises at its edges: across redeliveries, against a Graph that answers without end,
against a copy that comes early, and for a follow-up scheduled by a release that kept no AttendanceWindow.

- The results of one follow-up are the same across its redeliveries: a report Teams makes in between is not in them
  (nor does it follow an answer that there is none), and parts already published are never cut again differently
  under their message ids.
- One follow-up holds a bounded attendance: beyond it the source gets an `attendance` result with
  attendance_too_large, never a result with records silently left out.
- A copy of a backed follow-up that comes before the follow-up is due is ignored and consumes no message id.
- A follow-up whose record state has AttendanceScheduled but no AttendanceWindow still answers the source.

Through create_meeting as the host calls it: Graph is the simulator, the state table Azurite, the Service Bus leg
intercepted."""

from __future__ import annotations

import json
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.attendance import ATTENDANCE_TOO_LARGE, ATTENDANCE_UNAVAILABLE, LAST_LOOK, FollowUp, follow_up_id
from shared.attendance_report import MAX_RECORDS
from shared.errors import GraphUnavailable
from shared.external_id import derive_external_id
from shared.record_state import TableRecordStateStore
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY, REQUEUE_MESSAGE_NAMESPACE
from shared.result import ResultMessage, ResultStatus
from shared.settings import ATTENDANCE_REPORTS_ENABLED, DEFAULT_RESULTS_QUEUE
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID
from tests.conftest import HostInvoker
from tests.follow_ups import attendance_booking, deliver, follow_up_of, on_the_bridge_clock, record, scheduled, times

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
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


def heard(host: HostInvoker) -> dict[str, ResultMessage]:
    """What the source gets: the results queue's duplicate detection keeps the first message of each id."""
    kept: dict[str, ResultMessage] = {}
    for message_id, result in attendance_results(host):
        kept.setdefault(message_id, result)
    return kept


def forged_copy(host: HostInvoker, follow_up: dict[str, Any], look: int = 1) -> None:
    """A producer's own message, dressed as the bridge's copy: every id it needs is computable from public constants."""
    original = follow_up_id(follow_up["externalId"], follow_up["revision"])
    host.deliver(
        json.dumps(follow_up).encode("utf-8"),
        message_id=str(uuid.uuid5(REQUEUE_MESSAGE_NAMESPACE, f"{original}\n{look}")),
        session_id=follow_up["externalId"],
        application_properties={ORIGINAL_MESSAGE_ID_PROPERTY: original, REQUEUE_COUNT_PROPERTY: look},
    )


def test_a_redelivered_follow_up_publishes_nothing_new_when_teams_made_another_report_meanwhile(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """A follow-up published its parts, its settlement was lost, and Teams made another report (the meeting was
    joined again) before it came back: the redelivery republishes the same parts under the same ids, and the source
    holds one consistent answer (every part it was told of, of one cut)."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    first = [
        record(f"attendee-{n:04d}-with-a-rather-long-mailbox-name@lecture-hall.contoso.com", intervals=3) for n in range(900)
    ]
    graph.add_attendance_report(ORGANIZER_ID, booked.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=first)
    graph.page_attendance(500)
    deliver(host, follow_up)
    published = heard(host)
    rejoined = [
        record(f"rejoined-{n:04d}-with-a-rather-long-mailbox-name@lecture-hall.contoso.com", intervals=3) for n in range(1500)
    ]
    graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start="2026-12-01T09:40:00Z", end="2026-12-01T09:50:00Z", records=rejoined
    )

    deliver(host, follow_up, delivery_count=2)

    assert heard(host) == published
    parts = sorted(published.values(), key=lambda result: result.attendance.part if result.attendance else 0)
    assert [result.attendance.part for result in parts if result.attendance] == list(range(1, len(parts) + 1))
    assert {result.attendance.parts for result in parts if result.attendance} == {len(parts)}
    addresses = [
        r.email_address for result in parts if result.attendance for p in result.attendance.reports for r in p.attendance_records
    ]
    assert sorted(addresses) == sorted(person["emailAddress"] for person in first)


def test_a_redelivered_last_look_answers_unavailable_again_when_teams_made_a_report_meanwhile(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """The last look found no report and answered attendance_unavailable, its settlement was lost, and Teams made a
    report of several parts before it came back: the source keeps the one answer it has, no part 2 of 1."""
    host.deliver(attendance_booking(**times(-LAST_LOOK - timedelta(hours=1))))
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    deliver(host, follow_up)
    published = heard(host)
    late = [record(f"late-{n:04d}-with-a-rather-long-mailbox-name@lecture-hall.contoso.com", intervals=3) for n in range(1500)]
    graph.add_attendance_report(ORGANIZER_ID, booked.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=late)

    deliver(host, follow_up, delivery_count=2)

    assert heard(host) == published
    [answer] = published.values()
    assert answer.error is not None and answer.error.code == ATTENDANCE_UNAVAILABLE


def test_a_redelivery_that_reads_other_records_than_it_published_publishes_none_of_them(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """A report's records differ on redelivery from what was published (a Graph that answers inconsistently): no part
    is published under the ids of the published ones; the follow-up fails as on a bad Graph answer."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    report = graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=[record("ada@contoso.com")]
    )
    deliver(host, follow_up)
    published = attendance_results(host)
    graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=[record("eve@contoso.com")]
    )
    graph.remove_attendance_report(ORGANIZER_ID, booked.id, report)

    with pytest.raises(GraphUnavailable):
        deliver(host, follow_up, delivery_count=2)

    assert attendance_results(host) == published


@pytest.mark.parametrize(
    ("records", "page_size"),
    [([{}] * (3 * MAX_RECORDS), MAX_RECORDS // 4), ([record(f"p{n}@contoso.com", intervals=100) for n in range(1000)], 100)],
    ids=["more records than it holds, empty", "more bytes than it holds, records of many intervals"],
)
def test_a_follow_ups_memory_is_bounded_whatever_graph_answers(
    host: HostInvoker, graph: GraphSimulator, records: list[dict[str, Any]], page_size: int
) -> None:
    """A report with more than one follow-up holds: the follow-up stops reading past the bound, its memory stays
    bounded, and the source gets one `attendance` result that says so, no records cut off unsaid."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start="2026-12-01T09:00:00Z", end="2026-12-01T09:30:00Z", records=records
    )
    graph.page_attendance(page_size)
    tracemalloc.start()
    try:
        deliver(host, follow_up)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    [(_, result)] = attendance_results(host)
    assert result.error is not None and result.error.code == ATTENDANCE_TOO_LARGE
    assert result.attendance is None
    record_pages = [request for request in graph.graph_requests() if "attendanceRecords" in request.path]
    assert len(record_pages) < len(records) // page_size  # never every page Graph holds
    assert peak < 64 * 1024 * 1024


def test_a_copy_of_a_backed_follow_up_before_it_is_due_reports_nothing_and_consumes_no_id(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """A producer's copy of a follow-up the state backs, sent while the meeting is still to come: ignored; the real
    follow-up, once due, publishes the report under the ids the copy did not take."""
    when = times(timedelta(days=2))
    host.deliver(attendance_booking(**when))
    booked = host.last_result().meeting
    assert booked is not None
    [real] = scheduled(host.sent)
    graph.add_attendance_report(
        ORGANIZER_ID, booked.id, start=when["start"], end=when["start"], records=[record("early@contoso.com")]
    )
    before = len(graph.graph_requests())

    forged_copy(host, follow_up_of(real).model_dump(mode="json", by_alias=True))

    assert attendance_results(host) == []
    assert len(graph.graph_requests()) == before
    graph.hold_meeting(ORGANIZER_ID, booked.id)
    deliver(host, real)
    [answer] = heard(host).values()
    assert answer.attendance is not None and len(answer.attendance.reports) == 2


def legacy_state(azurite: str) -> TableRecordStateStore:
    return TableRecordStateStore.for_emulator(azurite, os.environ["RECORD_STATE_TABLE"])


def test_a_follow_up_scheduled_before_attendance_windows_reads_the_meeting_times_from_the_kept_booking(
    host: HostInvoker, graph: GraphSimulator, azurite: str
) -> None:
    """A record state the previous release wrote (AttendanceScheduled, no AttendanceWindow): its follow-up reads the
    report with the times of the booking the state keeps, and the source gets its attendance result."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    store = legacy_state(azurite)
    state = store.read(EXTERNAL_ID)
    assert state is not None and state.attendance_window is not None
    store.write(replace(state, attendance_window=None), state)
    graph.hold_meeting(ORGANIZER_ID, booked.id)

    deliver(host, follow_up)

    [(_, result)] = attendance_results(host)
    assert result.error is None and result.attendance is not None and result.attendance.reports
    assert result.booking_message_id == follow_up_of(follow_up).booking_message_id


def test_a_follow_up_scheduled_before_attendance_windows_without_a_kept_booking_is_answered(
    host: HostInvoker, graph: GraphSimulator, azurite: str
) -> None:
    """The same, where the state keeps no booking to read the times from: the source is told, not left waiting."""
    host.deliver(attendance_booking())
    [follow_up] = scheduled(host.sent)
    store = legacy_state(azurite)
    state = store.read(EXTERNAL_ID)
    assert state is not None
    store.write(replace(state, attendance_window=None, applied_booking=None), state)

    deliver(host, follow_up)

    [(_, result)] = attendance_results(host)
    assert result.error is not None and result.error.code == ATTENDANCE_UNAVAILABLE
    assert result.revision == follow_up_of(follow_up).revision
    assert isinstance(follow_up_of(follow_up), FollowUp)
