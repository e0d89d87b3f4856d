"""The createOrGet request body, read as strictly as Graph's OData layer reads it.

The v1.0 metadata declares the action's parameters (chatInfo, endDateTime, externalId,
participants, startDateTime, subject); anything else is refused with 400, as are wrong types,
enum values that do not exist and date-times without an offset. Being strict here is the
point: a client mistake should fail against the simulator, not first in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.edm_datetime import TICKS_PER_HOUR
from simulator.odata_body import (
    bad_request,
    date_time_value,
    participant_info,
    participant_infos,
    read_json_object,
    refuse_unknown,
    string_value,
)

PARAMETERS = frozenset({"chatInfo", "endDateTime", "externalId", "participants", "startDateTime", "subject"})
_PARTICIPANTS_PROPERTIES = frozenset({"attendees", "organizer"})
_CHAT_INFO_PROPERTIES = frozenset({"messageId", "replyChainMessageId", "threadId"})


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
    payload = read_json_object(content_type, body, "createOrGet")
    refuse_unknown(payload, PARAMETERS, "microsoft.graph.onlineMeeting")

    if "externalId" not in payload:
        raise bad_request(
            "One or more parameters of the operation 'createOrGet' are missing from the request payload. "
            "The missing parameters are: externalId."
        )
    external_id = string_value(payload, "externalId", "Edm.String")
    if external_id is None or not external_id.strip():
        raise bad_request("The parameter 'externalId' of the operation 'createOrGet' must not be null or empty.")

    start_ticks, end_ticks = _meeting_times(payload, now)
    participants = payload.get("participants")
    return CreateOrGetRequest(
        external_id=external_id,
        subject=string_value(payload, "subject", "Edm.String"),
        start_ticks=start_ticks,
        end_ticks=end_ticks,
        attendees=_attendees(participants),
        chat_info=_chat_info(payload.get("chatInfo")),
    )


def _meeting_times(payload: dict[str, Any], now: int) -> tuple[int, int]:
    # The documented rules: no times -> now..now+1h; start only -> start..start+1h;
    # end without start, or end before start -> error.
    start = date_time_value(payload, "startDateTime")
    end = date_time_value(payload, "endDateTime")
    if end is not None and start is None:
        raise bad_request("The endDateTime cannot be specified without the startDateTime.")
    if start is None:
        return now, now + TICKS_PER_HOUR
    if end is None:
        return start, start + TICKS_PER_HOUR
    if end < start:
        raise bad_request("The endDateTime cannot be earlier than the startDateTime.")
    return start, end


def _attendees(participants: Any) -> tuple[dict[str, Any], ...]:
    if participants is None:
        return ()
    if not isinstance(participants, dict):
        raise bad_request("The value of 'participants' must be a microsoft.graph.meetingParticipants object.")
    refuse_unknown(participants, _PARTICIPANTS_PROPERTIES, "microsoft.graph.meetingParticipants")
    # participants.organizer is accepted but has no effect: with an application token the
    # organizer is the user in the request path.
    if participants.get("organizer") is not None:
        participant_info(participants["organizer"], "participants.organizer")
    attendees = participants.get("attendees")
    return () if attendees is None else participant_infos(attendees, "participants.attendees")


def _chat_info(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("The value of 'chatInfo' must be a microsoft.graph.chatInfo object.")
    refuse_unknown(value, _CHAT_INFO_PROPERTIES, "microsoft.graph.chatInfo")
    for name in _CHAT_INFO_PROPERTIES:
        string_value(value, name, "Edm.String", "chatInfo")
    return value
