"""Re-enqueue a throttled booking for after Graph's Retry-After, instead of sleeping on its lock.

When Graph asks for a longer wait than the invocation has left, sleeping would hold the
message lock and a worker, and failing would spend one of the queue's deliveries on a
throttle that says nothing about the booking. So the bridge sends a scheduled copy of the
booking to its own queue, same body and session, and completes the original. The copy
carries the original message id (so the result keeps its id) and a count, and the count
is bounded: past MAX_THROTTLE_REQUEUES the booking takes the ordinary redelivery path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from azure.servicebus import ServiceBusMessage

from shared.publisher import CONTENT_TYPE

ORIGINAL_MESSAGE_ID_PROPERTY = "bridgeOriginalMessageId"
REQUEUE_COUNT_PROPERTY = "bridgeRequeueCount"
# Fixed for ever: a redelivered original re-sends the same copy id for the same count.
REQUEUE_MESSAGE_NAMESPACE = uuid.UUID("0c3f5d7e-9a41-4b6f-8e2d-5f1a7c9b3e60")
# A little past Retry-After, so that the copy arrives after the throttle has lifted, not at its last moment.
_SCHEDULE_MARGIN_SECONDS = 1.0


def requeue_origin(message_id: str, properties: Mapping[str, Any]) -> tuple[str, int]:
    """The producer's message id and how often the booking was re-enqueued: (message_id, 0) for the producer's own.

    The two properties are the bridge's, but a producer can set them too: they are believed only on a
    message whose id is the one the bridge gives that copy, so a producer cannot borrow another
    booking's id or requeue count by setting them (a result's id also covers the body: shared.inbound)."""
    original = properties.get(ORIGINAL_MESSAGE_ID_PROPERTY)
    count = _count(properties.get(REQUEUE_COUNT_PROPERTY))
    if isinstance(original, str) and original and count and message_id == _copy_id(original, count):
        return original, count
    return message_id, 0


def _count(value: Any) -> int:
    # The host may hand application properties over as numbers or as their text.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4:
        return int(value)
    return value if type(value) is int and 0 < value < 10_000 else 0


def requeued_copy(
    body: bytes,
    *,
    original_id: str,
    count: int,
    session_id: str | None,
    correlation_id: str | None,
    delay_seconds: float,
    now: datetime | None = None,
) -> ServiceBusMessage:
    """The scheduled copy: same body and session, the original's id as a property, the new count."""
    scheduled = (now or datetime.now(UTC)) + timedelta(seconds=delay_seconds + _SCHEDULE_MARGIN_SECONDS)
    return ServiceBusMessage(
        body,
        message_id=_copy_id(original_id, count),
        session_id=session_id,
        correlation_id=correlation_id,
        content_type=CONTENT_TYPE,
        application_properties={ORIGINAL_MESSAGE_ID_PROPERTY: original_id, REQUEUE_COUNT_PROPERTY: count},
        scheduled_enqueue_time_utc=scheduled,
    )


def _copy_id(original_id: str, count: int) -> str:
    return str(uuid.uuid5(REQUEUE_MESSAGE_NAMESPACE, f"{original_id}\n{count}"))


class Requeue(Protocol):
    """Where throttled bookings go back to: the bookings queue in Azure."""

    def send(self, message: ServiceBusMessage, what: str) -> None: ...

    def close(self) -> None: ...
