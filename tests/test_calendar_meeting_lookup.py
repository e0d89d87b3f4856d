"""A calendar booking's Teams meeting is its own event's: the meeting Graph's JoinWebUrl lookup lists with the event's
join URL and an id the bridge can address, for the result, the options and the lock alike; a cancel or move whose
lookup finds none ends the event without the lock. Graph's error code is escaped in the error the host logs.

Over the real local servers: the Graph simulator on loopback (its answers bent where Graph is the untrusted party),
Azurite for the state table, the Service Bus leg intercepted at the SDK boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import GraphUnavailable
from shared.result import ResultStatus
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import Fault, GraphSimulator
from simulator.events_api import EventsApi
from simulator.graph_errors import _FAULT_CODES
from simulator.server import HttpResponse
from tests.bookings import ORGANIZER_ID, booking, cancel_booking
from tests.conftest import HostInvoker

INVITED = {"sendInvitations": True}
LAST_DELIVERY = 10
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


def bend_online_meeting_lookup(monkeypatch: pytest.MonkeyPatch, change: Any, organizer: str | None = None) -> None:
    """Graph's answer to GET onlineMeetings?$filter=JoinWebUrl eq '...' (under `organizer`, else any) with each
    meeting changed by `change`."""
    original = EventsApi._online_meetings

    def answered(self: EventsApi, request: Any, organizer_id: str) -> HttpResponse:
        response = original(self, request, organizer_id)
        if organizer is not None and organizer_id != organizer:
            return response
        payload = json.loads(response.body)
        payload["value"] = [change(meeting) for meeting in payload["value"]]
        return HttpResponse(response.status, json.dumps(payload).encode("utf-8"), response.headers)

    monkeypatch.setattr(EventsApi, "_online_meetings", answered)


def without_id(meeting: dict[str, Any], bad_id: Any) -> dict[str, Any]:
    changed = {name: value for name, value in meeting.items() if name != "id"}
    return changed if bad_id is None else {**changed, "id": bad_id}


@pytest.mark.parametrize("bad_id", [None, 12345], ids=["no-id", "number-id"])
def test_a_calendar_cancel_ends_the_event_when_graphs_meeting_lookup_answers_a_meeting_without_a_usable_id(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch, bad_id: Any
) -> None:
    host.deliver(booking(calendar=INVITED))
    assert len(graph.events()) == 1

    bend_online_meeting_lookup(monkeypatch, lambda meeting: without_id(meeting, bad_id))
    # The lock before the end is a courtesy ("a refusal is logged and the meeting is ended anyway").
    try:
        host.deliver(cancel_booking(revision=4), delivery_count=LAST_DELIVERY)
    except Exception as error:  # the host would dead-letter the message
        print("raised", type(error).__name__)

    assert host.last_result().status is ResultStatus.CANCELLED, host.last_result().error
    assert graph.events() == [], "the cancelled booking's event is still live in Outlook, attendees invited"


def test_a_moved_calendar_booking_leaves_one_live_event_when_graphs_meeting_lookup_under_the_old_organizer_has_no_id(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(booking(calendar=INVITED))
    bend_online_meeting_lookup(monkeypatch, lambda meeting: without_id(meeting, None), organizer=ORGANIZER_ID)

    # The move: the new organizer's event is made, then the old organizer's is locked (a courtesy) and ended.
    try:
        host.deliver(booking(calendar=INVITED, revision=4, organizerId=SECOND_ORGANIZER), delivery_count=LAST_DELIVERY)
    except Exception as error:  # the host would dead-letter the message
        print("raised", type(error).__name__)

    live = [event for event in graph.events()]
    result = host.last_result()
    assert len(live) == 1, f"{len(live)} live events with invitations for one record; the source was told {result.status}"
    # The new organizer's event is a meeting Graph created (docs/contract.md: `created`).
    assert result.status is ResultStatus.CREATED, result.error


def test_a_calendar_bookings_result_and_options_go_to_its_own_events_meeting_not_the_first_one_graphs_lookup_lists(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(booking(calendar=INVITED, recordId="BK-OTHER"))
    [other] = graph.meetings()
    original = EventsApi._online_meetings

    def answered(self: EventsApi, request: Any, organizer_id: str) -> HttpResponse:
        # Graph's lookup by JoinWebUrl lists another meeting of the organizer first (untrusted: its filter not kept).
        response = original(self, request, organizer_id)
        payload = json.loads(response.body)
        payload["value"] = [other, *payload["value"]]
        return HttpResponse(response.status, json.dumps(payload).encode("utf-8"), response.headers)

    monkeypatch.setattr(EventsApi, "_online_meetings", answered)

    host.deliver(booking(calendar=INVITED, recordId="BK-MINE", options={"allowMeetingChat": "disabled"}))

    meeting = host.last_result().meeting
    assert meeting is not None
    mine = next(event for event in graph.events() if event["id"] == meeting.event_id)
    assert meeting.join_web_url == mine["onlineMeeting"]["joinUrl"], "the result gives the source another record's join link"
    untouched = next(listed for listed in graph.meetings() if listed["id"] == other["id"])
    assert untouched.get("allowMeetingChat") == other.get("allowMeetingChat"), "another record's meeting was patched"


def test_a_calendar_booking_takes_its_events_meeting_whose_join_url_graph_escapes_with_other_hex_case(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One link, its escapes written "%3A" by the lookup and "%3a" by the event: still the event's own meeting.
    def upper_escapes(meeting: dict[str, Any]) -> dict[str, Any]:
        return {**meeting, "joinWebUrl": meeting["joinWebUrl"].replace("%3a", "%3A").replace("%7b", "%7B")}

    bend_online_meeting_lookup(monkeypatch, upper_escapes)

    host.deliver(booking(calendar=INVITED, options={"allowMeetingChat": "disabled"}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED, result.error
    [meeting] = graph.meetings()
    assert result.meeting is not None and result.meeting.id == meeting["id"]
    assert meeting["allowMeetingChat"] == "disabled"


def test_a_calendar_cancel_locks_its_own_events_meeting_not_the_first_one_graphs_lookup_lists(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.deliver(booking(calendar=INVITED, recordId="BK-OTHER"))
    [other] = graph.meetings()
    host.deliver(booking(calendar=INVITED, recordId="BK-MINE"))
    original = EventsApi._online_meetings

    def answered(self: EventsApi, request: Any, organizer_id: str) -> HttpResponse:
        response = original(self, request, organizer_id)
        payload = json.loads(response.body)
        payload["value"] = [other, *(meeting for meeting in payload["value"] if meeting["id"] != other["id"])]
        return HttpResponse(response.status, json.dumps(payload).encode("utf-8"), response.headers)

    monkeypatch.setattr(EventsApi, "_online_meetings", answered)

    host.deliver(cancel_booking(recordId="BK-MINE", revision=4))

    assert host.last_result().status is ResultStatus.CANCELLED
    still = next(meeting for meeting in graph.meetings() if meeting["id"] == other["id"])
    assert still["lobbyBypassSettings"] == other["lobbyBypassSettings"], "another record's live meeting was locked"


def test_graphs_error_code_is_escaped_in_the_error_the_host_logs(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Graph's error body is outside input; a raised error's text reaches the host's log ("the status, the code and the
    # request-id"), so what Graph put in its code must not start a forged log line there.
    forged = "Unavailable\r\n2026-12-01T10:00:00Z ERROR booking completed\x1b[2J"
    monkeypatch.setitem(_FAULT_CODES, 503, (forged, "The service is temporarily unavailable."))
    graph.inject(Fault(status=503, times=50))

    with pytest.raises(GraphUnavailable) as raised:
        host.deliver(booking())

    logged = str(raised.value)
    assert not any(character in logged for character in "\r\n\x1b"), logged
