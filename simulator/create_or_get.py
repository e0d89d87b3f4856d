"""The createOrGet request body, read as strictly as Graph's OData layer reads it.

The v1.0 metadata declares the action's parameters (chatInfo, endDateTime, externalId,
participants, startDateTime, subject); anything else is refused with 400, as are wrong types,
enum values that do not exist and date-times without an offset. Being strict here is the
point: a client mistake should fail against the simulator, not first in production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from simulator.edm_datetime import TICKS_PER_HOUR, parse_date_time_offset
from simulator.graph_errors import GraphError

PARAMETERS = frozenset({"chatInfo", "endDateTime", "externalId", "participants", "startDateTime", "subject"})
_PARTICIPANTS_PROPERTIES = frozenset({"attendees", "organizer"})
_PARTICIPANT_INFO_PROPERTIES = frozenset({"identity", "role", "upn"})
_CHAT_INFO_PROPERTIES = frozenset({"messageId", "replyChainMessageId", "threadId"})
_IDENTITY_SET_KNOWN = frozenset({"application", "device", "user"})
# onlineMeetingRole members a caller may send (unknownFutureValue is a placeholder, not a role).
ROLES = frozenset({"attendee", "presenter", "producer", "coorganizer"})

_MALFORMED = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."


@dataclass(frozen=True)
class CreateOrGetRequest:
    """A valid createOrGet body, with the documented start/end defaults already applied."""

    external_id: str
    subject: str | None
    start_ticks: int
    end_ticks: int
    attendees: tuple[dict[str, Any], ...]
    chat_info: dict[str, Any] | None


def parse_create_or_get(content_type: str | None, body: bytes, now: int) -> CreateOrGetRequest:
    """Validate a createOrGet body; `now` (UTC ticks) is the default start. Raises GraphError 400."""
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/json":
        raise _bad_request(f"{_MALFORMED} (Content-Type was {content_type!r}; createOrGet requires application/json.)")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad_request(_MALFORMED) from None
    if not isinstance(payload, dict):
        raise _bad_request(f"{_MALFORMED} (The payload must be a JSON object.)")
    _refuse_unknown(payload, PARAMETERS, "microsoft.graph.onlineMeeting")

    if "externalId" not in payload:
        raise _bad_request(
            "One or more parameters of the operation 'createOrGet' are missing from the request payload. "
            "The missing parameters are: externalId."
        )
    external_id = _string(payload, "externalId", "Edm.String")
    if external_id is None or not external_id.strip():
        raise _bad_request("The parameter 'externalId' of the operation 'createOrGet' must not be null or empty.")

    start_ticks, end_ticks = _meeting_times(payload, now)
    participants = payload.get("participants")
    return CreateOrGetRequest(
        external_id=external_id,
        subject=_string(payload, "subject", "Edm.String"),
        start_ticks=start_ticks,
        end_ticks=end_ticks,
        attendees=_attendees(participants),
        chat_info=_chat_info(payload.get("chatInfo")),
    )


def _meeting_times(payload: dict[str, Any], now: int) -> tuple[int, int]:
    # The documented rules: no times -> now..now+1h; start only -> start..start+1h;
    # end without start, or end before start -> error.
    start = _date_time(payload, "startDateTime")
    end = _date_time(payload, "endDateTime")
    if end is not None and start is None:
        raise _bad_request("The endDateTime cannot be specified without the startDateTime.")
    if start is None:
        return now, now + TICKS_PER_HOUR
    if end is None:
        return start, start + TICKS_PER_HOUR
    if end < start:
        raise _bad_request("The endDateTime cannot be earlier than the startDateTime.")
    return start, end


def _date_time(payload: dict[str, Any], name: str) -> int | None:
    text = _string(payload, name, "Edm.DateTimeOffset")
    if text is None:
        return None
    try:
        return parse_date_time_offset(text)
    except ValueError as error:
        raise _bad_request(f"Cannot convert the value of '{name}': {error}") from None


def _attendees(participants: Any) -> tuple[dict[str, Any], ...]:
    if participants is None:
        return ()
    if not isinstance(participants, dict):
        raise _bad_request("The value of 'participants' must be a microsoft.graph.meetingParticipants object.")
    _refuse_unknown(participants, _PARTICIPANTS_PROPERTIES, "microsoft.graph.meetingParticipants")
    # participants.organizer is accepted but has no effect: with an application token the
    # organizer is the user in the request path.
    if participants.get("organizer") is not None:
        _participant_info(participants["organizer"], "participants.organizer")
    attendees = participants.get("attendees")
    if attendees is None:
        return ()
    if not isinstance(attendees, list):
        raise _bad_request("The value of 'participants.attendees' must be a collection of meetingParticipantInfo objects.")
    return tuple(_participant_info(attendee, f"participants.attendees[{index}]") for index, attendee in enumerate(attendees))


def _participant_info(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad_request(f"The value of '{where}' must be a microsoft.graph.meetingParticipantInfo object.")
    _refuse_unknown(value, _PARTICIPANT_INFO_PROPERTIES, "microsoft.graph.meetingParticipantInfo")
    _string(value, "upn", "Edm.String", where)
    role = _string(value, "role", "microsoft.graph.onlineMeetingRole", where)
    if role is not None and role not in ROLES:
        raise _bad_request(
            f"The value '{role}' of '{where}.role' is not a member of microsoft.graph.onlineMeetingRole "
            f"({', '.join(sorted(ROLES))})."
        )
    _identity_set(value.get("identity"), f"{where}.identity")
    return value


def _identity_set(value: Any, where: str) -> None:
    # identitySet and identity are open types: extra properties are allowed, but the declared
    # ones must have the declared shapes.
    if value is None:
        return
    if not isinstance(value, dict):
        raise _bad_request(f"The value of '{where}' must be a microsoft.graph.identitySet object.")
    for name in _IDENTITY_SET_KNOWN & value.keys():
        identity = value[name]
        if identity is None:
            continue
        if not isinstance(identity, dict):
            raise _bad_request(f"The value of '{where}.{name}' must be a microsoft.graph.identity object.")
        _string(identity, "id", "Edm.String", f"{where}.{name}")
        _string(identity, "displayName", "Edm.String", f"{where}.{name}")


def _chat_info(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_request("The value of 'chatInfo' must be a microsoft.graph.chatInfo object.")
    _refuse_unknown(value, _CHAT_INFO_PROPERTIES, "microsoft.graph.chatInfo")
    for name in _CHAT_INFO_PROPERTIES:
        _string(value, name, "Edm.String", "chatInfo")
    return value


def _string(container: dict[str, Any], name: str, edm_type: str, where: str = "") -> str | None:
    value = container.get(name)
    if value is not None and not isinstance(value, str):
        path = f"{where}.{name}" if where else name
        raise _bad_request(f"Cannot convert the value of '{path}' ({json.dumps(value)}) to the expected type '{edm_type}'.")
    return value


def _refuse_unknown(value: dict[str, Any], allowed: frozenset[str], type_name: str) -> None:
    for name in value:
        if name not in allowed:
            raise _bad_request(
                f"The property '{name}' does not exist on type '{type_name}'. "
                "Make sure to only use property names that are defined by the type or mark the type as open type."
            )


def _bad_request(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)
