"""A calendar record whose event is gone (cancelled, deleted in Outlook, moved away) is booked again with a new event:
a POST after a lookup that found no live event never repeats a dead event's transactionId, with or without the
record state; and a cancel finds the record's event even when the state table was lost."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.errors import GraphUnavailable
from shared.record_lifecycle import PREVIOUS_MEETING_NOT_REMOVED
from shared.result import ResultStatus
from shared.runtime import reset_pipeline
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker
from tests.simulator_client import fetch_token

SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"
INVITED = {"sendInvitations": True}
LAST = 10  # DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT: the result is published rather than the message redelivered


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def deliver_last(host: HostInvoker, document: dict[str, Any]) -> None:
    """Deliver as the queue's last delivery: a failure is published as a `failed` result (and then raised)."""
    with contextlib.suppress(Exception):
        host.deliver(document, delivery_count=LAST)


def test_an_event_the_organizer_deleted_in_outlook_is_booked_again_by_the_next_revision(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(calendar=INVITED))
    [event] = graph.events()
    # The organizer deletes the event in Outlook (a person may always do that).
    token = fetch_token(graph).json()["access_token"]
    answer = requests.delete(
        f"{graph.graph_base_url}/users/{ORGANIZER_ID}/events/{event['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 204

    deliver_last(host, booking(revision=4, subject="Rescheduled", calendar=INVITED))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED, (result.status, result.error)
    assert [live["subject"] for live in graph.events()] == ["Rescheduled"]


def test_a_calendar_booking_moved_back_to_its_first_organizer_is_booked(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1, calendar=INVITED))
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER, calendar=INVITED))
    assert host.last_result().status is ResultStatus.CREATED

    deliver_last(host, booking(revision=3, calendar=INVITED))  # back to the first organizer

    result = host.last_result()
    assert result.status is ResultStatus.CREATED, (result.status, result.error)
    assert [live["_organizerId"] for live in graph.events()] == [ORGANIZER_ID]


def test_a_cancelled_record_booked_again_after_the_state_table_was_lost_gets_an_event(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(booking(revision=1, calendar=INVITED))
    host.deliver(cancel(revision=2))
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")  # the record state is lost
    reset_pipeline()

    deliver_last(host, booking(revision=3, calendar=INVITED))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED, (result.status, result.error)
    assert len(graph.events()) == 1


def test_a_cancel_without_calendar_after_the_state_table_was_lost_cancels_the_event(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(booking(revision=1, calendar=INVITED))
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")  # the record state is lost
    reset_pipeline()

    host.deliver(cancel(revision=2))  # a cancel names no mode: the record's is the bridge's to know

    result = host.last_result()
    assert result.status is ResultStatus.CANCELLED
    assert graph.events() == [], "the attendees still hold a live event with its Teams meeting"
    assert result.meeting_existed is True


def test_an_event_left_behind_that_a_failed_move_back_found_again_stays_the_records_event(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1, calendar=INVITED))
    [first] = graph.events()
    for _ in range(3):  # the GET of the first organizer's event, the JoinWebUrl lookup, the lock
        graph.inject(Fault())
    graph.inject(Fault(status=403))  # the cancel of the first organizer's event is refused: it is left behind
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER, calendar=INVITED))
    assert host.last_result().warnings[0].code == PREVIOUS_MEETING_NOT_REMOVED

    # Back to the first organizer: the leftover is still refused; the move finds it as the record's event again
    # (a move creates or finds first), and then cannot cancel the second organizer's event yet (a 500).
    for _ in range(3):  # settle: the GET of the leftover, the JoinWebUrl lookup, the lock
        graph.inject(Fault())
    graph.inject(Fault(status=403))  # ... and its cancel, refused again
    for _ in range(5):  # the lookup by property, the JoinWebUrl lookup; the second organizer's event: GET, lookup, lock
        graph.inject(Fault())
    graph.inject(Fault(status=500))  # ... and its cancel fails for now: redelivered, the state knows both events
    with pytest.raises(GraphUnavailable):
        host.deliver(booking(revision=3, calendar=INVITED))

    host.deliver(booking(revision=4, calendar=INVITED))

    assert host.last_result().status in (ResultStatus.EXISTING, ResultStatus.UPDATED), host.last_result().error
    assert [live["id"] for live in graph.events()] == [first["id"]], "the record's live event was retired as a leftover"
    assert [cancelled["_organizerId"] for cancelled in graph.events("cancelled")] == [SECOND_ORGANIZER]


def test_a_revision_booked_again_after_the_state_table_was_lost_gets_a_new_event(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a state the first incarnation is the booking's own: the same revision booked again POSTs a cancelled
    event's transactionId, and Graph answers with that event; a new incarnation makes a live one."""
    host.deliver(booking(revision=1, calendar=INVITED))
    host.deliver(cancel(revision=2))
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")  # the record state is lost
    reset_pipeline()

    deliver_last(host, booking(revision=1, calendar=INVITED))  # a re-send the bridge can no longer order

    result = host.last_result()
    assert result.status is ResultStatus.CREATED, (result.status, result.error)
    assert [live["id"] for live in graph.events()] == [result.meeting.event_id]
