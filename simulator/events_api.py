"""Graph's Outlook events, as far as the bridge's calendar mode uses them, and an event's Teams meeting.

POST /v1.0/users/{id}/events (deduplicated by transactionId; isOnlineMeeting with teamsForBusiness makes a Teams
meeting), GET /v1.0/users/{id}/events?$filter= on the bridge's single-value extended property, GET, PATCH and
DELETE of /v1.0/users/{id}/events/{eventId}, POST .../events/{eventId}/cancel (202; the event moves to Deleted
Items, isCancelled true), and GET /v1.0/users/{id}/onlineMeetings?$filter=JoinWebUrl eq '...'.
Bodies are read strictly (declared properties, enum members, dateTimeTimeZone), as the onlineMeetings side is.
The simulator takes times in UTC only; real Graph also takes Windows and IANA time zone names.
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from simulator.create_or_get import CreateOrGetRequest
from simulator.edm_datetime import format_date_time_offset, now_ticks, parse_date_time_offset
from simulator.graph_errors import GraphError
from simulator.join_information import join_information
from simulator.meeting_document import new_meeting_document
from simulator.meeting_store import MeetingStore, meeting_key, meeting_owner
from simulator.odata_body import bad_request, boolean_value, enum_value, read_json_object, refuse_unknown, string_value
from simulator.server import HttpRequest, HttpResponse, json_response

_USER = r"/v1\.0/users/(?P<user>[^/]+)"
_EVENTS_PATH = re.compile(_USER + r"/events", re.IGNORECASE)
_EVENT_PATH = re.compile(_USER + r"/events/(?P<event>[^/]+)", re.IGNORECASE)
_CANCEL_PATH = re.compile(_USER + r"/events/(?P<event>[^/]+)/(?:microsoft\.graph\.)?cancel", re.IGNORECASE)
_MEETINGS_COLLECTION_PATH = re.compile(_USER + r"/onlineMeetings", re.IGNORECASE)
_EXTENDED_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(?P<var>\w+)\s*:\s*(?P=var)/id eq '(?P<id>(?:[^']|'')*)'"
    r"\s+and\s+(?P=var)/value eq '(?P<value>(?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
_JOIN_URL_FILTER = re.compile(r"JoinWebUrl eq '(?P<url>(?:[^']|'')*)'", re.IGNORECASE)
_PROPERTY_ID = re.compile(r"String \{[0-9a-fA-F-]{36}\} Name \S+")
_UTC_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?")

PROVIDERS = frozenset({"unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness"})
ATTENDEE_TYPES = frozenset({"required", "optional", "resource"})
# The event properties a caller may write (a subset of the v1.0 metadata's event; the rest is refused as unknown here).
WRITABLE = frozenset(
    {
        "allowNewTimeProposals",
        "attendees",
        "end",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "singleValueExtendedProperties",
        "start",
        "subject",
        "transactionId",
    }
)
_UPDATABLE = WRITABLE - {"transactionId", "singleValueExtendedProperties"}


@dataclass
class _Event:
    organizer_id: str
    document: dict[str, Any]
    properties: dict[str, str] = field(default_factory=dict)
    meeting_id: str | None = None
    state: str = "live"  # "live", "cancelled" (Deleted Items), "deleted"


class EventsApi:
    """The events endpoints; organizers are checked by the caller (GraphApi), which owns tokens and policies."""

    def __init__(self, *, meetings: MeetingStore, tenant_id: str, dial_in: bool, base_url: Any) -> None:
        self._meetings = meetings
        self._tenant_id = tenant_id
        self._dial_in = dial_in
        self._base_url = base_url
        self._lock = threading.Lock()
        self._events: dict[str, _Event] = {}
        self._refused_options = False

    @staticmethod
    def user_segment(request: HttpRequest) -> str | None:
        """The user of an events path, or of a $filter GET on the onlineMeetings collection; None for other requests."""
        for pattern in (_CANCEL_PATH, _EVENT_PATH, _EVENTS_PATH):
            match = pattern.fullmatch(request.path)
            if match is not None:
                return unquote(match["user"])
        match = _MEETINGS_COLLECTION_PATH.fullmatch(request.path)
        if match is not None and request.method == "GET" and "$filter" in request.query:
            return unquote(match["user"])
        return None

    def refuse_meeting_options(self, refused: bool) -> None:
        """Make an event's Teams meeting refuse PATCHed options (400), as Graph may for calendar-backed meetings."""
        self._refused_options = refused

    def refuses_update(self, meeting_id: str) -> bool:
        with self._lock:
            return self._refused_options and any(event.meeting_id == meeting_id for event in self._events.values())

    def answer(self, request: HttpRequest, organizer_id: str) -> HttpResponse:
        if (match := _CANCEL_PATH.fullmatch(request.path)) is not None:
            self._method(request, "POST")
            return self._cancel(request, organizer_id, unquote(match["event"]))
        if (match := _EVENT_PATH.fullmatch(request.path)) is not None:
            event_id = unquote(match["event"])
            self._method(request, "GET", "PATCH", "DELETE")
            if request.method == "PATCH":
                return self._update(request, organizer_id, event_id)
            if request.method == "DELETE":
                self._remove(organizer_id, event_id, "deleted")
                return HttpResponse(204, b"")
            return _event_response(200, self._found(organizer_id, event_id, allow_cancelled=True))
        if _EVENTS_PATH.fullmatch(request.path) is not None:
            self._method(request, "GET", "POST")
            return self._create(request, organizer_id) if request.method == "POST" else self._list(request, organizer_id)
        self._method(request, "GET")
        return self._online_meetings(request, organizer_id)

    # What happened, for tests

    def events(self, state: str = "live") -> list[dict[str, Any]]:
        """Events in this state (live, cancelled, deleted), each with the extended property values it carries."""
        with self._lock:
            return [
                {**copy.deepcopy(event.document), "_properties": dict(event.properties), "_organizerId": event.organizer_id}
                for event in self._events.values()
                if event.state == state
            ]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._refused_options = False

    # Operations

    def _create(self, request: HttpRequest, organizer_id: str) -> HttpResponse:
        payload = read_json_object(request.headers.get("content-type"), request.body, "Create event")
        _check_event(payload, WRITABLE)
        properties = _extended_properties(payload.get("singleValueExtendedProperties"))
        transaction_id = string_value(payload, "transactionId", "Edm.String")
        with self._lock:
            # A transactionId is remembered even after its event is cancelled or deleted, so a record booked
            # again needs a new one (pessimistic: Graph documents the deduplication, not how long it lasts).
            for event in self._events.values():
                if transaction_id and (event.organizer_id, event.document.get("transactionId")) == (organizer_id, transaction_id):
                    return _event_response(201, event.document)
            event_id = _event_id()
            document = self._new_document(payload, organizer_id, event_id, transaction_id)
            event = _Event(organizer_id, document, properties)
            if payload.get("isOnlineMeeting") is True and payload.get("onlineMeetingProvider") == "teamsForBusiness":
                meeting = self._new_meeting(organizer_id, event_id, document)
                event.meeting_id = meeting["id"]
                document["onlineMeeting"] = {"joinUrl": meeting["joinWebUrl"], "conferenceId": None, "tollNumber": None}
            self._events[event_id] = event
            return _event_response(201, document)

    def _list(self, request: HttpRequest, organizer_id: str) -> HttpResponse:
        match = _EXTENDED_FILTER.fullmatch(_filter(request))
        if match is None:
            raise bad_request(
                "The simulator filters events only on singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')."
            )
        property_id, value = match["id"].replace("''", "'"), match["value"].replace("''", "'")
        with self._lock:
            found = [
                copy.deepcopy(event.document)
                for event in self._events.values()
                if event.organizer_id == organizer_id and event.state == "live" and event.properties.get(property_id) == value
            ]
        return json_response(200, {"value": found})

    def _update(self, request: HttpRequest, organizer_id: str, event_id: str) -> HttpResponse:
        payload = read_json_object(request.headers.get("content-type"), request.body, "Update event")
        _check_event(payload, _UPDATABLE)
        with self._lock:
            event = self._live(organizer_id, event_id)
            document = event.document
            if "subject" in payload:
                document["subject"] = payload["subject"]
            for name in ("start", "end"):
                if name in payload:
                    document[name] = _date_time_time_zone(payload[name], name)
            if "attendees" in payload:
                document["attendees"] = [_attendee_document(attendee) for attendee in payload["attendees"]]
            for name in ("allowNewTimeProposals",):
                if name in payload:
                    document[name] = payload[name]
            document["lastModifiedDateTime"] = format_date_time_offset(now_ticks())
            if event.meeting_id is not None:
                self._meetings.update(meeting_owner(self._tenant_id, organizer_id), event.meeting_id, _synced(document))
            return _event_response(200, document)

    def _cancel(self, request: HttpRequest, organizer_id: str, event_id: str) -> HttpResponse:
        payload = read_json_object(request.headers.get("content-type"), request.body, "cancel")
        # The action's one parameter, Comment (Graph matches parameter names case-insensitively).
        refuse_unknown({name.lower(): value for name, value in payload.items()}, frozenset({"comment"}), "action cancel")
        for name in payload:
            string_value(payload, name, "Edm.String")
        with self._lock:
            event = self._events.get(event_id)
            if event is not None and event.organizer_id == organizer_id and event.state == "cancelled":
                raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. The meeting is already cancelled.")
        self._remove(organizer_id, event_id, "cancelled")
        return HttpResponse(202, b"")

    def _remove(self, organizer_id: str, event_id: str, state: str) -> None:
        with self._lock:
            event = self._live(organizer_id, event_id)
            event.state = state
            event.document["isCancelled"] = state == "cancelled"
            if event.meeting_id is not None:
                self._meetings.delete(meeting_owner(self._tenant_id, organizer_id), event.meeting_id)

    def _online_meetings(self, request: HttpRequest, organizer_id: str) -> HttpResponse:
        match = _JOIN_URL_FILTER.fullmatch(_filter(request))
        if match is None:
            raise bad_request("Filter expression expected - /onlineMeetings?$filter=JoinWebUrl eq 'joinWebUrl'.")
        url = match["url"].replace("''", "'")
        # As every answer with a meeting: joinInformation in the language the request asks for (simulator.join_information).
        language = request.headers.get("accept-language")
        found = [
            {**meeting, "joinInformation": join_information(meeting, organizer_id, self._tenant_id, language)}
            for meeting in self._meetings.all()
            if meeting["joinWebUrl"] == url and meeting["participants"]["organizer"]["identity"]["user"]["id"] == organizer_id
        ]
        return json_response(200, {"value": found})

    # Helpers

    def _found(self, organizer_id: str, event_id: str, *, allow_cancelled: bool = False) -> dict[str, Any]:
        with self._lock:
            event = self._events.get(event_id)
            if event is None or event.organizer_id != organizer_id or event.state == "deleted":
                raise _not_found(event_id)
            if event.state == "cancelled" and not allow_cancelled:
                raise _not_found(event_id)
            return copy.deepcopy(event.document)

    def _live(self, organizer_id: str, event_id: str) -> _Event:
        event = self._events.get(event_id)
        if event is None or event.organizer_id != organizer_id or event.state != "live":
            raise _not_found(event_id)
        return event

    def _new_document(
        self, payload: dict[str, Any], organizer_id: str, event_id: str, transaction_id: str | None
    ) -> dict[str, Any]:
        created = format_date_time_offset(now_ticks())
        return {
            "@odata.context": f"{self._base_url()}/$metadata#users('{organizer_id}')/events/$entity",
            "id": event_id,
            "createdDateTime": created,
            "lastModifiedDateTime": created,
            "changeKey": base64.b64encode(uuid.uuid4().bytes).decode("ascii"),
            "transactionId": transaction_id,
            "iCalUId": f"040000008200E00074C5B7101A82E008{uuid.uuid4().hex.upper()}",
            "subject": payload.get("subject"),
            "isCancelled": False,
            "isOrganizer": True,
            "isOnlineMeeting": payload.get("isOnlineMeeting") is True,
            "onlineMeetingProvider": payload.get("onlineMeetingProvider") or "unknown",
            "onlineMeeting": None,
            "allowNewTimeProposals": payload.get("allowNewTimeProposals", True),
            "start": _date_time_time_zone(payload.get("start"), "start"),
            "end": _date_time_time_zone(payload.get("end"), "end"),
            "attendees": [_attendee_document(attendee) for attendee in payload.get("attendees") or []],
            "organizer": {"emailAddress": {"name": None, "address": f"organizer-{organizer_id[:8]}@simulator.onmicrosoft.com"}},
        }

    def _new_meeting(self, organizer_id: str, event_id: str, document: dict[str, Any]) -> dict[str, Any]:
        request = CreateOrGetRequest(
            external_id="",
            subject=document["subject"],
            start_ticks=_ticks(document["start"]),
            end_ticks=_ticks(document["end"]),
            attendees=(),
            chat_info=None,
        )

        def create() -> dict[str, Any]:
            meeting = new_meeting_document(
                request,
                organizer_id=organizer_id,
                tenant_id=self._tenant_id,
                graph_base_url=self._base_url(),
                dial_in=self._dial_in,
                created_ticks=now_ticks(),
            )
            meeting["externalId"] = None  # a calendar-backed meeting has none
            return meeting

        return self._meetings.create_or_get(meeting_key(self._tenant_id, organizer_id, f"event:{event_id}"), create)[1]

    @staticmethod
    def _method(request: HttpRequest, *allowed: str) -> None:
        if request.method not in allowed:
            raise GraphError(
                405, "MethodNotAllowed", f"The HTTP method '{request.method}' is not allowed here.", {"Allow": ", ".join(allowed)}
            )


def _check_event(payload: dict[str, Any], allowed: frozenset[str]) -> None:
    refuse_unknown(payload, allowed, "microsoft.graph.event")
    string_value(payload, "subject", "Edm.String")
    string_value(payload, "transactionId", "Edm.String")
    boolean_value(payload, "isOnlineMeeting")
    boolean_value(payload, "allowNewTimeProposals")
    enum_value(payload, "onlineMeetingProvider", "onlineMeetingProviderType", PROVIDERS)
    for name in ("start", "end"):
        if name in payload:
            _date_time_time_zone(payload[name], name)
    attendees = payload.get("attendees")
    if attendees is not None:
        if not isinstance(attendees, list):
            raise bad_request("The value of 'attendees' must be a collection of microsoft.graph.attendee objects.")
        for index, attendee in enumerate(attendees):
            _attendee(attendee, f"attendees[{index}]")


def _attendee(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise bad_request(f"The value of '{where}' must be a microsoft.graph.attendee object.")
    refuse_unknown(value, frozenset({"emailAddress", "type", "status", "proposedNewTime"}), "microsoft.graph.attendee")
    enum_value(value, "type", "attendeeType", ATTENDEE_TYPES, where)
    email = value.get("emailAddress")
    if not isinstance(email, dict):
        raise bad_request(f"The value of '{where}.emailAddress' must be a microsoft.graph.emailAddress object.")
    refuse_unknown(email, frozenset({"address", "name"}), "microsoft.graph.emailAddress")
    if not isinstance(email.get("address"), str):
        raise bad_request(f"'{where}.emailAddress.address' is required.")


def _attendee_document(attendee: dict[str, Any]) -> dict[str, Any]:
    email = attendee["emailAddress"]
    return {
        "type": attendee.get("type", "required"),
        "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": email.get("name") or email["address"], "address": email["address"]},
    }


def _date_time_time_zone(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad_request(f"The value of '{where}' must be a microsoft.graph.dateTimeTimeZone object.")
    refuse_unknown(value, frozenset({"dateTime", "timeZone"}), "microsoft.graph.dateTimeTimeZone")
    text, zone = value.get("dateTime"), value.get("timeZone")
    if not isinstance(text, str) or not _UTC_DATE_TIME.fullmatch(text):
        raise bad_request(f"Cannot convert the value of '{where}.dateTime' to a date-time without offset.")
    if zone != "UTC":
        raise bad_request(f"'{where}.timeZone' must be 'UTC' in the simulator (real Graph also takes Windows and IANA names).")
    return {"dateTime": format_date_time_offset(parse_date_time_offset(text + "Z")).removesuffix("Z"), "timeZone": "UTC"}


def _ticks(value: dict[str, str]) -> int:
    return parse_date_time_offset(value["dateTime"] + "Z")


def _synced(event: dict[str, Any]) -> Any:
    """Teams keeps a calendar-backed meeting's subject and times those of its event."""

    def change(meeting: dict[str, Any]) -> None:
        meeting["subject"] = event["subject"]
        meeting["startDateTime"] = format_date_time_offset(_ticks(event["start"]))
        meeting["endDateTime"] = format_date_time_offset(_ticks(event["end"]))

    return change


def _extended_properties(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise bad_request("The value of 'singleValueExtendedProperties' must be a collection.")
    properties = {}
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("A singleValueLegacyExtendedProperty must be an object.")
        refuse_unknown(item, frozenset({"id", "value"}), "microsoft.graph.singleValueLegacyExtendedProperty")
        property_id, text = item.get("id"), item.get("value")
        if not isinstance(property_id, str) or not _PROPERTY_ID.fullmatch(property_id) or not isinstance(text, str):
            raise bad_request("The extended property id is not valid: use 'String {guid} Name name' with a string value.")
        properties[property_id] = text
    return properties


def _filter(request: HttpRequest) -> str:
    values = request.query.get("$filter") or [""]
    return values[0].strip()


def _event_id() -> str:
    # Exchange ids are URL-safe base64 of an entry id, ending in '='.
    return base64.urlsafe_b64encode(b"AAMkAG" + uuid.uuid4().bytes + uuid.uuid4().bytes).decode("ascii")


def _not_found(event_id: str) -> GraphError:
    return GraphError(404, "ErrorItemNotFound", f"The specified object was not found in the store. ({event_id[:12]}…)")


def _event_response(status: int, document: dict[str, Any]) -> HttpResponse:
    return json_response(status, document)
