"""What must change in an existing meeting for it to match a booking, as one PATCH body.

createOrGet returns an existing meeting unchanged, so a reschedule or an edited attendee
list only reaches Teams through PATCH. Graph's update rules shape the body: start and end
always travel together, and attendees are always the full list (whoever is left out is
removed). Fields that already match are left out, so an unchanged booking sends no PATCH.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.booking import Attendee, Booking
from shared.wire_format import encoded, graph_date_time, graph_instant, graph_participants

# What every upsert booking sets in full (Graph's names): the newest booking's values are the ones to send again.
BOOKING_SETS_IN_FULL = frozenset({"subject", "startDateTime", "endDateTime", "participants"})


@dataclass(frozen=True)
class MeetingUpdate:
    """The booking fields that differ (contract names, e.g. "start", "options.allowMeetingChat") and the PATCH body."""

    changed_fields: tuple[str, ...]
    body: dict[str, Any]

    def __bool__(self) -> bool:
        return bool(self.changed_fields)

    def encoded(self) -> bytes:
        return encoded(self.body)


def meeting_update(booking: Booking, meeting: dict[str, Any]) -> MeetingUpdate:
    """Compare an upsert booking with Graph's onlineMeeting document."""
    changed: list[str] = []
    body: dict[str, Any] = {}
    if booking.subject != meeting.get("subject"):
        changed.append("subject")
        body["subject"] = booking.subject
    times = {"start": (booking.start, "startDateTime"), "end": (booking.end, "endDateTime")}
    moved = [field for field, (wanted, graph_name) in times.items() if not _same_instant(wanted, meeting.get(graph_name))]
    if moved:
        changed.extend(moved)
        body["startDateTime"] = graph_date_time(booking.start)
        body["endDateTime"] = graph_date_time(booking.end)
    if _attendee_keys(booking.attendees) != _graph_attendee_keys(meeting, booking.attendees):
        changed.append("attendees")
        body["participants"] = graph_participants(booking.attendees)
    options = options_update(booking, meeting)
    return MeetingUpdate((*changed, *options.changed_fields), {**body, **options.body})


def options_update(booking: Booking, meeting: dict[str, Any]) -> MeetingUpdate:
    """The booking's options whose meeting value differs; lobbyBypassSettings is sent whole (Graph replaces complex
    values)."""
    changes: dict[str, Any] = {}
    for name, wanted in (booking.options.to_graph() if booking.options is not None else {}).items():
        current = meeting.get(name)
        if isinstance(wanted, dict):
            current = _object(current)
            if any(current.get(key) != value for key, value in wanted.items()):
                changes[name] = {**{key: current[key] for key in ("scope", "isDialInBypassEnabled") if key in current}, **wanted}
        elif current != wanted:
            changes[name] = wanted
    return MeetingUpdate(tuple(f"options.{name}" for name in changes), changes)


def undoing(update: MeetingUpdate, meeting: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body that puts back the options `update` changes, from the meeting as Graph returned it before.

    Used when a newer booking of the record was applied while this one was patching (a lost session lock): the
    older booking's PATCH must not be the one that stays. Only the options are put back, which a booking may leave
    out: subject, times and attendees are set by every booking in full, and the repair applies the newer booking
    again, so they only ever go back to what a booking holds (never to what the older one read before both).
    Values Graph did not return are left alone."""
    return {name: meeting[name] for name in update.body if name not in BOOKING_SETS_IN_FULL and meeting.get(name) is not None}


def _same_instant(wanted: datetime | None, graph_value: Any) -> bool:
    return wanted is not None and graph_instant(graph_value) == wanted


def _attendee_keys(attendees: list[Attendee]) -> dict[str, tuple[str, str | None]]:
    return {attendee.upn.lower(): (attendee.role, attendee.user_id) for attendee in attendees}


def _graph_attendee_keys(meeting: dict[str, Any], wanted: list[Attendee]) -> dict[str, tuple[str, str | None]]:
    """Graph's attendees in the booking's terms: a role Graph leaves null is the default (attendee), and a
    userId Graph resolved on its own counts only when the booking names one. Graph's body is outside input:
    what is not the expected shape is left out, so it differs from the booking and the PATCH sets it."""
    wanted_ids = {attendee.upn.lower(): attendee.user_id for attendee in wanted}
    keys: dict[str, tuple[str, str | None]] = {}
    for attendee in _list(_object(meeting.get("participants")).get("attendees")):
        attendee = _object(attendee)
        upn = attendee.get("upn")
        if not isinstance(upn, str):
            continue
        user_id = _object(_object(attendee.get("identity")).get("user")).get("id")
        resolved = user_id.lower() if isinstance(user_id, str) and wanted_ids.get(upn.lower()) else None
        role = attendee.get("role")
        keys[upn.lower()] = (role if isinstance(role, str) else "attendee", resolved)
    return keys


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
