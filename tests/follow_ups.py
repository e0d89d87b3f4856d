"""Attendance follow-ups for tests: bookings that ask for them, and the follow-ups the bridge schedules, delivered back."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage

from shared.attendance import FollowUp
from shared.pipeline import BookingPipeline
from tests.bookings import booking
from tests.conftest import HostInvoker, SentResults

ASKS = {"report": True}
# The meeting tests.bookings.booking() books, in UTC.
_MEETING_START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class BridgeClock:
    """The bridge's clock: the real one, or the time the follow-up being delivered was scheduled for when that is
    later (Service Bus hands it to the function only then)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        now = datetime.now(UTC)
        return self.at if self.at is not None and self.at > now else now


CLOCK = BridgeClock()


def on_the_bridge_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's pipeline reads CLOCK, which deliver() moves to each follow-up's scheduled time."""
    monkeypatch.setattr("shared.runtime.BookingPipeline", functools.partial(BookingPipeline, now=CLOCK))


def attendance_booking(**overrides: Any) -> dict[str, Any]:
    """A valid booking that asks for the attendance report after its meeting."""
    return booking(attendance=ASKS, **overrides)


def times(end_from_now: timedelta, minutes: int = 30) -> dict[str, str]:
    """`start` and `end` of a meeting that ends `end_from_now` from the real clock (the bridge's, through the host)."""
    end = datetime.now(UTC).replace(microsecond=0) + end_from_now
    return {"start": (end - timedelta(minutes=minutes)).isoformat(), "end": end.isoformat()}


def scheduled(sent: SentResults) -> list[ServiceBusMessage]:
    """The follow-ups the bridge sent to the bookings queue, oldest first."""
    return [message for message in sent.requeued() if b'"followUp"' in body(message)]


def body(message: ServiceBusMessage) -> bytes:
    return message.body if isinstance(message.body, bytes) else b"".join(message.body)


def follow_up_of(message: ServiceBusMessage) -> FollowUp:
    return FollowUp.model_validate_json(body(message))


def deliver(host: HostInvoker, message: ServiceBusMessage, delivery_count: int = 1) -> None:
    """The follow-up as Service Bus hands it to the function once its scheduled time came (on CLOCK)."""
    CLOCK.at = message.scheduled_enqueue_time_utc
    try:
        host.deliver(
            body(message),
            message_id=str(message.message_id),
            delivery_count=delivery_count,
            correlation_id=message.correlation_id,
            session_id=message.session_id,
            application_properties={str(name): value for name, value in (message.application_properties or {}).items()},
        )
    finally:
        CLOCK.at = None


def record(address: str, seconds: int = 1500, *, role: str = "Attendee", intervals: int = 1) -> dict[str, Any]:
    """Graph's attendanceRecord for one person."""
    return {
        "emailAddress": address,
        "totalAttendanceInSeconds": seconds,
        "role": role,
        "identity": {"id": None, "displayName": address.split("@")[0].title(), "tenantId": None},
        "attendanceIntervals": [
            {
                "joinDateTime": (_MEETING_START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
                "leaveDateTime": (_MEETING_START + timedelta(minutes=minute, seconds=30)).isoformat().replace("+00:00", "Z"),
                "durationInSeconds": 30,
            }
            for minute in range(intervals)
        ],
    }
