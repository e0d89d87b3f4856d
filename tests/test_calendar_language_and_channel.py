"""`language` and `channel` on a calendar booking: every Graph request carries the language, so the
result's joinInformation is in it (or, too large, left out with a warning) as for a standalone meeting; a channel
with `calendar` is rejected, never ignored."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest

from shared.join_information import JOIN_INFORMATION_TOO_LARGE, MAX_JOIN_INFORMATION_BYTES
from shared.result import ResultStatus
from shared.settings import CALENDAR_EVENTS_ENABLED
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

CLASS_CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"


@pytest.fixture(autouse=True)
def calendar_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_EVENTS_ENABLED, "true")


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID], channels={CLASS_CHANNEL: [ORGANIZER_ID]}) as simulator:
        yield simulator


def test_every_graph_request_of_a_calendar_booking_carries_its_language(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": True}, language="ja", options={"allowMeetingChat": "limited"}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    missing = [(r.method, r.path) for r in graph.graph_requests() if r.headers.get("accept-language") != "ja"]
    assert missing == [], missing
    assert result.meeting is not None and result.meeting.join_information is not None
    assert "会議 ID" in result.meeting.join_information.content


def test_a_calendar_cancel_carries_its_language_too(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": True}, language="de"))
    host.deliver(booking(action="cancel", revision=4, language="de", subject=None, start=None, end=None, attendees=[]))

    assert host.last_result().status is ResultStatus.CANCELLED
    missing = [(r.method, r.path) for r in graph.graph_requests() if r.headers.get("accept-language") != "de"]
    assert missing == [], missing


def test_a_calendar_booking_into_a_channel_is_rejected_not_created_outside_it(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(calendar={"sendInvitations": True}, channel={"threadId": CLASS_CHANNEL}))

    result = host.last_result()
    in_channel = result.meeting is not None and result.meeting.chat_thread_id == CLASS_CHANNEL
    assert result.status is ResultStatus.REJECTED or in_channel, (result.status, result.meeting and result.meeting.chat_thread_id)
    assert result.error is not None and result.error.code == "invalid_booking"
    assert graph.graph_requests() == []


def test_an_oversized_invitation_of_a_calendar_booking_is_left_out_with_a_warning(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for a standalone meeting: the result leaves the invitation text out and says so, never silently."""
    huge = {"contentType": "html", "content": quote_plus("data:text/html,<p>" + "x" * (MAX_JOIN_INFORMATION_BYTES + 1))}
    monkeypatch.setattr("simulator.events_api.join_information", lambda *args: huge)

    host.deliver(booking(calendar={"sendInvitations": True}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED and result.meeting is not None
    assert result.meeting.join_information is None and result.meeting.join_web_url
    assert [warning.code for warning in result.warnings] == [JOIN_INFORMATION_TOO_LARGE]
