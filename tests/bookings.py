"""Booking messages for tests: one valid example, varied by keyword."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.inbound import InboundMessage
from shared.result import ResultStatus, result_message_id

REPO_ROOT = Path(__file__).resolve().parent.parent
ORGANIZER_ID = "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e"


def booking(**overrides: Any) -> dict[str, Any]:
    """A valid booking message (schema version 1); keyword arguments replace or add fields."""
    document: dict[str, Any] = {
        "schemaVersion": 1,
        "source": "crm-eu",
        "recordId": "BK-10023",
        "revision": 3,
        "action": "upsert",
        "organizerId": ORGANIZER_ID,
        "subject": "Intro call with Contoso",
        "start": "2026-12-01T10:00:00+01:00",
        "end": "2026-12-01T10:30:00+01:00",
        "attendees": [{"upn": "ada@contoso.com", "role": "attendee"}],
    }
    document.update(overrides)
    return document


def cancel_booking(**overrides: Any) -> dict[str, Any]:
    """A valid cancel of the same record: no subject, times or attendees; keyword arguments replace or add fields."""
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def encode(document: dict[str, Any]) -> bytes:
    """A booking's body as the tests' host sends it."""
    return json.dumps(document).encode("utf-8")


def result_id(message_id: str, document: dict[str, Any] | bytes, status: ResultStatus) -> str:
    """The result message id the bridge gives this booking message's outcome."""
    body = document if isinstance(document, bytes) else encode(document)
    return result_message_id(InboundMessage(body, message_id).booking_key, status)
