"""The meeting as the result reports it, mapped from Graph's onlineMeeting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.booking import normalized_thread_id
from shared.contract_model import ContractModel
from shared.errors import MalformedMeeting
from shared.join_information import JoinInformation, read_join_information
from shared.wire_format import graph_instant

# The longest id, URL or text taken from Graph's meeting into a result.
MAX_GRAPH_TEXT_LENGTH = 2048


class DialIn(ContractModel):
    """Dial-in details from Graph's audioConferencing, present when the organizer has an audio conferencing licence."""

    conference_id: str | None = None
    toll_number: str | None = None
    toll_free_number: str | None = None
    dialin_url: str | None = None


class Meeting(ContractModel):
    """What an attendee needs to join, and what Graph actually scheduled."""

    id: str = Field(description="Graph's onlineMeeting id, for later updates or cancellation.")
    join_web_url: str
    join_meeting_id: str | None = None
    passcode: str | None = None
    dial_in: DialIn | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    chat_thread_id: str | None = Field(
        default=None,
        description="The chat the meeting belongs to (Graph's chatInfo.threadId): the channel's thread for a meeting "
        "booked into a channel, otherwise the meeting's own chat.",
    )
    join_information: JoinInformation | None = Field(
        default=None,
        description="The invitation text in the booking's language (Graph's joinInformation, decoded); null when Graph "
        "sent none, or none of the documented shape, or one too large (then a warning says so).",
    )
    event_id: str | None = Field(
        default=None, description="For a calendar booking: the Outlook event's id on the organizer's calendar."
    )


def addressable(payload: Any) -> bool:
    """Whether a Graph body is an onlineMeeting the bridge can address and report: an id and a joinWebUrl it can read."""
    return isinstance(payload, dict) and bool(_text(payload.get("id"))) and bool(_text(payload.get("joinWebUrl")))


def meeting_from_graph(payload: Any) -> Meeting:
    """Map a Graph success body to Meeting; raise MalformedMeeting if it is not an onlineMeeting.

    Graph's body is outside input: a value of the wrong type is left out (and never quoted), so a
    surprise in one optional field cannot fail a booking whose meeting exists."""
    if not addressable(payload):
        raise MalformedMeeting("the success response has no onlineMeeting id or joinWebUrl")
    join_settings = _object(payload.get("joinMeetingIdSettings"))
    thread_id = _text(_object(payload.get("chatInfo")).get("threadId"))
    audio = _object(payload.get("audioConferencing"))
    dial_in_fields = {
        name: _text(audio.get(graph_name))
        for name, graph_name in (
            ("conference_id", "conferenceId"),
            ("toll_number", "tollNumber"),
            ("toll_free_number", "tollFreeNumber"),
            ("dialin_url", "dialinUrl"),
        )
    }
    return Meeting(
        id=payload["id"],
        join_web_url=payload["joinWebUrl"],
        join_meeting_id=_text(join_settings.get("joinMeetingId")),
        passcode=_text(join_settings.get("passcode")),
        dial_in=DialIn(**dial_in_fields) if any(dial_in_fields.values()) else None,
        subject=_text(payload.get("subject")),
        start=graph_instant(payload.get("startDateTime")),
        end=graph_instant(payload.get("endDateTime")),
        chat_thread_id=normalized_thread_id(thread_id) if thread_id else None,
        join_information=read_join_information(payload.get("joinInformation")).value,
    )


def _text(value: Any) -> str | None:
    # Real ids and Teams URLs are a few hundred characters; anything longer is not one, and would bloat the result.
    # An unpaired surrogate (JSON can escape one) is not text: the result could not be serialized.
    if not isinstance(value, str) or not 0 < len(value) <= MAX_GRAPH_TEXT_LENGTH:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
