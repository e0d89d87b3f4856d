"""A record's channel is fixed, under any organizer, and a move never costs the meeting people hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.result import ResultStatus
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

CLASS_CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"
OTHER_CHANNEL = "19:3b5239894b776357c1dd79@thread.skype"
PRIVATE_CHANNEL = "19:aaaabbbbccccddddeeeeffff00001111@thread.tacv2"
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    channels = {
        CLASS_CHANNEL: [ORGANIZER_ID, SECOND_ORGANIZER],
        OTHER_CHANNEL: [ORGANIZER_ID, SECOND_ORGANIZER],
        PRIVATE_CHANNEL: [ORGANIZER_ID],
    }
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER], channels=channels) as simulator:
        yield simulator


def in_channel(thread_id: str, **overrides: Any) -> dict[str, Any]:
    return booking(channel={"threadId": thread_id}, **overrides)


def test_moving_to_another_organizer_does_not_bypass_the_fixed_channel(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(CLASS_CHANNEL, revision=1))
    before = graph.meetings()

    host.deliver(in_channel(OTHER_CHANNEL, revision=2, organizerId=SECOND_ORGANIZER))

    result = host.last_result()
    # "a record's channel is fixed once the meeting exists (another channel -> rejected, before any change in Graph)"
    assert (result.status, result.error and result.error.code) == (ResultStatus.REJECTED, "channel_cannot_change"), (
        result.status,
        result.meeting and result.meeting.chat_thread_id,
    )
    assert graph.meetings() == before


def test_a_move_into_a_channel_the_new_organizer_may_not_use_keeps_the_live_meeting(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(in_channel(PRIVATE_CHANNEL, revision=1))
    [live] = graph.meetings()

    host.deliver(in_channel(PRIVATE_CHANNEL, revision=2, organizerId=SECOND_ORGANIZER))

    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error is not None and result.error.code == "Forbidden"
    # The source hears `failed` (Graph's 403: fix the membership), yet the record's meeting people hold was deleted.
    assert [meeting["id"] for meeting in graph.meetings()] == [live["id"]], "the live meeting was locked and deleted"


def test_a_move_that_does_not_name_the_channel_keeps_the_meeting_in_it(host: HostInvoker, graph: GraphSimulator) -> None:
    """A revision without `channel` leaves the meeting where it is: under a new organizer too, whose meeting createOrGet
    makes anew, so the channel comes from the record's state."""
    host.deliver(in_channel(CLASS_CHANNEL, revision=1))

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))
    moved = host.last_result()
    host.deliver(in_channel(CLASS_CHANNEL, revision=3, organizerId=SECOND_ORGANIZER))

    assert moved.status is ResultStatus.CREATED and moved.meeting.chat_thread_id == CLASS_CHANNEL
    assert [meeting["chatInfo"]["threadId"] for meeting in graph.meetings()] == [CLASS_CHANNEL]
    assert host.last_result().status is ResultStatus.EXISTING, host.last_result().error
