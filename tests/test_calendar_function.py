"""Calendar bookings, through create_meeting as the host calls it: the event on the organizer's calendar,
its Teams meeting, invitations, updates and cancellations, recovery without the state table, and the mode rules.

Graph is the simulator on loopback (its events side), the state table Azurite, the Service Bus leg intercepted."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from shared.calendar_lifecycle import CALENDAR_MODE_CHANGED, CALENDAR_NOT_ENABLED, OPTIONS_NOT_APPLIED
from shared.event_request import EXTERNAL_ID_PROPERTY, transaction_id
from shared.external_id import derive_external_id
from shared.record_state import TableRecordStateStore
from shared.result import ResultStatus
from shared.runtime import reset_pipeline
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
INVITED = {"sendInvitations": True}
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """Two organizers, so that a booking can move from one to the other."""
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


def calendar_booking(**overrides: Any) -> dict[str, Any]:
    return booking(calendar=INVITED, **overrides)


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def requests_to(graph: GraphSimulator, method: str, fragment: str) -> list[Any]:
    return [request for request in graph.graph_requests() if request.method == method and fragment in request.path]


def test_a_calendar_booking_is_an_event_on_the_organizers_calendar_with_a_teams_meeting(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(calendar_booking())

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    [event] = graph.events()
    assert event["_organizerId"] == ORGANIZER_ID
    assert event["subject"] == "Intro call with Contoso"
    assert event["start"] == {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"}
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    # The first incarnation is random: without a state, the bridge cannot know which a dead event of the record holds.
    assert uuid.UUID(event["transactionId"]) and event["transactionId"] != transaction_id(EXTERNAL_ID, 0)
    assert event["_properties"] == {EXTERNAL_ID_PROPERTY: EXTERNAL_ID}
    assert [attendee["emailAddress"]["address"] for attendee in event["attendees"]] == ["ada@contoso.com"]
    meeting = result.meeting
    assert meeting.event_id == event["id"]
    assert meeting.join_web_url == event["onlineMeeting"]["joinUrl"]
    assert meeting.join_meeting_id and meeting.passcode and meeting.dial_in is not None
    assert [live["id"] for live in graph.meetings()] == [meeting.id]


def test_without_invitations_the_event_is_on_the_organizers_calendar_only(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": False}))

    assert host.last_result().status is ResultStatus.CREATED
    assert graph.events()[0]["attendees"] == []


def test_an_unchanged_booking_is_existing_and_sends_no_patch(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking())
    host.deliver(calendar_booking())

    assert host.last_result().status is ResultStatus.EXISTING
    assert requests_to(graph, "PATCH", "/events/") == []
    assert len(graph.events()) == 1


def test_a_reschedule_patches_the_event_with_what_differs(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking())
    first = host.last_result().meeting

    host.deliver(calendar_booking(revision=4, start="2026-12-02T10:00:00+01:00", end="2026-12-02T11:00:00+01:00"))

    result = host.last_result()
    assert result.status is ResultStatus.UPDATED
    assert result.changed_fields == ["start", "end"]
    [patch] = requests_to(graph, "PATCH", "/events/")
    assert set(patch.json) == {"start", "end"}
    assert result.meeting.join_web_url == first.join_web_url
    assert graph.events()[0]["end"]["dateTime"] == "2026-12-02T10:00:00.0000000"


def test_a_post_whose_answer_was_lost_is_found_again_not_repeated(host: HostInvoker, graph: GraphSimulator) -> None:
    graph.inject(Fault())  # the lookup finds nothing
    graph.inject(Fault(drop_after_processing=True))  # the POST creates the event, and its answer is lost
    host.deliver(calendar_booking())

    assert host.last_result().status is ResultStatus.CREATED
    assert len(graph.events()) == 1
    assert len(requests_to(graph, "POST", "/events")) == 2  # the retry carried the same transactionId


def test_without_the_state_table_the_event_is_found_by_its_extended_property(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(calendar_booking())
    monkeypatch.setenv("RECORD_STATE_TABLE", f"state{uuid.uuid4().hex}")  # the record state is lost
    reset_pipeline()

    host.deliver(calendar_booking(revision=4, subject="Moved"))

    assert host.last_result().status is ResultStatus.UPDATED
    [event] = graph.events()
    assert event["subject"] == "Moved"
    assert requests_to(graph, "GET", "/events")[-1].query["$filter"].startswith("singleValueExtendedProperties/Any(")


def test_cancel_locks_the_lobby_then_sends_the_attendees_a_cancellation(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking())
    host.deliver(cancel(revision=4))

    result = host.last_result()
    assert (result.status, result.meeting_existed) == (ResultStatus.CANCELLED, True)
    assert graph.events() == [] and len(graph.events("cancelled")) == 1
    assert graph.meetings() == []
    [lock] = requests_to(graph, "PATCH", "/onlineMeetings/")
    assert lock.json["lobbyBypassSettings"]["scope"] == "organizer"
    [cancel_action] = requests_to(graph, "POST", "/cancel")
    assert set(cancel_action.json) == {"Comment"}
    order = [request.method + " " + request.path.rsplit("/", 1)[-1] for request in graph.graph_requests()]
    assert order.index("POST cancel") > max(i for i, entry in enumerate(order) if entry.startswith("PATCH"))

    requests_before = len(graph.graph_requests())
    host.deliver(cancel(revision=4))
    assert host.last_result().status is ResultStatus.CANCELLED
    assert len(graph.graph_requests()) == requests_before


def test_a_cancel_whose_answer_was_lost_is_not_refused_as_already_done(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking())
    for _ in range(3):  # the GET of the event, the JoinWebUrl lookup, the lock
        graph.inject(Fault())
    graph.inject(Fault(drop_after_processing=True))  # cancelled; the retry is answered 400 "already cancelled"
    host.deliver(cancel(revision=4))

    assert (host.last_result().status, host.last_result().meeting_existed) == (ResultStatus.CANCELLED, True)
    assert len(requests_to(graph, "POST", "/cancel")) == 2
    assert len(graph.events("cancelled")) == 1


def test_a_cancel_graph_refuses_opens_the_lobby_it_locked(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking(options={"allowMeetingChat": "enabled"}))
    graph.inject(Fault(times=3))  # the event's GET, the lookup of its Teams meeting, and the lock
    graph.inject(Fault(status=400))  # the cancel action is refused: the event stays, and so does its meeting

    host.deliver(cancel(revision=4))

    assert host.last_result().status is ResultStatus.FAILED
    [meeting] = graph.meetings()
    assert (meeting["lobbyBypassSettings"]["scope"], meeting["allowMeetingChat"]) != ("organizer", "disabled")


def test_an_event_nobody_was_invited_to_is_deleted(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": False}))
    host.deliver(cancel(revision=4))

    assert host.last_result().meeting_existed is True
    assert requests_to(graph, "POST", "/cancel") == []
    assert len(graph.events("deleted")) == 1


def test_cancelling_a_record_that_never_had_an_event_succeeds(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(cancel(calendar=INVITED))

    result = host.last_result()
    assert (result.status, result.meeting_existed) == (ResultStatus.CANCELLED, False)
    assert graph.events("live") == graph.events("cancelled") == graph.events("deleted") == []


def test_a_record_booked_again_after_a_cancel_gets_a_new_event(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking())
    host.deliver(cancel(revision=4))
    host.deliver(calendar_booking(revision=5))

    assert host.last_result().status is ResultStatus.CREATED
    [event] = graph.events()
    [cancelled] = graph.events("cancelled")
    assert event["transactionId"] != cancelled["transactionId"]
    assert cancelled["id"] != event["id"]


def test_options_apply_to_the_events_meeting(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(calendar_booking(options={"allowMeetingChat": "limited", "lobbyBypassSettings": {"scope": "invited"}}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    assert result.changed_fields == ["options.lobbyBypassSettings", "options.allowMeetingChat"]
    assert graph.meetings()[0]["allowMeetingChat"] == "limited"


def test_options_graph_refuses_are_named_in_a_warning_and_the_booking_succeeds(host: HostInvoker, graph: GraphSimulator) -> None:
    graph.refuse_event_meeting_options()
    host.deliver(calendar_booking(options={"allowMeetingChat": "disabled"}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    [warning] = result.warnings
    assert warning.code == OPTIONS_NOT_APPLIED and "options.allowMeetingChat" in warning.message
    assert warning.http_status == 400


@pytest.mark.parametrize(("first", "second"), [({"calendar": INVITED}, {}), ({}, {"calendar": INVITED})])
def test_a_record_keeps_its_mode(host: HostInvoker, graph: GraphSimulator, first: dict, second: dict) -> None:
    host.deliver(booking(**first))
    requests_before = len(graph.graph_requests())

    host.deliver(booking(revision=4, **second))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert result.error.code == CALENDAR_MODE_CHANGED
    assert len(graph.graph_requests()) == requests_before


@pytest.mark.parametrize("moved", [False, True], ids=["same-organizer", "moved"])
def test_invitations_once_sent_are_not_turned_off_by_a_later_revision(
    host: HostInvoker, graph: GraphSimulator, moved: bool
) -> None:
    """Turning sendInvitations off would take the attendees off the event (or cancel it, for a move), and Exchange
    would mail each of them a cancellation while the meeting and its join link stay: refused as a mode change."""
    host.deliver(calendar_booking())
    requests_before = len(graph.graph_requests())

    organizer = {"organizerId": SECOND_ORGANIZER} if moved else {}
    host.deliver(booking(revision=4, calendar={"sendInvitations": False}, **organizer))

    result = host.last_result()
    assert (result.status, result.error and result.error.code) == (ResultStatus.REJECTED, CALENDAR_MODE_CHANGED)
    assert "sendInvitations" in result.error.message
    assert len(graph.graph_requests()) == requests_before
    [event] = graph.events()
    assert [attendee["emailAddress"]["address"] for attendee in event["attendees"]] == ["ada@contoso.com"]


def test_invitations_a_record_stored_before_the_state_kept_them_sent_are_not_turned_off(
    host: HostInvoker, graph: GraphSimulator, azurite: str
) -> None:
    """A record state written before the bridge kept `Invitations` does not say whether Exchange invited anyone; the
    booking it keeps does (sendInvitations, with attendees), so turning invitations off is refused all the same."""
    host.deliver(calendar_booking())
    store = TableRecordStateStore.for_emulator(azurite, os.environ["RECORD_STATE_TABLE"])
    stored = store.read(EXTERNAL_ID)
    assert stored is not None and stored.invitations and stored.applied_booking is not None
    store.write(replace(stored, invitations=False), stored)  # as a writer that did not know the field left it
    requests_before = len(graph.graph_requests())

    host.deliver(booking(revision=4, calendar={"sendInvitations": False}))

    result = host.last_result()
    assert (result.status, result.error and result.error.code) == (ResultStatus.REJECTED, CALENDAR_MODE_CHANGED)
    assert len(graph.graph_requests()) == requests_before
    [event] = graph.events()
    assert [attendee["emailAddress"]["address"] for attendee in event["attendees"]] == ["ada@contoso.com"]


def test_invitations_may_be_turned_on_later(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": False}))
    host.deliver(calendar_booking(revision=4))

    assert host.last_result().status is ResultStatus.UPDATED and host.last_result().changed_fields == ["attendees"]


def test_a_cancelled_record_may_come_back_in_the_other_mode(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking())
    host.deliver(cancel(revision=4))
    host.deliver(calendar_booking(revision=5))

    assert host.last_result().status is ResultStatus.CREATED
    assert len(graph.events()) == 1


def test_a_calendar_booking_while_calendar_mode_is_off_is_rejected_without_calling_graph(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "false")
    host.deliver(calendar_booking())

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert result.error.code == CALENDAR_NOT_ENABLED
    assert graph.graph_requests() == []
