"""A result says what its booking did in Graph, whatever answers were lost on the way, by one rule in both modes:
`created` when the booking made the record's meeting (or event), `updated` with what it changed when it changed it,
`existing` only when it changed nothing; a cancel's `meetingExisted` only for a meeting that was there before it.
A source that mails its own attendees (a standalone booking, or `sendInvitations: false`) relies on it.

Lost answers are the simulator's `drop_after_processing` (Graph applied the request, the answer never came); a
429 with a long Retry-After then ends the delivery, which is redelivered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import GraphThrottled, GraphUnavailable
from shared.result import ResultStatus
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

INVITED = {"sendInvitations": True}
LOST = Fault(drop_after_processing=True)  # applied by Graph, answered to nobody
GIVE_UP = Fault(status=429, retry_after="600")  # the retry of the call ends the delivery for now
RESCHEDULED = {"start": "2026-12-02T10:00:00+01:00", "end": "2026-12-02T10:30:00+01:00"}


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


@pytest.mark.parametrize("mode", [{}, {"calendar": INVITED}], ids=["standalone", "calendar"])
def test_a_new_booking_whose_create_answer_was_lost_and_retried_is_reported_created(
    host: HostInvoker, graph: GraphSimulator, mode: dict[str, Any]
) -> None:
    if mode:
        graph.inject(Fault())  # the calendar lookup by the externalId property: nothing yet
    graph.inject(LOST)  # createOrGet or the event POST: applied, unanswered; the client's retry finds what it made

    host.deliver(booking(revision=1, **mode))

    assert host.last_result().status is ResultStatus.CREATED


@pytest.mark.parametrize("mode", [{}, {"calendar": INVITED}], ids=["standalone", "calendar"])
def test_a_new_booking_whose_every_create_answer_was_lost_is_reported_created_on_redelivery(
    host: HostInvoker, graph: GraphSimulator, mode: dict[str, Any]
) -> None:
    if mode:
        graph.inject(Fault())
    graph.inject(LOST)
    graph.inject(GIVE_UP)
    with pytest.raises(GraphThrottled):
        host.deliver(booking(revision=1, **mode), message_id="new-1")

    host.wait_out_retry_after()
    host.deliver(booking(revision=1, **mode), message_id="new-1", delivery_count=2)

    assert host.last_result().status is ResultStatus.CREATED


@pytest.mark.parametrize("mode", [{}, {"calendar": INVITED}], ids=["standalone", "calendar"])
def test_a_reschedule_whose_patch_was_applied_before_the_delivery_failed_is_reported_updated_on_redelivery(
    host: HostInvoker, graph: GraphSimulator, mode: dict[str, Any]
) -> None:
    host.deliver(booking(revision=1, **mode))
    graph.inject(Fault())  # createOrGet, or the event's GET
    graph.inject(LOST)  # the PATCH of the new times: applied, unanswered
    graph.inject(GIVE_UP)
    with pytest.raises(GraphThrottled):
        host.deliver(booking(revision=2, **mode, **RESCHEDULED), message_id="reschedule-2")

    host.wait_out_retry_after()
    host.deliver(booking(revision=2, **mode, **RESCHEDULED), message_id="reschedule-2", delivery_count=2)

    result = host.last_result()
    assert (result.status, result.changed_fields) == (ResultStatus.UPDATED, ["start", "end"])


def test_a_calendar_reschedule_whose_next_step_failed_is_reported_updated_on_redelivery(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1, calendar=INVITED))
    graph.inject(Fault(times=2))  # the event's GET, and its PATCH (the attendees are mailed the new time)
    graph.inject(Fault(status=500))  # the lookup of the event's Teams meeting fails (500: not retried in the call)
    with pytest.raises(GraphUnavailable):
        host.deliver(booking(revision=2, calendar=INVITED, **RESCHEDULED), message_id="reschedule-2")

    host.deliver(booking(revision=2, calendar=INVITED, **RESCHEDULED), message_id="reschedule-2", delivery_count=2)

    result = host.last_result()
    assert (result.status, result.changed_fields) == (ResultStatus.UPDATED, ["start", "end"])


def test_a_cancel_whose_lookup_answer_was_lost_does_not_take_its_own_meeting_for_an_earlier_one(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(LOST)  # the cancel's createOrGet lookup: it made an empty meeting (none existed), unanswered

    host.deliver(cancel(revision=1))

    result = host.last_result()
    assert (result.status, result.meeting_existed) == (ResultStatus.CANCELLED, False)
    assert graph.meetings() == []
