"""The simulator's createOrGet in a Teams channel (chatInfo) and its localized joinInformation, as a client sees them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest
import requests

from simulator import GraphSimulator
from tests.simulator_client import fetch_token
from tests.test_simulator import BODY, ORGANIZER, OTHER_ORGANIZER, create_or_get, graph_error

CHANNEL = "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER, OTHER_ORGANIZER], channels={CHANNEL: [ORGANIZER]}) as simulator:
        yield simulator


@pytest.fixture
def token(sim: GraphSimulator) -> str:
    return fetch_token(sim, resource=sim.origin).json()["access_token"]


def html_of(meeting: dict[str, object]) -> str:
    information = meeting["joinInformation"]
    assert isinstance(information, dict) and information["contentType"] == "html"
    uri = unquote_plus(information["content"])
    assert uri.startswith("data:text/html,")
    return uri.removeprefix("data:text/html,")


def test_chat_info_is_kept_on_the_meeting_and_echoed_as_sent(sim: GraphSimulator, token: str) -> None:
    encoded = CHANNEL.replace(":", "%3A").replace("@", "%40")
    chat_info = {"threadId": encoded, "messageId": "1563302249053", "replyChainMessageId": "1563302249000"}

    meeting = create_or_get(sim, token, {**BODY, "chatInfo": chat_info}).json()

    assert meeting["chatInfo"] == chat_info
    assert "/meetup-join/19%3a7ebda77322dd4505ac4dedb5b67df076%40thread.tacv2/1563302249053?" in meeting["joinWebUrl"]
    assert sim.meetings()[0]["chatInfo"] == chat_info


def test_an_existing_meeting_keeps_its_chat_whatever_chat_info_says(sim: GraphSimulator, token: str) -> None:
    first = create_or_get(sim, token).json()

    second = create_or_get(sim, token, {**BODY, "chatInfo": {"threadId": CHANNEL}})

    assert second.status_code == 200 and second.json()["chatInfo"] == first["chatInfo"]
    assert first["chatInfo"]["threadId"].startswith("19:meeting_")


@pytest.mark.parametrize(
    ("thread", "organizer"),
    [("19:0000000000000000000000000000000@thread.tacv2", ORGANIZER), (CHANNEL, OTHER_ORGANIZER)],
    ids=["unknown thread", "not a member"],
)
def test_a_thread_the_organizer_is_not_a_member_of_is_refused_and_nothing_is_created(
    sim: GraphSimulator, token: str, thread: str, organizer: str
) -> None:
    response = create_or_get(sim, token, {**BODY, "chatInfo": {"threadId": thread}}, organizer=organizer)

    assert graph_error(response) == (403, "Forbidden")
    assert "not a member" in response.json()["error"]["message"]
    assert sim.meetings() == []


@pytest.mark.parametrize(
    ("accept_language", "phrase"),
    [(None, "Join the meeting now"), ("ja", "会議 ID"), ("de-DE", "Besprechungs-ID"), ("pt-BR,en;q=0.5", "ID da reunião")],
)
def test_join_information_is_in_the_requested_language(
    sim: GraphSimulator, token: str, accept_language: str | None, phrase: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}

    meeting = create_or_get(sim, token, headers=headers).json()

    html = html_of(meeting)
    assert phrase in html
    assert meeting["joinMeetingIdSettings"]["joinMeetingId"] in html and "meetingOptions" in html
    assert meeting["audioConferencing"]["tollNumber"] in html


def test_join_information_is_encoded_as_graphs_example_is(sim: GraphSimulator, token: str) -> None:
    content = create_or_get(sim, token, headers={"Accept-Language": "ja"}).json()["joinInformation"]["content"]

    assert content.startswith("data%3Atext%2Fhtml%2C") and "+" in content and " " not in content


def test_the_same_meeting_reads_in_each_requests_language(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token, headers={"Accept-Language": "ja"}).json()
    url = f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/{requests.utils.quote(meeting['id'], safe='')}"

    patched = requests.patch(
        url, json={"subject": "Neu"}, headers={"Authorization": f"Bearer {token}", "Accept-Language": "de"}, timeout=5
    ).json()

    assert "会議 ID" in html_of(meeting) and "Besprechungs-ID" in html_of(patched)
