"""The Graph simulator's GET, PATCH (Update onlineMeeting) and DELETE of one meeting, and chaos faults, as a client sees them."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
import requests

from simulator import Fault, GraphSimulator
from simulator.meeting_store import MeetingStore, meeting_key, meeting_owner
from simulator.meeting_update import LOBBY_BYPASS_SCOPES, NOT_UPDATABLE, UPDATABLE
from tests.simulator_client import fetch_token

ORGANIZER = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OTHER_ORGANIZER = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
BODY = {
    "externalId": "booking-42",
    "subject": "Consultation",
    "startDateTime": "2026-12-01T09:00:00Z",
    "endDateTime": "2026-12-01T09:30:00Z",
    "participants": {"attendees": [{"upn": "ada@contoso.com", "role": "presenter"}, {"upn": "bob@fabrikam.com"}]},
}


@pytest.fixture
def meeting(sim: GraphSimulator, token: str) -> dict[str, Any]:
    response = create_or_get(sim, token)
    assert response.status_code == 201
    return response.json()


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def create_or_get(sim: GraphSimulator, token: str | None, body: Any = BODY, organizer: str = ORGANIZER) -> requests.Response:
    url = f"{sim.graph_base_url}/users/{organizer}/onlineMeetings/createOrGet"
    return requests.post(url, json=body, headers=auth(token), timeout=5)


def meeting_url(sim: GraphSimulator, meeting_id: str, organizer: str = ORGANIZER) -> str:
    return f"{sim.graph_base_url}/users/{organizer}/onlineMeetings/{quote(meeting_id, safe='')}"


def patch(sim: GraphSimulator, token: str | None, meeting_id: str, body: Any, organizer: str = ORGANIZER) -> requests.Response:
    return requests.patch(meeting_url(sim, meeting_id, organizer), json=body, headers=auth(token), timeout=5)


def delete(sim: GraphSimulator, token: str | None, meeting_id: str, organizer: str = ORGANIZER) -> requests.Response:
    return requests.delete(meeting_url(sim, meeting_id, organizer), headers=auth(token), timeout=5)


def get(sim: GraphSimulator, token: str | None, meeting_id: str, organizer: str = ORGANIZER) -> requests.Response:
    return requests.get(meeting_url(sim, meeting_id, organizer), headers=auth(token), timeout=5)


def graph_error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    return response.status_code, error["code"], error["message"]


def odata_success(response: requests.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    return response.json()


# Defaults and GET


def test_new_meetings_carry_the_option_defaults(meeting: dict[str, Any]) -> None:
    assert meeting["allowMeetingChat"] == "enabled"
    assert meeting["recordAutomatically"] is False
    assert (meeting["isEntryExitAnnounced"], meeting["allowedPresenters"]) == (True, "everyone")
    assert meeting["lobbyBypassSettings"] == {"scope": "organization", "isDialInBypassEnabled": False}
    assert [meeting[name] for name in ("allowAttendeeToEnableCamera", "allowAttendeeToEnableMic", "allowTeamworkReactions")] == [
        True,
        True,
        True,
    ]


def test_get_returns_the_stored_meeting(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    assert odata_success(get(sim, token, meeting["id"])) == meeting
    upper_case_segments = requests.get(
        f"{sim.origin}/V1.0/USERS/{ORGANIZER.upper()}/ONLINEMEETINGS/{quote(meeting['id'], safe='')}",
        headers=auth(token),
        timeout=5,
    )
    assert odata_success(upper_case_segments) == meeting


# PATCH: what it changes


def test_patching_both_times_moves_the_meeting_and_keeps_everything_else(
    sim: GraphSimulator, token: str, meeting: dict[str, Any]
) -> None:
    body = {"startDateTime": "2026-12-02T10:15:00.1234567+01:00", "endDateTime": "2026-12-02T11:00:00-00:30"}

    updated = odata_success(patch(sim, token, meeting["id"], body))

    assert (updated["startDateTime"], updated["endDateTime"]) == ("2026-12-02T09:15:00.1234567Z", "2026-12-02T11:30:00.0000000Z")
    assert updated == {**meeting, "startDateTime": updated["startDateTime"], "endDateTime": updated["endDateTime"]}
    assert sim.meeting_for(ORGANIZER, "booking-42") == updated
    assert odata_success(create_or_get(sim, token)) == updated  # createOrGet now returns the updated meeting


def test_patching_the_subject_sets_it_and_null_clears_it(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    renamed = odata_success(patch(sim, token, meeting["id"], {"subject": "Follow-up"}))
    cleared = odata_success(patch(sim, token, meeting["id"], {"subject": None}))

    assert renamed == {**meeting, "subject": "Follow-up"}
    assert cleared == {**meeting, "subject": None}


def test_patched_attendees_replace_the_whole_list(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    carol = {"upn": "carol@contoso.com", "role": "coorganizer", "identity": {"user": {"id": OTHER_ORGANIZER}}}

    replaced = odata_success(
        patch(sim, token, meeting["id"], {"participants": {"attendees": [carol, {"upn": "dan@contoso.com"}]}})
    )
    emptied = odata_success(patch(sim, token, meeting["id"], {"participants": {"attendees": []}}))
    untouched = odata_success(patch(sim, token, meeting["id"], {"participants": {}}))

    assert replaced["participants"]["attendees"] == [carol, {"upn": "dan@contoso.com", "role": None, "identity": None}]
    assert replaced["participants"]["organizer"] == meeting["participants"]["organizer"]
    assert emptied["participants"] == {"organizer": meeting["participants"]["organizer"], "attendees": []}
    assert untouched == emptied


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("allowedPresenters", "roleIsPresenter"),
        ("allowedPresenters", "organizer"),
        ("allowMeetingChat", "disabled"),
        ("allowMeetingChat", "limited"),
        ("isEntryExitAnnounced", False),
        ("recordAutomatically", True),
        ("allowAttendeeToEnableCamera", False),
        ("allowAttendeeToEnableMic", False),
        ("allowTeamworkReactions", False),
    ],
)
def test_each_option_can_be_patched(sim: GraphSimulator, token: str, meeting: dict[str, Any], name: str, value: Any) -> None:
    assert meeting[name] != value

    updated = odata_success(patch(sim, token, meeting["id"], {name: value}))

    assert updated == {**meeting, name: value}
    assert sim.meeting_for(ORGANIZER, "booking-42") == updated


def test_lobby_bypass_settings_merge_and_accept_every_scope(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    dial_in = odata_success(patch(sim, token, meeting["id"], {"lobbyBypassSettings": {"isDialInBypassEnabled": True}}))
    assert dial_in["lobbyBypassSettings"] == {"scope": "organization", "isDialInBypassEnabled": True}

    for scope in sorted(LOBBY_BYPASS_SCOPES):
        updated = odata_success(patch(sim, token, meeting["id"], {"lobbyBypassSettings": {"scope": scope}}))
        assert updated["lobbyBypassSettings"] == {"scope": scope, "isDialInBypassEnabled": True}


def test_several_properties_in_one_patch_all_apply(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    body = {
        "subject": "Rescheduled",
        "startDateTime": "2026-12-03T08:00:00Z",
        "endDateTime": "2026-12-03T08:45:00Z",
        "allowMeetingChat": "limited",
        "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": True},
        "participants": {"attendees": [{"upn": "eve@contoso.com", "role": "attendee"}]},
    }

    updated = odata_success(patch(sim, token, meeting["id"], body))

    assert updated["subject"] == "Rescheduled"
    assert (updated["startDateTime"], updated["endDateTime"]) == ("2026-12-03T08:00:00.0000000Z", "2026-12-03T08:45:00.0000000Z")
    assert updated["allowMeetingChat"] == "limited"
    assert updated["lobbyBypassSettings"] == {"scope": "invited", "isDialInBypassEnabled": True}
    assert updated["participants"]["attendees"] == [{"upn": "eve@contoso.com", "role": "attendee", "identity": None}]
    assert (updated["id"], updated["joinWebUrl"], updated["externalId"]) == (meeting["id"], meeting["joinWebUrl"], "booking-42")


# PATCH: what Graph refuses


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"nonsense": 1}, "The property 'nonsense' does not exist on type 'microsoft.graph.onlineMeeting'"),
        ({"externalId": "other"}, "The property 'externalId' of type 'microsoft.graph.onlineMeeting' cannot be updated"),
        ({"joinWebUrl": "https://example.com"}, "'joinWebUrl' of type 'microsoft.graph.onlineMeeting' cannot be updated"),
        ({"id": "x"}, "'id' of type 'microsoft.graph.onlineMeeting' cannot be updated"),
        ({"chatInfo": {"threadId": "19:x@thread.v2"}}, "'chatInfo' of type 'microsoft.graph.onlineMeeting' cannot be updated"),
        ({"allowRecording": False}, "'allowRecording' of type 'microsoft.graph.onlineMeeting' cannot be updated"),
        ({"startDateTime": "2026-12-02T10:00:00Z"}, "always requires both startDateTime and endDateTime"),
        ({"endDateTime": "2026-12-02T10:00:00Z"}, "always requires both startDateTime and endDateTime"),
        (
            {"startDateTime": "2026-12-02T10:00:00Z", "endDateTime": "2026-12-02T09:59:59Z"},
            "cannot be earlier than the startDateTime",
        ),
        ({"startDateTime": "2026-12-02T10:00:00", "endDateTime": "2026-12-02T11:00:00Z"}, "time zone information is missing"),
        ({"startDateTime": "soon", "endDateTime": "2026-12-02T11:00:00Z"}, "Edm.DateTimeOffset"),
        ({"startDateTime": None, "endDateTime": None}, "'startDateTime' cannot be set to null"),
        ({"subject": 7}, "to the expected type 'Edm.String'"),
        (
            {"participants": {"organizer": {"upn": "boss@contoso.com"}}},
            "The organizer field of the participants property cannot be updated",
        ),
        (
            {"participants": {"organizer": None, "attendees": []}},
            "The organizer field of the participants property cannot be updated",
        ),
        (
            {"participants": {"attendees": [{"upn": "a@b.c", "role": "guest"}]}},
            "not a member of microsoft.graph.onlineMeetingRole",
        ),
        (
            {"participants": {"attendees": [{"upn": "a@b.c", "role": "unknownFutureValue"}]}},
            "not a member of microsoft.graph.onlineMeetingRole",
        ),
        (
            {"participants": {"attendees": [{"email": "a@b.c"}]}},
            "'email' does not exist on type 'microsoft.graph.meetingParticipantInfo'",
        ),
        ({"participants": {"attendees": [{"upn": "a@b.c", "identity": {"user": "x"}}]}}, "microsoft.graph.identity object"),
        ({"participants": {"attendees": {"upn": "a@b.c"}}}, "collection of meetingParticipantInfo"),
        ({"participants": {"attendees": None}}, "collection of meetingParticipantInfo"),
        ({"participants": {"producers": []}}, "'producers' does not exist on type 'microsoft.graph.meetingParticipants'"),
        ({"participants": []}, "microsoft.graph.meetingParticipants object"),
        ({"allowedPresenters": "unknownFutureValue"}, "not a member of microsoft.graph.onlineMeetingPresenters"),
        ({"allowedPresenters": "Everyone"}, "not a member of microsoft.graph.onlineMeetingPresenters"),
        ({"allowMeetingChat": "unknownFutureValue"}, "not a member of microsoft.graph.meetingChatMode"),
        ({"allowMeetingChat": True}, "to the expected type 'microsoft.graph.meetingChatMode'"),
        ({"allowMeetingChat": None}, "'allowMeetingChat' cannot be set to null"),
        ({"lobbyBypassSettings": {"scope": "unknownFutureValue"}}, "not a member of microsoft.graph.lobbyBypassScope"),
        ({"lobbyBypassSettings": {"scope": "anyone"}}, "not a member of microsoft.graph.lobbyBypassScope"),
        ({"lobbyBypassSettings": {"isDialInBypassEnabled": "true"}}, "'lobbyBypassSettings.isDialInBypassEnabled' (\"true\")"),
        ({"lobbyBypassSettings": {"bypass": True}}, "'bypass' does not exist on type 'microsoft.graph.lobbyBypassSettings'"),
        ({"lobbyBypassSettings": {"scope": None}}, "'lobbyBypassSettings.scope' cannot be set to null"),
        ({"lobbyBypassSettings": "everyone"}, "microsoft.graph.lobbyBypassSettings object"),
        ({"lobbyBypassSettings": None}, "'lobbyBypassSettings' cannot be set to null"),
        ({"recordAutomatically": 1}, "'recordAutomatically' (1) to the expected type 'Edm.Boolean'"),
        ({"isEntryExitAnnounced": "false"}, "to the expected type 'Edm.Boolean'"),
        ({"allowTeamworkReactions": None}, "'allowTeamworkReactions' cannot be set to null"),
        (["subject", "x"], "The payload must be a JSON object"),
    ],
)
def test_invalid_patches_get_400_and_change_nothing(
    sim: GraphSimulator, token: str, meeting: dict[str, Any], body: Any, message_part: str
) -> None:
    status, code, message = graph_error(patch(sim, token, meeting["id"], body))

    assert (status, code) == (400, "BadRequest")
    assert message_part in message
    assert sim.meeting_for(ORGANIZER, "booking-42") == meeting


def test_one_bad_property_refuses_the_whole_patch(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    response = patch(sim, token, meeting["id"], {"subject": "Changed", "allowMeetingChat": "sometimes"})

    assert graph_error(response)[:2] == (400, "BadRequest")
    assert sim.meeting_for(ORGANIZER, "booking-42") == meeting


def test_a_patch_body_that_is_not_json_or_not_labelled_json_gets_400(
    sim: GraphSimulator, token: str, meeting: dict[str, Any]
) -> None:
    url = meeting_url(sim, meeting["id"])
    not_json = requests.patch(url, data=b"{not json", headers={**auth(token), "Content-Type": "application/json"}, timeout=5)
    unlabelled = requests.patch(url, data=b'{"subject": "x"}', headers={**auth(token), "Content-Type": "text/plain"}, timeout=5)

    assert graph_error(not_json)[:2] == (400, "BadRequest")
    assert graph_error(unlabelled)[:2] == (400, "BadRequest")
    assert "Update onlineMeeting requires application/json" in unlabelled.json()["error"]["message"]
    assert sim.meeting_for(ORGANIZER, "booking-42") == meeting


def test_a_new_meeting_shows_every_updatable_option_with_its_documented_shape(meeting: dict[str, Any]) -> None:
    # The names themselves are checked against the v1.0 metadata in tests/test_graph_contract.py.
    assert set(meeting) - {"@odata.context"} <= UPDATABLE | NOT_UPDATABLE
    assert set(meeting["lobbyBypassSettings"]) == {"scope", "isDialInBypassEnabled"}


# DELETE


def test_delete_answers_204_then_the_meeting_is_gone(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    deleted = delete(sim, token, meeting["id"])

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert "Content-Length" not in deleted.headers
    assert graph_error(delete(sim, token, meeting["id"]))[:2] == (404, "NotFound")
    assert graph_error(get(sim, token, meeting["id"]))[:2] == (404, "NotFound")
    assert graph_error(patch(sim, token, meeting["id"], {"subject": "Too late"}))[:2] == (404, "NotFound")
    assert sim.meeting_for(ORGANIZER, "booking-42") is None
    assert sim.meetings() == []
    assert sim.deleted_meetings() == [meeting]


def test_create_or_get_after_delete_creates_a_new_meeting(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    patched = odata_success(patch(sim, token, meeting["id"], {"subject": "Last state"}))
    assert delete(sim, token, meeting["id"]).status_code == 204

    recreated = odata_success(create_or_get(sim, token), 201)
    again = odata_success(create_or_get(sim, token), 200)

    assert recreated["id"] != meeting["id"]
    assert recreated["joinWebUrl"] != meeting["joinWebUrl"]
    assert recreated["subject"] == "Consultation"
    assert again == recreated
    assert sim.meetings() == [recreated]
    assert sim.meeting_for(ORGANIZER, "booking-42") == recreated
    assert sim.deleted_meetings() == [patched]  # as it was when deleted


def test_deleted_meetings_are_listed_oldest_deletion_first_and_reset_forgets_them(sim: GraphSimulator, token: str) -> None:
    first = odata_success(create_or_get(sim, token, {"externalId": "a"}), 201)
    second = odata_success(create_or_get(sim, token, {"externalId": "b"}), 201)
    kept = odata_success(create_or_get(sim, token, {"externalId": "c"}), 201)

    assert delete(sim, token, second["id"]).status_code == 204
    assert delete(sim, token, first["id"]).status_code == 204

    assert sim.deleted_meetings() == [second, first]
    assert sim.meetings() == [kept]
    sim.reset()
    assert (sim.deleted_meetings(), sim.meetings()) == ([], [])


# Addressing, authorization, methods


def test_unknown_meeting_ids_get_404(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    for response in (
        get(sim, token, "MSpub3RoZXJlKjAqKjE5Om1lZXRpbmdfeEB0aHJlYWQudjI"),
        patch(sim, token, "nope", {"subject": "x"}),
        delete(sim, token, "nope"),
        get(sim, token, meeting["id"].lower()),  # ids are compared exactly
    ):
        status, code, message = graph_error(response)
        assert (status, code) == (404, "NotFound")
        assert "online meeting" in message
    assert sim.meetings() == [meeting]


def test_a_meeting_is_found_only_under_its_own_organizer(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    assert graph_error(get(sim, token, meeting["id"], organizer=OTHER_ORGANIZER))[:2] == (404, "NotFound")
    assert graph_error(patch(sim, token, meeting["id"], {"subject": "x"}, organizer=OTHER_ORGANIZER))[:2] == (404, "NotFound")
    assert graph_error(delete(sim, token, meeting["id"], organizer=OTHER_ORGANIZER))[:2] == (404, "NotFound")
    assert odata_success(get(sim, token, meeting["id"], organizer=ORGANIZER.upper())) == meeting
    assert sim.meetings() == [meeting]


def test_denied_unknown_and_unauthenticated_callers_are_refused(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    sim.deny_organizer(ORGANIZER)
    for call in (get, delete):
        status, code, message = graph_error(call(sim, token, meeting["id"]))
        assert (status, code) == (403, "Forbidden")
        assert "Application is not allowed to perform operations on the user" in message
    assert graph_error(patch(sim, token, meeting["id"], {"subject": "x"}))[:2] == (403, "Forbidden")
    assert graph_error(get(sim, token, meeting["id"], organizer="someone@contoso.com"))[:2] == (404, "NotFound")
    assert graph_error(patch(sim, None, meeting["id"], {"subject": "x"}))[:2] == (401, "InvalidAuthenticationToken")
    assert graph_error(delete(sim, "made-up", meeting["id"]))[:2] == (401, "InvalidAuthenticationToken")
    me = requests.get(f"{sim.graph_base_url}/me/onlineMeetings/{quote(meeting['id'], safe='')}", headers=auth(token), timeout=5)
    assert graph_error(me)[:2] == (400, "BadRequest")
    assert sim.meetings() == [meeting]


def test_only_known_organizers_have_meetings() -> None:
    with GraphSimulator(known_organizers=[ORGANIZER]) as strict:
        token = fetch_token(strict).json()["access_token"]
        meeting = odata_success(create_or_get(strict, token), 201)

        assert graph_error(get(strict, token, meeting["id"], organizer=OTHER_ORGANIZER))[:2] == (404, "NotFound")
        assert "was not found in the tenant" in graph_error(delete(strict, token, meeting["id"], organizer=OTHER_ORGANIZER))[2]
        assert strict.meetings() == [meeting]


def test_other_methods_on_a_meeting_get_405_and_create_or_get_routing_is_unchanged(
    sim: GraphSimulator, token: str, meeting: dict[str, Any]
) -> None:
    url = meeting_url(sim, meeting["id"])
    post = requests.post(url, json={"subject": "x"}, headers=auth(token), timeout=5)
    put = requests.put(url, json={"subject": "x"}, headers=auth(token), timeout=5)
    create_or_get_by_get = requests.get(
        f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet", headers=auth(token), timeout=5
    )
    collection = requests.get(f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings", headers=auth(token), timeout=5)
    deeper = requests.get(f"{url}/transcripts", headers=auth(token), timeout=5)

    for response in (post, put):
        assert graph_error(response)[:2] == (405, "MethodNotAllowed")
        assert response.headers["Allow"] == "GET, PATCH, DELETE"
    assert graph_error(create_or_get_by_get)[:2] == (405, "MethodNotAllowed")
    assert create_or_get_by_get.headers["Allow"] == "POST"
    assert graph_error(collection)[:2] == (404, "NotFound")
    assert graph_error(deeper)[:2] == (404, "NotFound")
    assert "createOrGet is POST" in collection.json()["error"]["message"]
    assert sim.meetings() == [meeting]


def test_get_patch_and_delete_are_recorded(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    path = f"/v1.0/users/{ORGANIZER}/onlineMeetings/{quote(meeting['id'], safe='')}"
    get(sim, token, meeting["id"])
    patch(sim, token, meeting["id"], {"subject": "Recorded"})
    delete(sim, token, meeting["id"])

    recorded = sim.graph_requests()
    assert [(r.method, r.path) for r in recorded[1:]] == [("GET", path), ("PATCH", path), ("DELETE", path)]
    assert recorded[2].json == {"subject": "Recorded"}
    assert recorded[3].headers["authorization"] == f"Bearer {token}"
    assert sim.stats.graph_requests == 4
    assert sim.stats.responses_by_status == {200: 3, 201: 1, 204: 1}  # one 200 is the token


# Concurrency


def test_racing_create_patch_and_delete_on_one_key_leave_a_consistent_store(sim: GraphSimulator, token: str) -> None:
    first = odata_success(create_or_get(sim, token, {"externalId": "race"}), 201)
    barrier = threading.Barrier(12)
    lock = threading.Lock()
    outcomes: list[tuple[str, int, str | None]] = []

    def worker(index: int) -> None:
        barrier.wait()
        with requests.Session() as session:
            session.headers.update(auth(token))
            for step in range(8):
                live = sim.meeting_for(ORGANIZER, "race")
                meeting_id = live["id"] if live else first["id"]
                kind = ("create", "patch", "delete")[(index + step) % 3]
                if kind == "create":
                    url = f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet"
                    response = session.post(url, json={"externalId": "race"}, timeout=10)
                elif kind == "patch":
                    response = session.patch(meeting_url(sim, meeting_id), json={"subject": f"{index}-{step}"}, timeout=10)
                else:
                    response = session.delete(meeting_url(sim, meeting_id), timeout=10)
                returned_id = response.json()["id"] if response.status_code in (200, 201) else None
                with lock:
                    outcomes.append((kind, response.status_code, returned_id))

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = Counter((kind, status) for kind, status, _ in outcomes)
    assert set(statuses) <= {("create", 200), ("create", 201), ("patch", 200), ("patch", 404), ("delete", 204), ("delete", 404)}
    created_ids = {first["id"]} | {meeting_id for kind, status, meeting_id in outcomes if status == 201}
    deleted_ids = [meeting["id"] for meeting in sim.deleted_meetings()]
    live = sim.meetings()
    assert statuses["create", 201] + 1 == len(created_ids)  # every creation made a new id
    assert len(deleted_ids) == len(set(deleted_ids)) == statuses["delete", 204]
    assert len(live) == len(created_ids) - len(deleted_ids) <= 1
    assert set(deleted_ids) | {meeting["id"] for meeting in live} == created_ids
    assert {meeting_id for _, status, meeting_id in outcomes if status in (200, 201)} <= created_ids
    assert sim.meeting_for(ORGANIZER, "race") == (live[0] if live else None)

    final = create_or_get(sim, token, {"externalId": "race"})
    assert final.status_code == (200 if live else 201)
    assert len(sim.meetings()) == 1
    assert sim.meeting_for(ORGANIZER, "race") == final.json()


def test_the_store_stays_consistent_under_heavy_contention() -> None:
    store = MeetingStore()
    key = meeting_key("tenant", ORGANIZER, "hot")
    owner = meeting_owner("tenant", ORGANIZER)
    ids = iter(range(1_000_000))
    id_lock = threading.Lock()
    barrier = threading.Barrier(16)
    created: list[str] = []
    deletions: list[str] = []
    lock = threading.Lock()

    def new_document() -> dict[str, Any]:
        with id_lock:
            return {"id": f"m{next(ids)}", "subject": None}

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(300):
            current = store.get(key)
            choice = rng.random()
            if choice < 0.4:
                was_created, meeting = store.create_or_get(key, new_document)
                if was_created:
                    with lock:
                        created.append(meeting["id"])
            elif choice < 0.7 and current is not None:
                store.update(owner, current["id"], lambda meeting: meeting.update(subject=seed))
            elif current is not None and store.delete(owner, current["id"]) is not None:
                with lock:
                    deletions.append(current["id"])

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    live = store.all()
    assert len(created) == len(set(created)) > 1
    assert sorted(deletions) == sorted(meeting["id"] for meeting in store.deleted())
    assert len(set(deletions)) == len(deletions)
    assert len(live) == len(created) - len(deletions) <= 1
    assert {meeting["id"] for meeting in live} | set(deletions) == set(created)
    assert store.get(key) == (live[0] if live else None)
    for meeting_id in deletions:
        assert store.find(owner, meeting_id) is None


def test_a_failed_change_leaves_the_stored_meeting_as_it_was() -> None:
    store = MeetingStore()
    owner = meeting_owner("tenant", ORGANIZER)
    store.create_or_get(meeting_key("tenant", ORGANIZER, "x"), lambda: {"id": "m1", "subject": "kept", "nested": {"a": 1}})

    def half_change(meeting: dict[str, Any]) -> None:
        meeting["subject"] = "changed"
        meeting["nested"]["a"] = 2
        raise RuntimeError("validation failed midway")

    with pytest.raises(RuntimeError):
        store.update(owner, "m1", half_change)
    assert store.find(owner, "m1") == {"id": "m1", "subject": "kept", "nested": {"a": 1}}
    assert store.find(meeting_owner("tenant", OTHER_ORGANIZER), "m1") is None


# Chaos


def test_chaos_with_probability_one_fails_every_graph_request(sim: GraphSimulator, token: str, meeting: dict[str, Any]) -> None:
    sim.chaos([Fault(status=503)], 1)

    responses = [
        create_or_get(sim, token, {"externalId": "new"}),
        get(sim, token, meeting["id"]),
        patch(sim, token, meeting["id"], {"subject": "x"}),
        delete(sim, token, meeting["id"]),
        *(create_or_get(sim, token) for _ in range(10)),
    ]

    assert [graph_error(r)[:2] for r in responses] == [(503, "ServiceUnavailable")] * 14
    assert fetch_token(sim).status_code == 200  # token requests are another target
    assert sim.meetings() == [meeting]


def test_chaos_with_probability_zero_or_stopped_fails_nothing(sim: GraphSimulator, token: str) -> None:
    sim.chaos([Fault(status=503)], 0)
    assert [create_or_get(sim, token).status_code for _ in range(5)] == [201, 200, 200, 200, 200]

    sim.chaos([Fault(status=503)], 1)
    assert create_or_get(sim, token).status_code == 503
    sim.stop_chaos()
    assert create_or_get(sim, token).status_code == 200

    sim.chaos([Fault(status=503)], 1)
    sim.chaos([], 0)
    assert create_or_get(sim, token).status_code == 200

    sim.chaos([Fault(status=503)], 1)
    sim.reset()
    assert create_or_get(sim, token).status_code == 201


def test_queued_faults_come_before_chaos(sim: GraphSimulator, token: str) -> None:
    sim.chaos([Fault(status=503)], 1)
    sim.inject(Fault(status=429, retry_after="3", times=2))

    statuses = [create_or_get(sim, token).status_code for _ in range(3)]

    assert statuses == [429, 429, 503]


def test_chaos_hits_only_its_faults_target(sim: GraphSimulator, token: str) -> None:
    sim.chaos([Fault(target="token", status=500)], 1)

    failed = fetch_token(sim)

    assert (failed.status_code, failed.json()["statusCode"]) == (500, 500)
    assert create_or_get(sim, token).status_code == 201


def test_seeded_chaos_repeats_the_same_faults(token: str, sim: GraphSimulator) -> None:
    faults = [Fault(status=503), Fault(status=429, retry_after="1")]

    def run(seed: int) -> list[int]:
        sim.reset()
        sim.chaos(faults, 0.5, seed=seed)
        return [create_or_get(sim, token).status_code for _ in range(40)]

    first, replay, other = run(7), run(7), run(8)

    assert first == replay
    assert first != other
    assert {429, 503} <= set(first)
    assert set(first) <= {200, 201, 429, 503}
    assert 5 < first.count(429) + first.count(503) < 35


def test_chaos_arguments_are_validated(sim: GraphSimulator) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        sim.chaos([Fault(status=503)], 1.5)
    with pytest.raises(ValueError, match="at least one fault"):
        sim.chaos([], 0.5)
    with pytest.raises(TypeError, match="Fault instances"):
        sim.chaos([503], 1)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not both"):
        sim.chaos([Fault(status=503, drop_connection=True)], 1)
