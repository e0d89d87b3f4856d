"""The simulator's events side, talked to by hand: as strict as Graph where the bridge relies on it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from shared.event_request import EXTERNAL_ID_PROPERTY, external_id_filter, join_url_filter
from simulator import GraphSimulator

USER = "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"
EVENT = {
    "subject": "Checkup",
    "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-01T09:30:00", "timeZone": "UTC"},
    "isOnlineMeeting": True,
    "onlineMeetingProvider": "teamsForBusiness",
    "transactionId": "tx-1",
    "singleValueExtendedProperties": [{"id": EXTERNAL_ID_PROPERTY, "value": "ext-1"}],
    "attendees": [{"emailAddress": {"address": "ada@contoso.com"}, "type": "required"}],
}


def call(sim: GraphSimulator, token: str, method: str, path: str, body: Any = None, query: str = "") -> requests.Response:
    url = f"{sim.graph_base_url}/users/{USER}/{path}" + (f"?$filter={quote(query, safe='')}" if query else "")
    return requests.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_a_post_with_the_same_transaction_id_returns_the_same_event(sim: GraphSimulator, token: str) -> None:
    first = call(sim, token, "POST", "events", EVENT)
    second = call(sim, token, "POST", "events", EVENT)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(sim.events()) == 1 and len(sim.meetings()) == 1


def test_the_extended_property_filter_and_the_join_url_filter_find_the_event_and_its_meeting(
    sim: GraphSimulator, token: str
) -> None:
    event = call(sim, token, "POST", "events", EVENT).json()

    found = call(sim, token, "GET", "events", query=external_id_filter("ext-1")).json()["value"]
    other = call(sim, token, "GET", "events", query=external_id_filter("ext-2")).json()["value"]
    meetings = call(sim, token, "GET", "onlineMeetings", query=join_url_filter(event["onlineMeeting"]["joinUrl"])).json()

    assert [item["id"] for item in found] == [event["id"]] and other == []
    assert [meeting["joinWebUrl"] for meeting in meetings["value"]] == [event["onlineMeeting"]["joinUrl"]]


def test_a_patch_moves_the_event_and_its_meeting(sim: GraphSimulator, token: str) -> None:
    event = call(sim, token, "POST", "events", EVENT).json()
    moved = {
        "start": {"dateTime": "2026-12-02T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-02T10:00:00", "timeZone": "UTC"},
    }

    assert call(sim, token, "PATCH", f"events/{event['id']}", moved).status_code == 200
    assert sim.meetings()[0]["endDateTime"] == "2026-12-02T10:00:00.0000000Z"


def test_cancel_answers_202_moves_the_event_to_deleted_items_and_a_second_cancel_is_refused(
    sim: GraphSimulator, token: str
) -> None:
    event = call(sim, token, "POST", "events", EVENT).json()

    assert call(sim, token, "POST", f"events/{event['id']}/cancel", {"Comment": "Sorry"}).status_code == 202
    assert sim.events() == [] and sim.meetings() == []
    assert call(sim, token, "GET", f"events/{event['id']}").json()["isCancelled"] is True
    assert call(sim, token, "POST", f"events/{event['id']}/cancel", {"Comment": "Sorry"}).status_code == 400
    assert call(sim, token, "GET", "events", query=external_id_filter("ext-1")).json()["value"] == []


def test_delete_removes_the_event_and_a_second_delete_is_404(sim: GraphSimulator, token: str) -> None:
    event = call(sim, token, "POST", "events", EVENT).json()

    assert call(sim, token, "DELETE", f"events/{event['id']}").status_code == 204
    assert call(sim, token, "DELETE", f"events/{event['id']}").status_code == 404
    assert sim.meetings() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"isOnlineMeetng": True}, "does not exist on type 'microsoft.graph.event'"),
        ({"onlineMeetingProvider": "teams"}, "is not a member of microsoft.graph.onlineMeetingProviderType"),
        ({"start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "W. Europe Standard Time"}}, "must be 'UTC'"),
        ({"attendees": [{"emailAddress": {"address": "a@b.c"}, "type": "mandatory"}]}, "attendeeType"),
        ({"singleValueExtendedProperties": [{"id": "BookingBridgeExternalId", "value": "x"}]}, "extended property id"),
    ],
)
def test_what_graph_would_refuse_is_refused(sim: GraphSimulator, token: str, change: dict, message: str) -> None:
    response = call(sim, token, "POST", "events", {**EVENT, **change})

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_only_the_bridges_filters_are_understood(sim: GraphSimulator, token: str) -> None:
    assert call(sim, token, "GET", "events", query="subject eq 'x'").status_code == 400
    assert call(sim, token, "GET", "onlineMeetings", query="subject eq 'x'").status_code == 400
