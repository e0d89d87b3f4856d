"""One answer per revision: every answer of a follow-up is remembered before it is published, whatever it is, and only
a follow-up the record state backs answers anyone.

- An answer given at once (attendance reports turned off) is answered again on a redelivery, whatever Graph holds by
  then.
- A throttle met while a redelivery publishes parts again redelivers the follow-up rather than re-enqueueing it: its
  copy would be another look, which publishes nothing.
- A follow-up that fails before the record state backs it answers nobody, even on its last delivery.
- A meeting late in year 9999, with no time after it for a look, is answered attendance_out_of_range.
- A copy of a follow-up whose state keeps no meeting times is ignored before its own end makes it due.

Through create_meeting as the host calls it, as tests/test_attendance_answers_under_faults.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.attendance import ATTENDANCE_NOT_ENABLED, ATTENDANCE_OUT_OF_RANGE, ATTENDANCE_UNAVAILABLE
from shared.errors import GraphThrottled, GraphUnavailable, PublishError, StateStoreError
from shared.external_id import derive_external_id
from shared.record_state import RecordState, TableRecordStateStore
from shared.runtime import reset_pipeline
from shared.settings import ATTENDANCE_REPORTS_ENABLED, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID
from tests.conftest import HostInvoker
from tests.follow_ups import attendance_booking, deliver, follow_up_of, on_the_bridge_clock, scheduled, times
from tests.test_attendance_answers_under_faults import ResultsOutage, attendance_results, heard, large_report, one_answer
from tests.test_attendance_edges import forged_copy

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def attendance_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, "true")
    on_the_bridge_clock(monkeypatch)


def reports_enabled(monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    monkeypatch.setenv(ATTENDANCE_REPORTS_ENABLED, str(enabled).lower())
    reset_pipeline()


def test_an_answer_given_at_once_is_answered_again_on_a_redelivery_whatever_graph_holds_by_then(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attendance reports are turned off when the follow-up runs: attendance_not_enabled. Its settlement is lost;
    they are on again and Teams has made the report when it is redelivered: the redelivery publishes the same answer
    under the same id (which duplicate detection drops), not the report after an answer that said there would be none."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    reports_enabled(monkeypatch, False)
    deliver(host, follow_up)
    reports_enabled(monkeypatch, True)
    graph.hold_meeting(ORGANIZER_ID, booked.id)
    before = len(graph.graph_requests())

    deliver(host, follow_up, delivery_count=2)

    [(first_id, first), (again_id, again)] = attendance_results(host)
    assert first_id == again_id
    assert [result.error.code if result.error else None for result in (first, again)] == [ATTENDANCE_NOT_ENABLED] * 2
    assert again.attendance is None
    assert len(graph.graph_requests()) == before


def test_a_throttle_met_while_parts_are_published_again_redelivers_rather_than_re_enqueues(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1 is published, the results queue refuses part 2; the redelivery, reading the remembered reports again,
    meets a 429 whose Retry-After is longer than the invocation has left. A booking would be re-enqueued; the
    follow-up's copy would be another look, and a look other than the one that answered publishes nothing, so the
    source would hold part 1 for good. It is redelivered, and its next delivery publishes the rest."""
    host.deliver(attendance_booking())
    booked = host.last_result().meeting
    assert booked is not None
    [follow_up] = scheduled(host.sent)
    large_report(graph, booked.id)
    outage = ResultsOutage(monkeypatch, host, taken=1)
    with pytest.raises(PublishError):
        deliver(host, follow_up)
    outage.restore()
    graph.inject(Fault(status=429, retry_after="600"))

    with pytest.raises(GraphUnavailable) as raised:
        deliver(host, follow_up, delivery_count=2)

    assert not isinstance(raised.value, GraphThrottled)
    assert scheduled(host.sent) == [follow_up]
    host.wait_out_retry_after()
    deliver(host, follow_up, delivery_count=3)
    received = heard(host)
    assert len(received) > 1 and one_answer(received)


def test_a_follow_up_that_fails_before_its_state_backs_it_answers_nobody_on_its_last_delivery(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record state cannot be read on the follow-up's last delivery: nothing vouches for its body (which anyone
    who can send to the bookings queue can write), so no `attendance` result is built from it; it is dead-lettered."""
    host.deliver(attendance_booking())
    [follow_up] = scheduled(host.sent)

    def unreadable(store: TableRecordStateStore, external_id: str) -> RecordState | None:
        raise StateStoreError("injected: the state table is unreachable")

    monkeypatch.setattr(TableRecordStateStore, "read", unreadable)
    with pytest.raises(StateStoreError):
        deliver(host, follow_up, delivery_count=DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT)

    assert attendance_results(host) == []


def test_a_meeting_late_in_year_9999_is_answered_out_of_range_without_asking_graph(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """No look can be scheduled after a meeting that ends on the last day of year 9999: its only look, before the
    meeting, says so (not attendance_unavailable, which would claim the meeting took place without a report)."""
    host.deliver(attendance_booking(start="9999-12-31T23:00:00+00:00", end="9999-12-31T23:55:00+00:00"))
    [follow_up] = scheduled(host.sent)
    before = len(graph.graph_requests())

    deliver(host, follow_up)

    [(_, answer)] = attendance_results(host)
    assert answer.error is not None and answer.error.code == ATTENDANCE_OUT_OF_RANGE
    assert answer.attendance is None
    assert len(graph.graph_requests()) == before


def test_a_copy_before_its_own_end_of_a_follow_up_whose_state_keeps_no_times_is_ignored(
    host: HostInvoker, graph: GraphSimulator, azurite: str
) -> None:
    """A record state the previous release wrote, keeping neither AttendanceWindow nor the booking: the copy's own end
    is the only one there is, and a copy before it is due is ignored as any early copy; the follow-up, once due, tells
    the source that the times are not known."""
    host.deliver(attendance_booking(**times(timedelta(days=2))))
    [follow_up] = scheduled(host.sent)
    store = TableRecordStateStore.for_emulator(azurite, os.environ["RECORD_STATE_TABLE"])
    state = store.read(EXTERNAL_ID)
    assert state is not None
    store.write(replace(state, attendance_window=None, applied_booking=None), state)
    body: dict[str, Any] = follow_up_of(follow_up).model_dump(mode="json", by_alias=True)

    forged_copy(host, body)

    assert attendance_results(host) == []
    deliver(host, follow_up)
    [(_, answer)] = attendance_results(host)
    assert answer.error is not None and answer.error.code == ATTENDANCE_UNAVAILABLE
