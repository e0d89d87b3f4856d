"""Meetings booked into a Teams channel: a booking's `channel` is createOrGet's chatInfo.

Through create_meeting as the host calls it, with Graph on loopback (the simulator, which knows one
channel and its members), the state table on Azurite and the Service Bus leg intercepted at the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import ChannelCannotChange
from shared.result import ResultStatus
from simulator import GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker

CLASS_CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"
OTHER_CHANNEL = "19:3b5239894b776357c1dd79@thread.skype"
NOT_A_MEMBER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """Two organizers; both are members of the two channels but the second is not in the class channel."""
    channels = {CLASS_CHANNEL: [ORGANIZER_ID], OTHER_CHANNEL: [ORGANIZER_ID, NOT_A_MEMBER]}
    with GraphSimulator(known_organizers=[ORGANIZER_ID, NOT_A_MEMBER], channels=channels) as simulator:
        yield simulator


def in_channel(thread_id: str = CLASS_CHANNEL, **overrides: Any) -> dict[str, Any]:
    return booking(channel={"threadId": thread_id}, **overrides)


def create_or_get_bodies(graph: GraphSimulator) -> list[Any]:
    return [request.json for request in graph.graph_requests() if request.path.endswith("/createOrGet")]


def test_a_channel_booking_creates_the_meeting_in_the_channel_and_reports_its_thread(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(channel={"threadId": CLASS_CHANNEL, "messageId": "1563302249053"}))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    assert result.meeting is not None and result.meeting.chat_thread_id == CLASS_CHANNEL
    assert create_or_get_bodies(graph)[0]["chatInfo"] == {"threadId": CLASS_CHANNEL, "messageId": "1563302249053"}
    assert graph.meetings()[0]["chatInfo"]["threadId"] == CLASS_CHANNEL


def test_a_percent_encoded_thread_id_is_sent_as_teams_shows_it(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel("19%3A7ebda77322dd4505ac4dedb5b67df076%40thread.tacv2"))

    assert host.last_result().status is ResultStatus.CREATED
    assert create_or_get_bodies(graph)[0]["chatInfo"] == {"threadId": CLASS_CHANNEL}


def test_a_later_revision_in_the_same_channel_updates_the_meeting(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(revision=1))
    host.deliver(in_channel(revision=2, subject="Python course, session 8"))

    result = host.last_result()
    assert result.status is ResultStatus.UPDATED and result.changed_fields == ["subject"]
    assert result.meeting is not None and result.meeting.chat_thread_id == CLASS_CHANNEL


def test_a_revision_naming_another_channel_is_rejected_and_changes_nothing(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(revision=1))
    before = graph.meetings()

    host.deliver(in_channel(OTHER_CHANNEL, revision=2, subject="Moved to another channel"))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None
    assert result.error.code == ChannelCannotChange.code == "channel_cannot_change"
    assert CLASS_CHANNEL in result.error.message and OTHER_CHANNEL in result.error.message
    assert [detail.field for detail in result.error.details] == ["channel.threadId"]
    assert [request.method for request in graph.graph_requests()][-1] == "POST", "no PATCH after the lookup"
    assert graph.meetings() == before


def test_a_channel_cannot_be_added_to_a_meeting_that_exists_outside_one(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1))

    host.deliver(in_channel(revision=2))

    assert host.last_result().status is ResultStatus.REJECTED
    assert host.last_result().error.code == "channel_cannot_change"  # type: ignore[union-attr]


def test_a_rejected_channel_change_keeps_the_record_usable(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(revision=1))
    host.deliver(in_channel(OTHER_CHANNEL, revision=2))

    host.deliver(in_channel(revision=3, subject="Back in the class channel"))

    assert host.last_result().status is ResultStatus.UPDATED


def test_after_a_cancel_a_new_revision_may_book_another_channel(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(revision=1))
    host.deliver(booking(action="cancel", revision=2))

    host.deliver(in_channel(OTHER_CHANNEL, revision=3))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    assert result.meeting is not None and result.meeting.chat_thread_id == OTHER_CHANNEL


def test_a_revision_without_channel_leaves_the_meeting_in_its_channel(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel(revision=1))

    host.deliver(booking(revision=2, subject="No channel named"))

    result = host.last_result()
    assert result.status is ResultStatus.UPDATED
    assert result.meeting is not None and result.meeting.chat_thread_id == CLASS_CHANNEL


def test_a_thread_the_organizer_is_not_a_member_of_is_answered_failed_with_graphs_code(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(in_channel(organizerId=NOT_A_MEMBER))

    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error is not None
    assert (result.error.code, result.error.http_status) == ("Forbidden", 403)
    assert result.error.request_id and result.graph_request_id == result.error.request_id
    assert graph.meetings() == []


def test_an_unknown_thread_is_answered_failed(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(in_channel("19:00000000000000000000000000000000@thread.tacv2"))

    assert host.last_result().status is ResultStatus.FAILED
    assert host.last_result().error.code == "Forbidden"  # type: ignore[union-attr]


def test_an_organizer_without_access_policy_is_still_redelivered_without_a_channel(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.deny_organizer(ORGANIZER_ID)

    with pytest.raises(Exception, match="403"):
        host.deliver(booking())

    assert host.sent.results() == []
