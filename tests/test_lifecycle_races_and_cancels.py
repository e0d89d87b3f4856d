"""What the record lifecycle promises under races and failures, and what a result may claim about Graph.

- One event per record stays live when two revisions of a new calendar record run at once (a lost session lock):
  an event a delivery made beside the one the record state names is retired, whichever delivery stored its state.
- A cancel that fails for good leaves the meeting's lobby and chat as the record's booking set them, even when an
  earlier delivery of the same cancel locked them already.
- A move that loses its lock while it locks the old organizer's meeting (a newer booking keeps the record there)
  leaves that meeting's lobby and chat as they were, also those no booking names.
- A request this instance's own throttle never sent is reported as not sent, in the bridge's words, with no Graph
  status: Graph answered nothing.

Lost answers, slow answers and refusals are the simulator's faults; two deliveries at once (a lost session lock) run
one of them on a background thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import GraphThrottled, GraphUnavailable
from shared.external_id import derive_external_id
from shared.result import ResultStatus
from shared.settings import CALENDAR_EVENTS_ENABLED, DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"
INVITED = {"sendInvitations": True}
LAST = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT


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


def test_one_event_per_record_when_two_revisions_of_a_new_calendar_record_race(host: HostInvoker, graph: GraphSimulator) -> None:
    """Revisions 1 and 2 of a new calendar record run at once (a lost session lock). Each finds no state and no event,
    and each derives its own first incarnation from its revision, so their transactionIds differ: two events. Revision
    1 writes the state first; revision 2's write meets it, an older revision's state. Revision 2's own event is in no
    state, so it is retired before revision 2 is redelivered (which brings revision 1's event in line); the record's
    cancel then leaves no event live. Exchange invited the losing event's attendees when it was POSTed, so retiring it
    cancels it (they hear of it), never deletes it silently, whichever revision stores its state first: no invitation
    is left standing for an event that is gone (docs/lifecycle-and-ordering.md says why the invitation itself cannot
    wait for the state write)."""
    graph.inject(Fault(delay_seconds=1.0))  # revision 1's event lookup is slow
    graph.inject(Fault())  # revision 2's event lookup: nothing yet
    graph.inject(Fault(delay_seconds=2.0))  # revision 2's POST is slow: revision 1 POSTs and writes the state meanwhile
    first, first_errors = in_background(host, booking(revision=1, calendar=INVITED), "upsert-1")
    time.sleep(0.3)  # lock lost: revision 2 runs on another invocation
    second, second_errors = in_background(host, booking(revision=2, calendar=INVITED, subject="Second"), "upsert-2")
    first.join()
    second.join()
    assert first_errors == []
    if second_errors:  # redelivered in its session, as Service Bus would
        host.deliver(booking(revision=2, calendar=INVITED, subject="Second"), message_id="upsert-2", delivery_count=2)
    assert len(graph.events()) == 1
    assert graph.events("deleted") == [], "an event whose attendees were invited was removed without a cancellation"
    host.deliver(cancel(revision=3), message_id="cancel-3")

    assert by_message(host)["cancel-3"].status is ResultStatus.CANCELLED
    assert graph.events() == [], [(event["subject"], event["transactionId"]) for event in graph.events()]


def test_a_cancel_whose_delete_keeps_failing_leaves_no_locked_lobby(host: HostInvoker, graph: GraphSimulator) -> None:
    """The cancel locks the lobby, its DELETE fails (500) and the booking is redelivered; the lock stays. The last
    delivery finds the meeting already locked; what it puts back when its DELETE fails again is the lobby and chat the
    record's booking set (kept in the record state), not the lock it finds. A later upsert that names no options then
    finds the meeting as the booking left it."""
    options = {"lobbyBypassSettings": {"scope": "organization"}, "allowMeetingChat": "enabled"}
    host.deliver(booking(revision=1, options=options), message_id="upsert-1")
    graph.inject(Fault(times=2))  # the cancel's lookup, and its lock
    graph.inject(Fault(status=500))  # its DELETE fails: redelivered
    with pytest.raises(GraphUnavailable):
        host.deliver(cancel(revision=2), message_id="cancel-2")
    graph.inject(Fault(times=2))  # the last delivery's lookup, and its lock
    graph.inject(Fault(status=500))  # its DELETE fails again
    with pytest.raises(GraphUnavailable):
        host.deliver(cancel(revision=2), message_id="cancel-2", delivery_count=LAST)
    assert host.last_result().status is ResultStatus.FAILED

    host.deliver(booking(revision=3), message_id="upsert-3")  # names no options: the meeting's own stay

    assert host.last_result().status is ResultStatus.EXISTING
    meeting = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)
    assert meeting is not None
    assert (meeting["lobbyBypassSettings"]["scope"], meeting["allowMeetingChat"]) == ("organization", "enabled")


def test_a_move_that_loses_its_lock_while_locking_the_old_meeting_leaves_its_lobby_as_it_was(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    """Revision 1 opens the lobby to the organization and turns chat on. Revision 2 moves the record to another
    organizer: it creates the meeting there, then turns to the old organizer's meeting, whose lobby it locks before the
    DELETE. While it does so (its lock lost), revision 3 keeps the record under the first organizer and names no
    options. Revision 2's second look at the state stops it before the DELETE; what its lock changed must be put back
    to what the meeting had, which no booking since names, so only the meeting itself could say it."""
    options = {"lobbyBypassSettings": {"scope": "organization"}, "allowMeetingChat": "enabled"}
    host.deliver(booking(revision=1, options=options), message_id="upsert-1")
    graph.inject(Fault())  # revision 2's createOrGet under the new organizer
    graph.inject(Fault(delay_seconds=1.5))  # its next request, on the old organizer's meeting, is slow
    mover, errors = in_background(host, booking(revision=2, organizerId=SECOND_ORGANIZER), "move-2")
    time.sleep(0.4)  # lock lost: revision 3 runs on another invocation
    host.deliver(booking(revision=3, subject="Stays here"), message_id="upsert-3")
    mover.join()

    assert errors == []
    results = by_message(host)
    assert results["move-2"].status is ResultStatus.SUPERSEDED
    assert results["upsert-3"].status is ResultStatus.UPDATED
    [meeting] = graph.meetings()
    assert meeting["id"] == results["upsert-3"].meeting.id
    assert (meeting["lobbyBypassSettings"]["scope"], meeting["allowMeetingChat"]) == ("organization", "enabled")


def test_a_request_this_instance_never_sent_is_not_reported_as_graphs_answer(host: HostInvoker, graph: GraphSimulator) -> None:
    """A 429 with a long Retry-After closes this instance's Graph throttle to every call for a while. Another record's
    booking on its last delivery (no revision, so it is not re-enqueued) is then stopped before its request leaves:
    Graph never sees it. Its `failed` result carries no httpStatus and does not say Graph answered: an operator
    reading it looks at this instance's wait, not at Graph for a request that was never sent."""
    graph.inject(Fault(status=429, retry_after="600"))  # another record's booking is throttled by Graph itself
    with contextlib.suppress(GraphThrottled):
        host.deliver(booking(revision=1, recordId="BK-OTHER"), message_id="other-1")
    sent_before = len(graph.graph_requests())

    unordered = booking()
    del unordered["revision"]
    with contextlib.suppress(GraphThrottled):
        host.deliver(unordered, message_id="unordered", delivery_count=LAST)

    assert len(graph.graph_requests()) == sent_before, "the booking's request was sent after all"
    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error is not None
    assert result.error.http_status is None and "Graph answered" not in result.error.message, result.error
