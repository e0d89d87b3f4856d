"""Calendar records under lost session locks: the newer booking wins in Graph too, whichever mode each delivery is in.

An older delivery that loses to a newer booking in the other mode (a cancelled record booked again in both modes at
once) leaves nothing of its own mode behind; an older calendar move never cancels the newer booking's event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.result import ResultStatus
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

INVITED = {"sendInvitations": True}


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID, "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def in_background(host: HostInvoker, document: dict[str, Any], message_id: str) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            host.deliver(document, message_id=message_id)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def by_message(host: HostInvoker) -> dict[str, Any]:
    return {result.booking_message_id: result for result in host.sent.results()}


def test_an_older_calendar_rebook_that_loses_its_lock_to_a_standalone_rebook_leaves_no_event(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1, calendar=INVITED), message_id="upsert-1")
    host.deliver(cancel(revision=2), message_id="cancel-2")
    graph.inject(Fault(delay_seconds=1.5))  # revision 3's first Graph call (the event lookup) is slow
    older, errors = in_background(host, booking(revision=3, calendar=INVITED), "calendar-3")
    time.sleep(0.4)  # lock lost: revision 4 comes back without `calendar` (allowed: the record was cancelled)
    host.deliver(booking(revision=4), message_id="standalone-4")
    older.join()

    results = by_message(host)
    assert errors == []
    assert results["standalone-4"].status is ResultStatus.CREATED
    assert results["calendar-3"].status is ResultStatus.SUPERSEDED
    # The record is a standalone meeting now: the older delivery's event (an invitation in every attendee's
    # calendar, with its own Teams meeting) must not survive it.
    assert graph.events() == [], [event["subject"] for event in graph.events()]
    assert [meeting["id"] for meeting in graph.meetings()] == [results["standalone-4"].meeting.id]


def test_an_older_standalone_rebook_that_loses_its_lock_to_a_calendar_rebook_leaves_no_meeting(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    host.deliver(cancel(revision=2), message_id="cancel-2")
    graph.inject(Fault(delay_seconds=1.5))  # revision 3's first Graph call (createOrGet) is slow
    older, errors = in_background(host, booking(revision=3), "standalone-3")
    time.sleep(0.4)
    host.deliver(booking(revision=4, calendar=INVITED), message_id="calendar-4")
    older.join()

    results = by_message(host)
    assert errors == []
    assert results["calendar-4"].status is ResultStatus.CREATED
    assert results["standalone-3"].status is ResultStatus.SUPERSEDED
    assert [meeting["id"] for meeting in graph.meetings()] == [results["calendar-4"].meeting.id]


SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


def test_an_older_calendar_move_that_loses_its_lock_keeps_the_newer_bookings_event(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """The calendar twin of test_lost_lock_repairs' first case: the record state is read again before the old
    organizer's event is touched, and once more before its cancel, which nothing can undo."""
    host.deliver(booking(revision=1, calendar=INVITED), message_id="upsert-1")
    graph.inject(Fault(delay_seconds=1.5))  # revision 2's first Graph call (the GET of the old event) is slow
    mover, errors = in_background(host, booking(revision=2, organizerId=SECOND_ORGANIZER, calendar=INVITED), "move-2")
    time.sleep(0.4)  # lock lost: revision 3 (stays with the first organizer) runs on another invocation
    host.deliver(booking(revision=3, subject="Moved to the big room", calendar=INVITED), message_id="upsert-3")
    mover.join()

    results = by_message(host)
    assert errors == []
    assert results["move-2"].status is ResultStatus.SUPERSEDED
    newest = results["upsert-3"]
    assert newest.status is ResultStatus.UPDATED
    # Revision 3 was answered with a live event under the first organizer: its attendees must not have been
    # sent a cancellation for it, and Graph must hold it. (The losing move made its own event under the second
    # organizer first, as a move does; the repair cancels that one.)
    cancelled = [(e["_organizerId"], e["subject"]) for e in graph.events("cancelled")]
    assert all(organizer == SECOND_ORGANIZER for organizer, _ in cancelled), cancelled
    assert [(e["_organizerId"], e["id"]) for e in graph.events()] == [(ORGANIZER_ID, newest.meeting.event_id)]
