"""Calendar records under lost session locks: the newer booking wins in Graph too, whichever mode each delivery is in.

An older delivery that loses to a newer booking in the other mode (a cancelled record booked again in both modes at
once) leaves nothing of its own mode behind; an older calendar move never cancels the newer booking's event."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.result import ResultStatus
from shared.runtime import reset_pipeline
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


def test_two_deliveries_of_a_new_calendar_booking_at_once_make_one_event(host: HostInvoker, graph: GraphSimulator) -> None:
    """Neither delivery finds a record state, nor (by the externalId property) an event: both POST, and Graph must
    make one event of the two POSTs, so each attendee gets one invitation."""
    graph.inject(Fault())  # the first delivery's lookup by the externalId property finds nothing
    graph.inject(Fault(delay_seconds=1.5))  # its POST is slow: the second delivery looks up and POSTs meanwhile
    first, errors = in_background(host, booking(revision=1, calendar=INVITED), "new-1")
    time.sleep(0.4)  # lock lost: the same message is delivered again on another invocation
    host.deliver(booking(revision=1, calendar=INVITED), message_id="new-1")
    first.join()

    assert errors == []
    assert len(graph.events()) == 1, "two events, and two invitations to every attendee"
    assert {result.meeting.event_id for result in host.sent.results()} == {graph.events()[0]["id"]}


def test_of_two_deliveries_that_each_made_an_event_the_one_the_state_names_stays(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision booked again after the state table was lost: its transactionId is a cancelled event's, so each of
    two deliveries at once POSTs again with an incarnation of its own, and each makes an event. The later state write
    meets the earlier one at the same revision: it must retire its own event, not count as the same booking."""
    host.deliver(booking(revision=1, calendar=INVITED), message_id="upsert-1")
    host.deliver(cancel(revision=2), message_id="cancel-2")
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")  # the record state is lost
    reset_pipeline()

    graph.inject(Fault(times=2))  # the first delivery's lookup, and its POST (answered with the cancelled event)
    graph.inject(Fault(delay_seconds=1.5))  # its second POST, with another incarnation, is slow
    first, errors = in_background(host, booking(revision=1, calendar=INVITED), "resent-1")
    time.sleep(0.4)
    host.deliver(booking(revision=1, calendar=INVITED), message_id="resent-1")
    first.join()

    assert errors == []
    [event] = graph.events()
    second, first_result = host.sent.results()[2:]
    assert (second.status, first_result.status) == (ResultStatus.CREATED, ResultStatus.SUPERSEDED)
    assert second.meeting is not None and second.meeting.event_id == event["id"]


def test_an_older_calendar_upsert_that_fails_after_its_post_leaves_no_event_behind_a_cancel(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """The older delivery's event exists (its POST was answered) when its next step fails; the newer cancel found
    nothing to cancel. The event, whose attendees were invited, must be cancelled, not left for good."""
    graph.inject(Fault())  # revision 1's lookup by the externalId property: none
    graph.inject(Fault(delay_seconds=1.5))  # its POST is slow: revision 2's cancel looks up meanwhile and finds nothing
    graph.inject(Fault(times=3))  # revision 2's cancel, which no state places: createOrGet, its DELETE, the event lookup
    graph.inject(Fault(status=503, retry_after="600"))  # revision 1's lookup of the event's Teams meeting fails for now
    upsert, errors = in_background(host, booking(revision=1, calendar=INVITED), "upsert-1")
    time.sleep(0.4)
    host.deliver(cancel(revision=2), message_id="cancel-2")
    upsert.join()
    if errors:
        host.deliver(booking(revision=1, calendar=INVITED), message_id="upsert-1", delivery_count=2)
    host.deliver(cancel(revision=3), message_id="cancel-3")

    assert by_message(host)["upsert-1"].status is ResultStatus.SUPERSEDED
    assert graph.events() == [], "a live event, its attendees invited, that no cancellation will ever reach"
    assert len(graph.events("cancelled")) == 1


def test_an_event_an_older_upsert_cannot_undo_while_throttled_is_retired_in_its_own_mode_after_a_standalone_cancel(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """As above, but a 429 holds the whole instance back, so the older delivery cannot cancel its event when it loses.
    The newer cancel stored a standalone state (no state placed it); the event is in the other mode, and is still
    left in that state, to be cancelled as an event by the record's next delivery."""
    graph.inject(Fault())  # revision 1's lookup by the externalId property: none
    graph.inject(Fault(delay_seconds=1.5))  # its POST is slow: revision 2's cancel looks up meanwhile and finds nothing
    graph.inject(Fault(times=3))  # revision 2's cancel, which no state places: createOrGet, its DELETE, the event lookup
    graph.inject(Fault(status=429, retry_after="600"))  # revision 1's lookup of the event's Teams meeting is throttled
    upsert, errors = in_background(host, booking(revision=1, calendar=INVITED), "upsert-1")
    time.sleep(0.4)
    host.deliver(cancel(revision=2), message_id="cancel-2")
    upsert.join()
    if errors:
        host.deliver(booking(revision=1, calendar=INVITED), message_id="upsert-1", delivery_count=2)
    host.deliver(cancel(revision=3), message_id="cancel-3")
    for copy in host.sent.requeued():
        host.wait_out_retry_after()
        host.deliver(b"".join(copy.body), message_id=copy.message_id, application_properties=dict(copy.application_properties))

    assert by_message(host)["upsert-1"].status is ResultStatus.SUPERSEDED
    assert graph.events() == [], "a live event, its attendees invited, that no cancellation will ever reach"
    assert len(graph.events("cancelled")) == 1


def test_the_repair_after_a_lost_lock_never_sends_attendees_a_time_no_booking_holds(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Revision 2 reschedules the event, then is slow; revision 3 reschedules it again. Exchange mails the attendees
    each event PATCH: putting back the time revision 2 read (revision 1's) before applying revision 3 again would mail
    them a time that no booking holds any more. A booking sets subject, times and attendees in full: the newest is
    the one to send, and only if the event differs from it."""
    times = {revision: f"2026-12-0{revision}T10:00:00+01:00" for revision in (1, 2, 3)}

    def rescheduled(revision: int) -> dict[str, Any]:
        start = times[revision]
        return booking(revision=revision, calendar=INVITED, start=start, end=start.replace("T10:00", "T10:30"))

    host.deliver(rescheduled(1), message_id="upsert-1")
    graph.inject(Fault(times=2))  # revision 2's GET of the event and its PATCH (to revision 2's time)
    graph.inject(Fault(delay_seconds=1.5))  # ... then its lookup of the event's Teams meeting is slow
    older, errors = in_background(host, rescheduled(2), "upsert-2")
    time.sleep(0.4)
    host.deliver(rescheduled(3), message_id="upsert-3")
    older.join()

    assert errors == []
    assert by_message(host)["upsert-2"].status is ResultStatus.SUPERSEDED
    sent = [
        request.json["start"]["dateTime"][:10]
        for request in graph.graph_requests()
        if request.method == "PATCH" and "/events/" in request.path and "start" in request.json
    ]
    assert sent == ["2026-12-02", "2026-12-03"], "the attendees were mailed these times, in this order"
    [event] = graph.events()
    assert event["start"]["dateTime"].startswith("2026-12-03")
