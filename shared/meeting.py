"""The meeting as the result reports it, mapped from Graph's onlineMeeting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from shared.contract_model import ContractModel


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


class MalformedMeeting(ValueError):
    """Graph answered success but the body lacks what every onlineMeeting has."""


def meeting_from_graph(payload: Any) -> Meeting:
    """Map a createOrGet success body to Meeting; raise MalformedMeeting if it is not an onlineMeeting."""
    if not isinstance(payload, dict) or not payload.get("id") or not payload.get("joinWebUrl"):
        raise MalformedMeeting("the success response has no onlineMeeting id or joinWebUrl")
    join_settings = payload.get("joinMeetingIdSettings") or {}
    audio = payload.get("audioConferencing") or {}
    dial_in = None
    if any(audio.get(name) for name in ("conferenceId", "tollNumber", "tollFreeNumber", "dialinUrl")):
        dial_in = DialIn(
            conference_id=audio.get("conferenceId"),
            toll_number=audio.get("tollNumber"),
            toll_free_number=audio.get("tollFreeNumber"),
            dialin_url=audio.get("dialinUrl"),
        )
    return Meeting(
        id=payload["id"],
        join_web_url=payload["joinWebUrl"],
        join_meeting_id=join_settings.get("joinMeetingId"),
        passcode=join_settings.get("passcode"),
        dial_in=dial_in,
        subject=payload.get("subject"),
        start=graph_instant(payload.get("startDateTime")),
        end=graph_instant(payload.get("endDateTime")),
    )


def graph_instant(value: Any) -> datetime | None:
    """A Graph Edm.DateTimeOffset string as an aware UTC datetime, or None if absent or unreadable."""
    # Graph writes seven fractional digits ("...18.0615989Z"); Python 3.11 reads them (truncating to six).
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
