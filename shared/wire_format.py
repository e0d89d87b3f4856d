"""Graph's wire formats, in one place: JSON encoding, date-times in and out, participants, fixed bodies.

createOrGet, PATCH and the lock before a delete all send the same shapes; defining them once keeps the
bytes the bridge sends identical whichever step sends them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.booking import Attendee

# Before a cancelled meeting is deleted: Graph keeps a deleted meeting's join link working,
# so first send everyone but the organizer to a lobby nobody will open, with no chat.
LOCK_BEFORE_DELETE = {
    "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
    "allowMeetingChat": "disabled",
}


def encoded(body: dict[str, Any]) -> bytes:
    """A request body as compact UTF-8 JSON (subjects keep their characters, not \\u escapes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def lookup_body(external_id: str) -> bytes:
    """createOrGet with only the externalId: Graph's one lookup of a meeting by it."""
    return encoded({"externalId": external_id})


def graph_date_time(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a Z, the form Graph documents for these parameters."""
    if moment is None:
        raise ValueError("an upsert booking always has start and end")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def graph_instant(value: Any) -> datetime | None:
    """A Graph Edm.DateTimeOffset string as an aware UTC datetime, or None if absent or unreadable."""
    # Graph writes seven fractional digits ("...18.0615989Z"); Python 3.11 reads them (truncating to six).
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def graph_participants(attendees: list[Attendee]) -> dict[str, Any]:
    """A booking's attendees as Graph's meetingParticipants, the `participants` of createOrGet and of a PATCH alike."""
    return {"attendees": [_graph_participant(attendee) for attendee in attendees]}


def _graph_participant(attendee: Attendee) -> dict[str, Any]:
    """One attendee as Graph's meetingParticipantInfo."""
    participant: dict[str, Any] = {"upn": attendee.upn, "role": attendee.role}
    if attendee.user_id:
        participant["identity"] = {"user": {"id": attendee.user_id}}
    return participant
