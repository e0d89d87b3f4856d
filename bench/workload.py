"""Booking messages for the benchmark: valid, distinct records.

A burst is records spread over a number of organizers, standalone meetings or calendar events, each with the
session id a producer gives it (the record's externalId).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from shared.external_id import derive_external_id

ORGANIZERS = tuple(str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-organizer-{n}")) for n in range(8))
_FIRST_START = datetime(2027, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))


def booking_body(prefix: str, record: int, *, organizer: str | None = None, calendar: bool = False) -> bytes:
    """One valid booking message (schema version 1) for record number `record`; `calendar`: an Outlook event that
    invites nobody (sendInvitations false)."""
    start = _FIRST_START + timedelta(minutes=15 * record)
    document: dict[str, object] = {
        "schemaVersion": 1,
        "source": "bench",
        "recordId": f"{prefix}-{record:07d}",
        "revision": 1,
        "action": "upsert",
        "organizerId": organizer or ORGANIZERS[record % len(ORGANIZERS)],
        "subject": f"Consultation {record}",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "attendees": [
            {"upn": f"client{record}@contoso.example", "role": "attendee"},
            {"upn": "advisor@contoso.example", "role": "attendee"},
        ],
    }
    if calendar:
        document["calendar"] = {"sendInvitations": False}
    return json.dumps(document).encode("utf-8")


def messages(prefix: str, count: int) -> Iterator[tuple[str, bytes]]:
    """(message id, body) for `count` new records."""
    for record in range(count):
        yield f"{prefix}-message-{record:07d}", booking_body(prefix, record)


def burst(prefix: str, count: int, organizers: int, *, calendar: bool) -> Iterator[tuple[str, str, bytes]]:
    """(message id, session id, body) of `count` new records over `organizers` organizers, round robin."""
    for record in range(count):
        organizer = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-burst-organizer-{record % organizers}"))
        body = booking_body(prefix, record, organizer=organizer, calendar=calendar)
        yield f"{prefix}-message-{record:07d}", derive_external_id("bench", f"{prefix}-{record:07d}"), body
