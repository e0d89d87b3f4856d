"""A booking message as the bridge receives it, independent of the Functions host, and the key that names it.

The booking key identifies one booking message for good: the producer's message id (also for a
re-enqueued copy) together with a digest of the body. Result message ids and the record state's
memory of what a delivery already did are derived from it, so a producer that reuses a message id
for another body, or sets the bridge's own properties, cannot take another booking's result id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from shared.requeue import requeue_origin

# Fixed for ever: booking keys are stored in the record state and result ids are derived from them.
BOOKING_KEY_NAMESPACE = uuid.UUID("8d2c6f0a-41e3-4c8b-9a57-3e0f6b1d9c24")


@dataclass(frozen=True)
class InboundMessage:
    """The parts of a Service Bus message the bridge uses."""

    body: bytes
    message_id: str
    correlation_id: str | None = None
    delivery_count: int | None = None
    session_id: str | None = None
    application_properties: Mapping[str, Any] = field(default_factory=dict)
    # The invocation's W3C trace context (the host's, continuing the message's Diagnostic-Id); untrusted
    # text, validated by shared.telemetry when it is parsed.
    trace_parent: str | None = None
    trace_state: str | None = None

    @cached_property
    def _origin(self) -> tuple[str, int]:
        return requeue_origin(self.message_id, self.application_properties)

    @property
    def original_id(self) -> str:
        """The producer's message id, also for a copy re-enqueued after throttling."""
        return self._origin[0]

    @property
    def requeue_count(self) -> int:
        """How many times the bridge has re-enqueued this booking (0 for the producer's message)."""
        return self._origin[1]

    @cached_property
    def booking_key(self) -> str:
        """Names this booking message, whichever delivery or re-enqueued copy carries it."""
        digest = hashlib.sha256(self.body).hexdigest()
        return str(uuid.uuid5(BOOKING_KEY_NAMESPACE, f"{self.original_id}\n{digest}"))

    def is_last_delivery(self, max_delivery_count: int) -> bool:
        """After this delivery fails, Service Bus dead-letters the message."""
        return self.delivery_count is not None and self.delivery_count >= max_delivery_count
