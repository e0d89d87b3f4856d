"""The Outlook event for a calendar booking: the POST body, the lookup filter and the PATCH of what differs (pure).

Names and enum members are those of the Graph v1.0 metadata for `event` (tests/test_calendar_contract.py checks
them against it). Times travel as dateTimeTimeZone in UTC; the event's Teams meeting comes from
`isOnlineMeeting` with `onlineMeetingProvider` teamsForBusiness.

Finding the record's event again, without the state table: a single-value extended property (a MAPI named
property in the bridge's own GUID namespace) holds the externalId. It is set when the event is created, is not
shown to people, survives edits in Outlook, and Graph can filter events on it, which makes it the events'
counterpart of createOrGet's externalId. The transactionId is documented to de-duplicate POSTs, not as a key
to look events up by, and an open extension cannot be filtered on by value, so neither would do.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.booking import Attendee, Booking
from shared.meeting_changes import MeetingUpdate
from shared.wire_format import encoded

# The bridge's MAPI property set: fixed forever, like the externalId namespace (changing it loses every event).
EXTERNAL_ID_PROPERTY = "String {3f6c1d52-9a0e-4b7d-8c21-5e4f7a9b0c13} Name BookingBridgeExternalId"
# transactionId = UUIDv5(this, externalId + "\n" + incarnation): one per event the record ever had (its incarnation).
TRANSACTION_NAMESPACE = uuid.UUID("d1f0a6e4-2b7c-4e59-a3d8-6c0b9e1f4a27")
TEAMS = "teamsForBusiness"
# Every invited attendee is required: Outlook's `optional` and `resource` have no counterpart in a booking.
ATTENDEE_TYPE = "required"
# The comment attendees read in the cancellation Exchange sends them.
CANCEL_COMMENT = "This appointment has been cancelled."


# A first incarnation is below this (it is stored as a Table Int64, and counted up from there).
_FIRST_INCARNATION_BOUND = 2**62


def transaction_id(external_id: str, incarnation: int) -> str:
    """The event's transactionId: Graph creates no second event for a POST that repeats it."""
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{external_id}\n{incarnation}"))


def first_incarnation(external_id: str, booking: Booking) -> int:
    """The incarnation of a record whose state does not say which were used (never booked, or the table was lost).

    Derived from the booking (its revision, else all of it), so that two deliveries of one booking at once POST the
    same transactionId and Graph makes one event of them; and no other booking of the record derives it, so it is
    none that a dead event of the record holds, unless the same revision was booked before the state was lost (Graph
    then answers with that dead event, and the bridge takes another_incarnation)."""
    name = f"{external_id}\n{booking.revision}" if booking.revision is not None else f"{external_id}\n{booking.model_dump_json()}"
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return digest % _FIRST_INCARNATION_BOUND + 1


def another_incarnation() -> int:
    """An incarnation no booking derives, for a POST Graph answered with a dead event of the record: random."""
    return secrets.randbelow(_FIRST_INCARNATION_BOUND) + 1


def external_id_filter(external_id: str) -> str:
    """The $filter that finds the events carrying the record's externalId."""
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{_literal(EXTERNAL_ID_PROPERTY)}' "
        f"and ep/value eq '{_literal(external_id)}')"
    )


def join_url_filter(join_url: str) -> str:
    """The $filter that finds an event's Teams meeting among the organizer's onlineMeetings."""
    return f"JoinWebUrl eq '{_literal(join_url)}'"


def build_event_body(booking: Booking, external_id: str, incarnation: int) -> bytes:
    """The JSON body for POST /users/{organizerId}/events."""
    body: dict[str, Any] = {
        "subject": booking.subject,
        "start": _date_time_time_zone(booking.start),
        "end": _date_time_time_zone(booking.end),
        "isOnlineMeeting": True,
        "onlineMeetingProvider": TEAMS,
        # The source system owns the time: attendees may not propose another one.
        "allowNewTimeProposals": False,
        "transactionId": transaction_id(external_id, incarnation),
        "singleValueExtendedProperties": [{"id": EXTERNAL_ID_PROPERTY, "value": external_id}],
    }
    attendees = invited(booking)
    if attendees:
        body["attendees"] = [event_attendee(attendee) for attendee in attendees]
    return encoded(body)


def cancel_body() -> bytes:
    """The body of the event's cancel action (its one parameter, Comment)."""
    return encoded({"Comment": CANCEL_COMMENT})


def invited(booking: Booking) -> list[Attendee]:
    """The attendees Exchange invites: the booking's, when it asks for invitations; else nobody."""
    return list(booking.attendees) if booking.calendar is not None and booking.calendar.send_invitations else []


def event_attendee(attendee: Attendee) -> dict[str, Any]:
    return {"emailAddress": {"address": attendee.upn}, "type": ATTENDEE_TYPE}


def event_update(booking: Booking, event: dict[str, Any]) -> MeetingUpdate:
    """Compare an upsert booking with the event Graph holds; start and end travel together, attendees whole."""
    changed: list[str] = []
    body: dict[str, Any] = {}
    if booking.subject != event.get("subject"):
        changed.append("subject")
        body["subject"] = booking.subject
    moved = [name for name, wanted in (("start", booking.start), ("end", booking.end)) if event_instant(event, name) != wanted]
    if moved:
        changed.extend(moved)
        body["start"] = _date_time_time_zone(booking.start)
        body["end"] = _date_time_time_zone(booking.end)
    wanted_attendees = invited(booking)
    if {attendee.upn.lower() for attendee in wanted_attendees} != _addresses(event):
        changed.append("attendees")
        body["attendees"] = [event_attendee(attendee) for attendee in wanted_attendees]
    return MeetingUpdate(tuple(changed), body)


def event_instant(event: dict[str, Any], name: str) -> datetime | None:
    """An event's start or end as an aware UTC datetime; None unless Graph gave it in UTC, as it does by default."""
    value = event.get(name)
    if not isinstance(value, dict) or value.get("timeZone") != "UTC" or not isinstance(value.get("dateTime"), str):
        return None
    try:
        # Graph writes seven fractional digits ("2026-12-01T09:00:00.0000000"); six are enough to compare.
        text = value["dateTime"]
        head, dot, fraction = text.partition(".")
        moment = datetime.fromisoformat(f"{head}.{fraction[:6]}" if dot else head)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else None


def join_url(event: Any) -> str | None:
    """The Teams join URL of an event's online meeting, once Exchange has made it."""
    online = event.get("onlineMeeting") if isinstance(event, dict) else None
    url = online.get("joinUrl") if isinstance(online, dict) else None
    return url if isinstance(url, str) and url.startswith("https://") else None


def has_attendees(event: dict[str, Any]) -> bool:
    return bool(_addresses(event))


def _addresses(event: dict[str, Any]) -> set[str]:
    attendees = event.get("attendees")
    addresses = set()
    for attendee in attendees if isinstance(attendees, list) else []:
        email = attendee.get("emailAddress") if isinstance(attendee, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if isinstance(address, str):
            addresses.add(address.lower())
    return addresses


def _date_time_time_zone(moment: datetime | None) -> dict[str, str]:
    if moment is None:
        raise ValueError("an upsert booking always has start and end")
    return {"dateTime": moment.astimezone(UTC).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def _literal(text: str) -> str:
    # An OData string literal doubles its single quotes.
    return text.replace("'", "''")
