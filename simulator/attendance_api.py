"""Graph's attendance reports of online meetings, as far as the bridge's attendance follow-up reads them.

GET /v1.0/users/{id}/onlineMeetings/{meetingId}/attendanceReports and
GET /v1.0/users/{id}/onlineMeetings/{meetingId}/attendanceReports/{reportId}/attendanceRecords, paged with
@odata.nextLink (an opaque $skiptoken), for an app-only token. As Graph documents them (List meetingAttendanceReports,
List attendanceRecords): at most the 50 most recent reports; for a meeting in a channel, the reports of every meeting
in that channel; 404 for a meeting the organizer does not have (a deleted one too); 403 where no application access
policy lets the app read the organizer's meeting artifacts.

The simulator holds no meetings of its own accord: a test or `simulate` adds a report to a meeting (add_report), or
holds the meeting (hold_meeting: everyone invited joins at its start and leaves at its end).
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from simulator.edm_datetime import TICKS_PER_SECOND, format_date_time_offset, parse_date_time_offset
from simulator.graph_errors import GraphError
from simulator.meeting_store import MeetingStore, meeting_owner
from simulator.server import HttpRequest, HttpResponse, json_response

_MEETING = r"/v1\.0/users/(?P<user>[^/]+)/onlineMeetings/(?P<meeting>[^/]+)/attendanceReports"
_REPORTS_PATH = re.compile(_MEETING, re.IGNORECASE)
_RECORDS_PATH = re.compile(_MEETING + r"/(?P<report>[^/]+)/attendanceRecords", re.IGNORECASE)
MAX_LISTED_REPORTS = 50
DEFAULT_PAGE_SIZE = 10
# A meeting's own chat; any other thread is a channel's, whose report list holds every meeting of the channel.
_MEETING_CHAT_PREFIX = "19:meeting_"


@dataclass(frozen=True)
class _Report:
    meeting_id: str
    thread_id: str
    sequence: int
    document: dict[str, Any]
    records: tuple[dict[str, Any], ...]


class AttendanceApi:
    """The attendance endpoints; the organizer is checked by the caller (GraphApi), which owns tokens and policies."""

    def __init__(self, *, meetings: MeetingStore, tenant_id: str, base_url: Callable[[], str]) -> None:
        self._meetings = meetings
        self._tenant_id = tenant_id
        self._base_url = base_url
        self._lock = threading.Lock()
        self._reports: list[_Report] = []
        self._sequence = itertools.count(1)
        self._denied: set[str] = set()
        self.page_size = DEFAULT_PAGE_SIZE
        # Where next links point: the simulator's own GRAPH base URL unless a test says otherwise.
        self.next_link_base: str | None = None

    @staticmethod
    def user_segment(request: HttpRequest) -> str | None:
        """The user of an attendance path; None for other requests."""
        match = _RECORDS_PATH.fullmatch(request.path) or _REPORTS_PATH.fullmatch(request.path)
        return unquote(match["user"]) if match is not None else None

    def deny(self, organizer_id: str) -> None:
        """Answer 403 for this organizer's reports: the access policy does not cover the artifact permission."""
        with self._lock:
            self._denied.add(organizer_id.lower())

    def allow(self, organizer_id: str) -> None:
        with self._lock:
            self._denied.discard(organizer_id.lower())

    def clear(self) -> None:
        with self._lock:
            self._reports.clear()
            self._denied.clear()
            self.page_size = DEFAULT_PAGE_SIZE
            self.next_link_base = None

    def add_report(
        self,
        organizer_id: str,
        meeting_id: str,
        *,
        start: str,
        end: str,
        records: list[dict[str, Any]],
        participant_count: int | None = None,
    ) -> str:
        """A report of one session of a live meeting (Edm.DateTimeOffset times, records as Graph's attendanceRecord)."""
        meeting = self._meeting(organizer_id, meeting_id)
        report_id = str(uuid.uuid4())
        document = {
            "id": report_id,
            "totalParticipantCount": len(records) if participant_count is None else participant_count,
            "meetingStartDateTime": format_date_time_offset(parse_date_time_offset(start)),
            "meetingEndDateTime": format_date_time_offset(parse_date_time_offset(end)),
        }
        thread_id = unquote(meeting["chatInfo"]["threadId"])
        with self._lock:
            self._reports.append(_Report(meeting_id, thread_id, next(self._sequence), document, tuple(records)))
        return report_id

    def remove_report(self, organizer_id: str, meeting_id: str, report_id: str) -> None:
        """The report is no longer listed (Graph lists only the 50 most recent of a meeting)."""
        self._meeting(organizer_id, meeting_id)
        with self._lock:
            self._reports = [report for report in self._reports if report.document["id"] != report_id]

    def hold_meeting(self, organizer_id: str, meeting_id: str) -> str:
        """The meeting takes place as booked: the organizer and every attendee join at its start and leave at its end."""
        meeting = self._meeting(organizer_id, meeting_id)
        start, end = meeting["startDateTime"], meeting["endDateTime"]
        seconds = (parse_date_time_offset(end) - parse_date_time_offset(start)) // TICKS_PER_SECOND
        organizer = meeting["participants"]["organizer"]
        people = [(organizer["upn"], "Organizer", organizer["identity"]["user"]["id"])]
        for attendee in meeting["participants"]["attendees"]:
            user = (attendee.get("identity") or {}).get("user") or {}
            role = "Presenter" if attendee.get("role") in ("presenter", "coorganizer") else "Attendee"
            people.append((attendee["upn"], role, user.get("id") or str(uuid.uuid5(uuid.NAMESPACE_URL, attendee["upn"]))))
        records = [
            {
                "emailAddress": address,
                "totalAttendanceInSeconds": seconds,
                "role": role,
                "identity": {"id": user_id, "displayName": address.split("@")[0].title(), "tenantId": None},
                "attendanceIntervals": [{"joinDateTime": start, "leaveDateTime": end, "durationInSeconds": seconds}],
            }
            for address, role, user_id in people
        ]
        return self.add_report(organizer_id, meeting_id, start=start, end=end, records=records)

    def answer(self, request: HttpRequest, organizer_id: str) -> HttpResponse:
        if request.method != "GET":
            raise GraphError(
                405, "MethodNotAllowed", f"The HTTP method '{request.method}' is not allowed here.", {"Allow": "GET"}
            )
        with self._lock:
            denied = organizer_id in self._denied
        if denied:
            raise GraphError(
                403,
                "Forbidden",
                f"Application is not allowed to read online meeting artifacts of the user '{organizer_id}': grant "
                "OnlineMeetingArtifact.Read.All and an application access policy covering the user.",
            )
        records = _RECORDS_PATH.fullmatch(request.path)
        match = records or _REPORTS_PATH.fullmatch(request.path)
        assert match is not None  # user_segment matched it
        meeting_id = unquote(match["meeting"])
        visible = self._visible(organizer_id, meeting_id)
        if records is None:
            return self._page(request, [report.document for report in visible])
        report_id = unquote(records["report"])
        for report in visible:
            if report.document["id"] == report_id:
                return self._page(request, list(report.records))
        raise GraphError(404, "NotFound", f"The attendance report '{report_id}' was not found.")

    def _visible(self, organizer_id: str, meeting_id: str) -> list[_Report]:
        """The reports a list for this meeting returns: its own, or its channel's; the 50 most recent, newest first."""
        meeting = self._meeting(organizer_id, meeting_id)
        thread_id = unquote(meeting["chatInfo"]["threadId"])
        channel = not thread_id.startswith(_MEETING_CHAT_PREFIX)
        with self._lock:
            reports = [
                report
                for report in self._reports
                if (report.thread_id == thread_id if channel else report.meeting_id == meeting_id)
            ]
        reports.sort(key=lambda report: (report.document["meetingEndDateTime"], report.sequence), reverse=True)
        return reports[:MAX_LISTED_REPORTS]

    def _page(self, request: HttpRequest, items: list[dict[str, Any]]) -> HttpResponse:
        token = (request.query.get("$skiptoken") or [""])[0]
        offset = _offset(token) if token else 0
        page = items[offset : offset + self.page_size]
        payload: dict[str, Any] = {"value": page}
        if offset + self.page_size < len(items):
            base = self._base_url() if self.next_link_base is None else self.next_link_base
            below = request.path[len("/v1.0") :]  # the path matched /v1.0/ (case-insensitively)
            next_token = base64.urlsafe_b64encode(f"skip={offset + self.page_size}".encode()).decode("ascii")
            payload["@odata.nextLink"] = f"{base}{quote(below, safe='/%')}?$skiptoken={next_token}"
        return json_response(200, payload)

    def _meeting(self, organizer_id: str, meeting_id: str) -> dict[str, Any]:
        meeting = self._meetings.find(meeting_owner(self._tenant_id, organizer_id), meeting_id)
        if meeting is None:
            raise GraphError(404, "NotFound", f"The online meeting '{meeting_id}' of the user '{organizer_id}' was not found.")
        return meeting


def _offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError):
        text = ""
    if not text.startswith("skip=") or not text[5:].isdigit():
        raise GraphError(400, "BadRequest", "The $skiptoken is not valid.")
    return int(text[5:])
