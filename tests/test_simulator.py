"""The Graph simulator behaves like Graph createOrGet and App Service managed identity, as a client sees them."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from simulator import Fault, GraphSimulator
from tests.simulator_client import fetch_token, origin

ORGANIZER = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OTHER_ORGANIZER = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
CLIENT_ID = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
BODY = {
    "externalId": "booking-42",
    "subject": "Consultation",
    "startDateTime": "2026-12-01T09:00:00Z",
    "endDateTime": "2026-12-01T09:30:00Z",
}
GRAPH_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def create_or_get(
    sim: GraphSimulator,
    token: str | None,
    body: Any = BODY,
    organizer: str = ORGANIZER,
    http: Any = requests,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    kwargs.setdefault("timeout", 5)
    url = f"{sim.graph_base_url}/users/{organizer}/onlineMeetings/createOrGet"
    return http.post(url, json=body, headers=headers, **kwargs)


def graph_error(response: requests.Response) -> tuple[int, str]:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["client-request-id"] == response.headers["client-request-id"]
    return response.status_code, error["code"]


# createOrGet: create once, then get


def test_first_call_creates_and_later_calls_return_the_same_meeting_unchanged(sim: GraphSimulator, token: str) -> None:
    first = create_or_get(sim, token)
    second = create_or_get(sim, token, {**BODY, "subject": "Changed", "endDateTime": "2026-12-01T11:00:00Z"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert second.json()["subject"] == "Consultation"
    assert sim.meeting_for(ORGANIZER, "booking-42") == first.json()
    assert len(sim.meetings()) == 1


def test_meeting_looks_like_graphs(sim: GraphSimulator, token: str) -> None:
    attendee = {"upn": "guest@contoso.com", "identity": {"user": {"id": OTHER_ORGANIZER}}}
    meeting = create_or_get(sim, token, {**BODY, "participants": {"attendees": [attendee]}}).json()

    assert meeting["@odata.context"].endswith(f"/v1.0/$metadata#users('{ORGANIZER}')/onlineMeetings/$entity")
    assert (meeting["startDateTime"], meeting["endDateTime"]) == ("2026-12-01T09:00:00.0000000Z", "2026-12-01T09:30:00.0000000Z")
    assert GRAPH_DATE_TIME.fullmatch(meeting["creationDateTime"])
    assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert "%40thread.v2/0?context=" in meeting["joinWebUrl"]
    assert re.fullmatch(r"\d{12,15}", meeting["joinMeetingIdSettings"]["joinMeetingId"])
    assert meeting["joinMeetingIdSettings"]["passcode"].isalnum()
    assert meeting["audioConferencing"]["dialinUrl"].startswith("https://dialin.teams.microsoft.com/")
    assert meeting["chatInfo"]["threadId"].endswith("@thread.v2")
    assert (meeting["subject"], meeting["externalId"]) == ("Consultation", "booking-42")
    assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == ORGANIZER
    assert meeting["participants"]["organizer"]["role"] == "presenter"
    assert meeting["participants"]["attendees"] == [{**attendee, "role": None}]
    assert (meeting["allowedPresenters"], meeting["isEntryExitAnnounced"], meeting["isBroadcast"]) == ("everyone", True, False)


def test_without_dial_in_audio_conferencing_is_null() -> None:
    with GraphSimulator(dial_in=False) as sim:
        assert create_or_get(sim, fetch_token(sim).json()["access_token"]).json()["audioConferencing"] is None


def test_the_meeting_key_is_organizer_and_external_id(sim: GraphSimulator, token: str) -> None:
    mine = create_or_get(sim, token)
    same_organizer_other_case = create_or_get(sim, token, organizer=ORGANIZER.upper())
    theirs = create_or_get(sim, token, organizer=OTHER_ORGANIZER)

    assert (mine.status_code, same_organizer_other_case.status_code, theirs.status_code) == (201, 200, 201)
    assert same_organizer_other_case.json()["id"] == mine.json()["id"]
    assert theirs.json()["id"] != mine.json()["id"]
    assert len(sim.meetings()) == 2


@pytest.mark.parametrize(
    ("times", "expected_start", "expected_end"),
    [
        ({"startDateTime": "2026-12-01T10:00:00.1234567+01:00"}, "2026-12-01T09:00:00.1234567Z", "2026-12-01T10:00:00.1234567Z"),
        ({"startDateTime": "2026-12-01T09:00:00Z", "endDateTime": "2026-12-01T09:00:00Z"}, "2026-12-01T09:00:00.0000000Z", None),
    ],
)
def test_times_are_utc_and_end_defaults_to_an_hour_after_start(
    sim: GraphSimulator, token: str, times: dict[str, str], expected_start: str, expected_end: str | None
) -> None:
    meeting = create_or_get(sim, token, {"externalId": "t", **times}).json()

    assert meeting["startDateTime"] == expected_start
    assert meeting["endDateTime"] == (expected_end or expected_start)


def test_without_times_the_meeting_runs_from_now_for_an_hour(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token, {"externalId": "now"}).json()

    start, end = (datetime.fromisoformat(meeting[name][:26] + "+00:00") for name in ("startDateTime", "endDateTime"))
    assert abs((start - datetime.now(UTC)).total_seconds()) < 5
    assert end - start == timedelta(hours=1)


# What Graph refuses


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"subject": "no id"}, "The missing parameters are: externalId"),
        ({"externalId": ""}, "externalId"),
        ({"externalId": 42}, "Edm.String"),
        ({"externalId": "x", "endDateTime": "2026-12-01T09:00:00Z"}, "without the startDateTime"),
        ({"externalId": "x", "startDateTime": "2026-12-01T10:00:00Z", "endDateTime": "2026-12-01T09:00:00Z"}, "earlier"),
        ({"externalId": "x", "startDateTime": "2026-12-01T09:00:00"}, "time zone information is missing"),
        ({"externalId": "x", "startDateTime": "tomorrow"}, "Edm.DateTimeOffset"),
        (
            {"externalId": "x", "isBroadcast": False},
            "The property 'isBroadcast' does not exist on type 'microsoft.graph.onlineMeeting'",
        ),
        ({"externalId": "x", "participants": {"attendees": [{"email": "a@b.c"}]}}, "'email' does not exist on type"),
        ({"externalId": "x", "participants": {"attendees": [{"upn": "a@b.c", "role": "guest"}]}}, "onlineMeetingRole"),
        ({"externalId": "x", "participants": {"attendees": {"upn": "a@b.c"}}}, "collection"),
        ({"externalId": "x", "participants": {"producers": []}}, "microsoft.graph.meetingParticipants"),
        (["externalId", "x"], "JSON object"),
    ],
)
def test_invalid_bodies_get_400_bad_request(sim: GraphSimulator, token: str, body: Any, message_part: str) -> None:
    response = create_or_get(sim, token, body)

    assert graph_error(response) == (400, "BadRequest")
    assert message_part in response.json()["error"]["message"]
    assert sim.meetings() == []


def test_a_body_that_is_not_json_or_not_labelled_json_gets_400(sim: GraphSimulator, token: str) -> None:
    url = f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet"
    auth = {"Authorization": f"Bearer {token}"}
    not_json = requests.post(url, data=b"{not json", headers={**auth, "Content-Type": "application/json"}, timeout=5)
    unlabelled = requests.post(url, data=b'{"externalId": "x"}', headers={**auth, "Content-Type": "text/plain"}, timeout=5)

    assert graph_error(not_json) == (400, "BadRequest")
    assert graph_error(unlabelled) == (400, "BadRequest")


def test_valid_roles_and_chat_info_are_accepted(sim: GraphSimulator, token: str) -> None:
    attendees = [{"upn": f"{role}@contoso.com", "role": role} for role in ("attendee", "presenter", "producer", "coorganizer")]
    body = {**BODY, "participants": {"attendees": attendees}, "chatInfo": {"threadId": None}}

    response = create_or_get(sim, token, body)

    assert response.status_code == 201
    assert [a["role"] for a in response.json()["participants"]["attendees"]] == [
        "attendee",
        "presenter",
        "producer",
        "coorganizer",
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer made-up", "Basic dXNlcjpwYXNz"])
def test_requests_without_a_token_it_issued_get_401(sim: GraphSimulator, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    url = f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet"

    response = requests.post(url, json=BODY, headers=headers, timeout=5)

    assert graph_error(response) == (401, "InvalidAuthenticationToken")
    assert sim.meetings() == []


def test_tokens_for_another_resource_or_expired_get_401() -> None:
    with GraphSimulator(token_lifetime_seconds=0) as sim:
        expired = fetch_token(sim).json()["access_token"]

        assert "expired" in create_or_get(sim, expired).json()["error"]["message"]
    with GraphSimulator() as sim:
        real_graph = fetch_token(sim, resource="https://graph.microsoft.com").json()["access_token"]
        response = create_or_get(sim, real_graph)

        assert graph_error(response) == (401, "InvalidAuthenticationToken")
        assert "audience" in response.json()["error"]["message"]


def test_unknown_organizers_get_404(token: str, sim: GraphSimulator) -> None:
    assert graph_error(create_or_get(sim, token, organizer="someone@contoso.com")) == (404, "NotFound")
    with GraphSimulator(known_organizers=[ORGANIZER.upper()]) as strict:
        strict_token = fetch_token(strict).json()["access_token"]

        assert create_or_get(strict, strict_token).status_code == 201
        assert graph_error(create_or_get(strict, strict_token, organizer=OTHER_ORGANIZER)) == (404, "NotFound")


def test_an_organizer_without_an_access_policy_gets_403(sim: GraphSimulator, token: str) -> None:
    sim.deny_organizer(ORGANIZER.upper())

    response = create_or_get(sim, token)

    assert graph_error(response) == (403, "Forbidden")
    assert response.json()["error"]["message"] == (
        f"Application is not allowed to perform operations on the user '{ORGANIZER}', "
        "neither is allowed access through RSC permission evaluation."
    )
    assert create_or_get(sim, token, organizer=OTHER_ORGANIZER).status_code == 201


def test_other_paths_and_methods_get_404_and_405(sim: GraphSimulator, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    wrong_path = requests.post(f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings", json=BODY, headers=auth, timeout=5)
    double_slash = requests.post(
        f"{sim.graph_base_url}//users/{ORGANIZER}/onlineMeetings/createOrGet", json=BODY, headers=auth, timeout=5
    )
    wrong_method = requests.get(f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet", headers=auth, timeout=5)
    delegated_only = requests.post(f"{sim.graph_base_url}/me/onlineMeetings/createOrGet", json=BODY, headers=auth, timeout=5)

    assert graph_error(wrong_path)[0] == 404
    assert graph_error(double_slash)[0] == 404
    assert graph_error(wrong_method)[0] == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert graph_error(delegated_only) == (400, "BadRequest")


def test_every_response_carries_graphs_headers(sim: GraphSimulator, token: str) -> None:
    echoed = create_or_get(sim, token, headers={"client-request-id": "mine-1"})
    generated = create_or_get(sim, None)

    assert echoed.headers["client-request-id"] == "mine-1"
    assert echoed.headers["Content-Type"].startswith("application/json")
    for response in (echoed, generated):
        assert UUID_TEXT.fullmatch(response.headers["request-id"])
        assert response.headers["Date"].endswith("GMT")
        assert int(response.headers["Content-Length"]) == len(response.content)
    assert UUID_TEXT.fullmatch(generated.headers["client-request-id"])
    assert generated.headers["Content-Type"] == "application/json"


# Managed identity endpoint


def test_the_real_managed_identity_credential_gets_a_token_graph_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    with GraphSimulator(expected_client_id=CLIENT_ID) as sim:
        for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)

        access = ManagedIdentityCredential(client_id=CLIENT_ID).get_token(f"{origin(sim)}/.default")

        assert access.expires_on > time.time() + 86000
        assert create_or_get(sim, access.token).status_code == 201
        (request,) = sim.token_requests()
        assert request.query == {"api-version": "2019-08-01", "resource": origin(sim), "client_id": CLIENT_ID}
        assert request.headers["X-IDENTITY-HEADER"] == sim.identity_header
        with pytest.raises(ClientAuthenticationError, match="Unable to load the proper Managed Identity"):
            ManagedIdentityCredential(client_id=str(uuid.uuid4())).get_token(f"{origin(sim)}/.default")


def test_token_endpoint_answers_like_app_service(sim: GraphSimulator) -> None:
    response = fetch_token(sim)

    payload = response.json()
    assert response.status_code == 200
    assert set(payload) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert (payload["resource"], payload["token_type"]) == (origin(sim), "Bearer")
    assert abs(int(payload["expires_on"]) - (time.time() + 86400)) < 5


def test_token_endpoint_refusals(sim: GraphSimulator) -> None:
    wrong_secret = requests.get(sim.identity_endpoint, params={"api-version": "2019-08-01", "resource": "x"}, timeout=5)
    old_api = fetch_token(sim, **{"api-version": "2017-09-01"})
    no_resource = requests.get(
        sim.identity_endpoint, params={"api-version": "2019-08-01"}, headers={"X-IDENTITY-HEADER": sim.identity_header}, timeout=5
    )
    scope_not_resource = fetch_token(sim, resource=f"{origin(sim)}/.default")

    assert wrong_secret.json()["statusCode"] == wrong_secret.status_code == 401
    assert [r.status_code for r in (old_api, no_resource, scope_not_resource)] == [400, 400, 400]
    assert "AADSTS500011" in scope_not_resource.json()["message"]


# Faults


def test_graph_faults_are_consumed_in_order(sim: GraphSimulator, token: str) -> None:
    sim.inject(Fault(status=429, retry_after="7"))
    sim.inject(Fault(status=503, times=2))
    sim.inject(Fault(status=418))

    responses = [create_or_get(sim, token) for _ in range(5)]

    assert [r.status_code for r in responses] == [429, 503, 503, 418, 201]
    assert [graph_error(r)[1] for r in responses[:4]] == [
        "TooManyRequests",
        "ServiceUnavailable",
        "ServiceUnavailable",
        "UnknownError",
    ]
    assert responses[0].headers["Retry-After"] == "7"
    assert "Retry-After" not in responses[1].headers


def test_token_faults_use_the_identity_endpoints_format(sim: GraphSimulator) -> None:
    sim.inject(Fault(target="token", status=500))

    failed, recovered = fetch_token(sim), fetch_token(sim)

    assert (failed.status_code, failed.json()["statusCode"]) == (500, 500)
    assert recovered.status_code == 200


def test_a_delayed_request_still_creates_the_meeting_after_the_client_gave_up(sim: GraphSimulator, token: str) -> None:
    sim.inject(Fault(delay_seconds=0.3))

    with pytest.raises(requests.Timeout):
        create_or_get(sim, token, timeout=0.1)
    deadline = time.monotonic() + 2
    while sim.meeting_for(ORGANIZER, "booking-42") is None and time.monotonic() < deadline:
        time.sleep(0.02)

    assert sim.meeting_for(ORGANIZER, "booking-42") is not None
    assert create_or_get(sim, token).status_code == 200


def test_dropped_connections(sim: GraphSimulator, token: str) -> None:
    sim.inject(Fault(drop_connection=True))
    sim.inject(Fault(drop_after_processing=True))

    with pytest.raises(requests.ConnectionError):
        create_or_get(sim, token)
    assert sim.meetings() == []
    with pytest.raises(requests.ConnectionError):
        create_or_get(sim, token)
    assert len(sim.meetings()) == 1
    assert create_or_get(sim, token).status_code == 200


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="target"):
        Fault(target="storage")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        Fault(status=503, drop_connection=True)
    with pytest.raises(ValueError, match="times"):
        Fault(times=0)


# Concurrency, counters, records


def test_racing_calls_for_one_key_create_exactly_one_meeting(sim: GraphSimulator, token: str) -> None:
    barrier = threading.Barrier(10)
    responses: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        response = create_or_get(sim, token)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(sim.meetings()) == 1


def test_one_session_keeps_one_connection_alive(sim: GraphSimulator) -> None:
    with requests.Session() as session:
        token = fetch_token(sim, http=session).json()["access_token"]
        statuses = [create_or_get(sim, token, http=session).status_code for _ in range(4)]

    stats = sim.stats
    assert statuses == [201, 200, 200, 200]
    assert (stats.connections_opened, stats.token_requests, stats.graph_requests) == (1, 1, 4)
    assert stats.responses_by_status == {200: 4, 201: 1}


def test_requests_are_recorded_and_reset_forgets_them(sim: GraphSimulator, token: str) -> None:
    sim.inject(Fault(status=503))
    create_or_get(sim, token)
    create_or_get(sim, token)

    recorded = sim.graph_requests()
    assert [(r.method, r.path) for r in recorded] == [("POST", f"/v1.0/users/{ORGANIZER}/onlineMeetings/createOrGet")] * 2
    assert recorded[0].headers["authorization"] == f"Bearer {token}"
    assert recorded[1].json == BODY
    assert sim.stats.responses_by_status == {200: 1, 503: 1, 201: 1}  # 200: the token

    sim.inject(Fault(status=503))
    sim.reset()

    assert (sim.meetings(), sim.graph_requests(), sim.token_requests()) == ([], [], [])
    assert sim.stats.responses_by_status == {}
    assert create_or_get(sim, token).status_code == 201
