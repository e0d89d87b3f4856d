"""The simulator's attendance reports, as a client sees them: added to a meeting, paged, a channel's shared list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

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


def reports_url(sim: GraphSimulator, meeting_id: str, organizer: str = ORGANIZER) -> str:
    return f"{sim.graph_base_url}/users/{organizer}/onlineMeetings/{quote(meeting_id, safe='')}/attendanceReports"


def get(url: str, token: str) -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def every_page(url: str, token: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a collection, following @odata.nextLink, and how many pages it took."""
    items, pages = [], 0
    next_url: str | None = url
    while next_url is not None:
        response = get(next_url, token)
        assert response.status_code == 200, response.text
        items.extend(response.json()["value"])
        next_url = response.json().get("@odata.nextLink")
        pages += 1
    return items, pages


def record(address: str, seconds: int = 600) -> dict[str, Any]:
    return {
        "emailAddress": address,
        "totalAttendanceInSeconds": seconds,
        "role": "Attendee",
        "identity": {"id": None, "displayName": address.split("@")[0], "tenantId": None},
        "attendanceIntervals": [
            {"joinDateTime": "2026-12-01T09:00:00Z", "leaveDateTime": "2026-12-01T09:10:00Z", "durationInSeconds": seconds}
        ],
    }


def test_a_meeting_without_a_session_has_no_report(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()

    response = get(reports_url(sim, meeting["id"]), token)

    assert response.status_code == 200 and response.json() == {"value": []}


def test_a_held_meeting_has_a_report_with_everyone_invited(sim: GraphSimulator, token: str) -> None:
    body = {**BODY, "participants": {"attendees": [{"upn": "ada@contoso.com"}, {"upn": "lin@contoso.com"}]}}
    meeting = create_or_get(sim, token, body).json()

    report_id = sim.hold_meeting(ORGANIZER, meeting["id"])

    [report] = get(reports_url(sim, meeting["id"]), token).json()["value"]
    assert report == {
        "id": report_id,
        "totalParticipantCount": 3,
        "meetingStartDateTime": "2026-12-01T09:00:00.0000000Z",
        "meetingEndDateTime": "2026-12-01T09:30:00.0000000Z",
    }
    records = get(f"{reports_url(sim, meeting['id'])}/{report_id}/attendanceRecords", token).json()["value"]
    assert sorted((r["emailAddress"], r["role"], r["totalAttendanceInSeconds"]) for r in records) == [
        ("ada@contoso.com", "Attendee", 1800),
        ("lin@contoso.com", "Attendee", 1800),
        (f"organizer-{ORGANIZER[:8]}@simulator.onmicrosoft.com", "Organizer", 1800),
    ]


def test_reports_and_records_are_paged_with_next_links_on_the_simulators_origin(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()
    report_id = sim.add_attendance_report(
        ORGANIZER,
        meeting["id"],
        start="2026-12-01T09:00:00Z",
        end="2026-12-01T09:30:00Z",
        records=[record(f"person-{n}@contoso.com") for n in range(7)],
    )
    for _ in range(2):
        sim.add_attendance_report(ORGANIZER, meeting["id"], start="2026-12-01T10:00:00Z", end="2026-12-01T10:05:00Z", records=[])
    sim.page_attendance(3)

    first = get(f"{reports_url(sim, meeting['id'])}/{report_id}/attendanceRecords", token).json()
    records, record_pages = every_page(f"{reports_url(sim, meeting['id'])}/{report_id}/attendanceRecords", token)
    reports, report_pages = every_page(reports_url(sim, meeting["id"]), token)

    assert first["@odata.nextLink"].startswith(f"{sim.graph_base_url}/users/")
    assert "$skiptoken=" in first["@odata.nextLink"]
    assert sorted(r["emailAddress"] for r in records) == [f"person-{n}@contoso.com" for n in range(7)]
    assert (record_pages, len(reports), report_pages) == (3, 3, 1)


def test_a_channel_meetings_list_holds_every_meeting_of_the_channel(sim: GraphSimulator, token: str) -> None:
    """Graph (List meetingAttendanceReports): "the API returns attendance reports for every meeting in the channel"."""
    in_channel = [
        create_or_get(sim, token, {**BODY, "externalId": f"class-{n}", "chatInfo": {"threadId": CHANNEL}}).json()
        for n in range(2)
    ]
    alone = create_or_get(sim, token, {**BODY, "externalId": "one-to-one"}).json()
    for meeting in (*in_channel, alone):
        sim.hold_meeting(ORGANIZER, meeting["id"])

    listed = [len(get(reports_url(sim, meeting["id"]), token).json()["value"]) for meeting in (*in_channel, alone)]

    assert listed == [2, 2, 1]


def test_at_most_the_fifty_most_recent_reports_are_listed(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()
    for day in range(1, 29):
        for hour in (9, 10):
            start = f"2026-11-{day:02d}T{hour:02d}:00:00Z"
            sim.add_attendance_report(ORGANIZER, meeting["id"], start=start, end=start.replace(":00:00Z", ":30:00Z"), records=[])
    sim.page_attendance(100)

    reports = get(reports_url(sim, meeting["id"]), token).json()["value"]

    assert len(reports) == 50
    assert min(report["meetingStartDateTime"] for report in reports) == "2026-11-04T09:00:00.0000000Z"


def test_a_deleted_or_unknown_meeting_answers_404(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()
    sim.hold_meeting(ORGANIZER, meeting["id"])
    requests.delete(
        f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/{quote(meeting['id'], safe='')}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )

    assert graph_error(get(reports_url(sim, meeting["id"]), token)) == (404, "NotFound")
    assert graph_error(get(reports_url(sim, meeting["id"], OTHER_ORGANIZER), token)) == (404, "NotFound")


def test_an_organizer_whose_artifacts_the_policy_does_not_cover_answers_403(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()
    sim.deny_meeting_artifacts(ORGANIZER)

    assert graph_error(get(reports_url(sim, meeting["id"]), token)) == (403, "Forbidden")
    assert get(f"{sim.graph_base_url}/users/{ORGANIZER}/onlineMeetings/{quote(meeting['id'], safe='')}", token).ok


def test_a_report_of_another_meeting_is_not_found(sim: GraphSimulator, token: str) -> None:
    first = create_or_get(sim, token).json()
    second = create_or_get(sim, token, {**BODY, "externalId": "another"}).json()
    report_id = sim.hold_meeting(ORGANIZER, first["id"])

    response = get(f"{reports_url(sim, second['id'])}/{report_id}/attendanceRecords", token)

    assert graph_error(response) == (404, "NotFound")


def test_reset_forgets_the_reports(sim: GraphSimulator, token: str) -> None:
    meeting = create_or_get(sim, token).json()
    sim.hold_meeting(ORGANIZER, meeting["id"])
    sim.reset()
    meeting = create_or_get(sim, token).json()

    assert get(reports_url(sim, meeting["id"]), token).json()["value"] == []
