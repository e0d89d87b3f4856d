"""Graph's onlineMeetings endpoints here, for an application (app-only) token.

POST /v1.0/users/{userId}/onlineMeetings/createOrGet, and GET (read), PATCH (Update
onlineMeeting) and DELETE of /v1.0/users/{userId}/onlineMeetings/{meetingId}.
Checks run in the order a caller meets them on real Graph: the route and method, the bearer
token, /me (delegated only), the body, then the organizer (does the user exist, and does an
application access policy let this app act for them), and finally the meeting itself (a
meeting id is found only under its own organizer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from simulator.attendance_api import AttendanceApi
from simulator.create_or_get import parse_create_or_get
from simulator.edm_datetime import now_ticks
from simulator.events_api import EventsApi
from simulator.graph_errors import GraphError, graph_error_response
from simulator.identity import ManagedIdentityEndpoint
from simulator.join_information import join_information
from simulator.meeting_document import new_meeting_document
from simulator.meeting_store import MeetingStore, meeting_key, meeting_owner
from simulator.meeting_update import parse_meeting_update
from simulator.server import HttpRequest, HttpResponse, json_response

# Successful Graph answers carry OData's parameters; a client must not compare Content-Type exactly.
ODATA_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Graph matches path segments case-insensitively and accepts the namespace-qualified action name.
_MEETINGS = r"/v1\.0/(?:(?P<me>me)|users/(?P<user>[^/]+))/onlineMeetings"
_CREATE_OR_GET_PATH = re.compile(_MEETINGS + r"/(?:microsoft\.graph\.)?createOrGet", re.IGNORECASE)
# A meeting id is one path segment; clients percent-encode it, so it is decoded before lookup.
_MEETING_PATH = re.compile(_MEETINGS + r"/(?P<meeting>[^/]+)", re.IGNORECASE)
_MEETING_METHODS = ("GET", "PATCH", "DELETE")


@dataclass(frozen=True)
class _Route:
    operation: Literal["createOrGet", "meeting"]
    user: str | None  # None for /me
    meeting_id: str = ""


class GraphApi:
    """createOrGet and GET/PATCH/DELETE of one meeting: authorization, organizers, validation and the meeting store."""

    def __init__(
        self,
        *,
        identity: ManagedIdentityEndpoint,
        store: MeetingStore,
        tenant_id: str,
        known_organizers: Iterable[str] | None,
        dial_in: bool,
        base_url: Callable[[], str],
        channels: Mapping[str, Iterable[str]] | None = None,
        events: EventsApi | None = None,
        attendance: AttendanceApi | None = None,
    ) -> None:
        self._identity = identity
        self._store = store
        self._tenant_id = tenant_id
        self._known = None if known_organizers is None else frozenset(user.lower() for user in known_organizers)
        self._denied: set[str] = set()
        self._dial_in = dial_in
        self._base_url = base_url
        # None: every channel thread exists and every organizer is a member of it.
        self._channels = (
            None if channels is None else {thread: frozenset(m.lower() for m in members) for thread, members in channels.items()}
        )
        self._events = events
        self._attendance = attendance

    def deny(self, user_id: str) -> None:
        """Behave as if no application access policy covers `user_id`: their meetings answer 403."""
        self._denied.add(user_id.lower())

    def allow(self, user_id: str) -> None:
        """Undo deny: the user's meetings are reachable again."""
        self._denied.discard(user_id.lower())

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one Graph request, in Graph's success or error format."""
        try:
            return self._answer(request)
        except GraphError as error:
            return graph_error_response(error, request)

    def _answer(self, request: HttpRequest) -> HttpResponse:
        # Outlook events and the onlineMeetings collection (calendar mode) are the events side's.
        events_user = self._events.user_segment(request) if self._events is not None else None
        # A meeting's attendance reports are the attendance side's.
        attendance_user = self._attendance.user_segment(request) if self._attendance is not None else None
        route = _route(request) if events_user is None and attendance_user is None else None
        problem = self._identity.check_bearer(request.headers.get("authorization"), self._base_url().removesuffix("/v1.0"))
        if problem is not None:
            raise GraphError(401, "InvalidAuthenticationToken", problem)
        if self._events is not None and events_user is not None:
            return self._events.answer(request, self._organizer(events_user))
        if self._attendance is not None and attendance_user is not None:
            return self._attendance.answer(request, self._organizer(attendance_user))
        assert route is not None
        if route.user is None:
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if route.operation == "createOrGet":
            status, meeting = self._create_or_get(request, route.user)
        elif request.method == "PATCH":
            status, meeting = 200, self._update(request, route.user, route.meeting_id)
        elif request.method == "DELETE":
            return self._delete(route.user, route.meeting_id)
        else:
            status, meeting = 200, self._get(route.user, route.meeting_id)
        meeting = self.as_answered(meeting, request.headers.get("accept-language"))
        return json_response(status, meeting, {"Content-Type": ODATA_CONTENT_TYPE})

    def as_answered(self, meeting: dict[str, Any], accept_language: str | None = None) -> dict[str, Any]:
        """A stored meeting as Graph answers with it: joinInformation is in the language each request asks
        for, so it is rendered per answer, never stored."""
        organizer_id = meeting["participants"]["organizer"]["identity"]["user"]["id"]
        return {**meeting, "joinInformation": join_information(meeting, organizer_id, self._tenant_id, accept_language)}

    def _create_or_get(self, request: HttpRequest, user_segment: str) -> tuple[int, dict[str, Any]]:
        params = parse_create_or_get(request.headers.get("content-type"), request.body, now_ticks())
        organizer_id = self._organizer(user_segment)
        base_url = self._base_url()

        def create() -> dict[str, Any]:
            # Only a new meeting joins a thread: an existing one is returned unchanged, whatever chatInfo says.
            self._check_thread(params.chat_info, organizer_id)
            return new_meeting_document(
                params,
                organizer_id=organizer_id,
                tenant_id=self._tenant_id,
                graph_base_url=base_url,
                dial_in=self._dial_in,
                created_ticks=now_ticks(),
            )

        created, meeting = self._store.create_or_get(meeting_key(self._tenant_id, organizer_id, params.external_id), create)
        return 201 if created else 200, meeting

    def _check_thread(self, chat_info: dict[str, Any] | None, organizer_id: str) -> None:
        """403, as Teams' thread ACL answers, when the organizer is not a member of the thread (or it does not exist)."""
        thread_id = unquote((chat_info or {}).get("threadId") or "")
        if not thread_id or self._channels is None or organizer_id in self._channels.get(thread_id, frozenset()):
            return
        raise GraphError(
            403,
            "Forbidden",
            f"AclCheckFailed-The organizer {organizer_id} is not a member of the roster of the thread {thread_id}: "
            "an online meeting is created in a channel only by a member of the channel.",
        )

    def _get(self, user_segment: str, meeting_id: str) -> dict[str, Any]:
        owner = meeting_owner(self._tenant_id, self._organizer(user_segment))
        return self._found(self._store.find(owner, meeting_id), user_segment, meeting_id)

    def _update(self, request: HttpRequest, user_segment: str, meeting_id: str) -> dict[str, Any]:
        update = parse_meeting_update(request.headers.get("content-type"), request.body)
        if self._events is not None and self._events.refuses_update(meeting_id):
            raise GraphError(400, "BadRequest", "This property cannot be updated for a meeting created from a calendar event.")
        owner = meeting_owner(self._tenant_id, self._organizer(user_segment))
        return self._found(self._store.update(owner, meeting_id, update.apply), user_segment, meeting_id)

    def _delete(self, user_segment: str, meeting_id: str) -> HttpResponse:
        owner = meeting_owner(self._tenant_id, self._organizer(user_segment))
        self._found(self._store.delete(owner, meeting_id), user_segment, meeting_id)
        return HttpResponse(204, b"")

    def _found(self, meeting: dict[str, Any] | None, user_segment: str, meeting_id: str) -> dict[str, Any]:
        if meeting is None:
            raise GraphError(404, "NotFound", f"The online meeting '{meeting_id}' of the user '{user_segment}' was not found.")
        return meeting

    def _organizer(self, user_id: str) -> str:
        """The organizer's canonical (lower-case) object id, if the app may act for them."""
        organizer_id = user_id.lower()
        # With application permissions onlineMeetings addresses users by object id only.
        if not _OBJECT_ID.fullmatch(user_id) or (self._known is not None and organizer_id not in self._known):
            raise GraphError(404, "NotFound", f"The user '{user_id}' was not found in the tenant {self._tenant_id}.")
        if organizer_id in self._denied:
            raise GraphError(
                403,
                "Forbidden",
                f"Application is not allowed to perform operations on the user '{user_id}', "
                "neither is allowed access through RSC permission evaluation.",
            )
        return organizer_id


def _route(request: HttpRequest) -> _Route:
    """Which operation the path names; GraphError 404 for other paths, 405 for a method the resource does not take."""
    create_or_get = _CREATE_OR_GET_PATH.fullmatch(request.path)
    if create_or_get is not None:
        if request.method != "POST":
            raise GraphError(
                405,
                "MethodNotAllowed",
                f"The HTTP method '{request.method}' is not allowed on createOrGet; it is an action and takes POST.",
                {"Allow": "POST"},
            )
        return _Route("createOrGet", _user(create_or_get))
    meeting = _MEETING_PATH.fullmatch(request.path)
    if meeting is None:
        raise GraphError(
            404,
            "NotFound",
            f"Resource not found for the path '{request.path}'. "
            "createOrGet is POST /v1.0/users/{userId}/onlineMeetings/createOrGet.",
        )
    if request.method not in _MEETING_METHODS:
        raise GraphError(
            405,
            "MethodNotAllowed",
            f"The HTTP method '{request.method}' is not allowed on an onlineMeeting; it takes GET, PATCH and DELETE.",
            {"Allow": ", ".join(_MEETING_METHODS)},
        )
    return _Route("meeting", _user(meeting), unquote(meeting["meeting"]))


def _user(match: re.Match[str]) -> str | None:
    return None if match["me"] else unquote(match["user"])
