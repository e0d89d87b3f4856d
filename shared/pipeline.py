"""One booking message, from body to published result: the path every message takes.

    Service Bus message -> parse_booking -> policy and session checks -> record state (ordering)
    -> MeetingLifecycle.upsert / cancel (Graph) -> record state -> ResultMessage -> publish_result

Invalid bookings, stale revisions and Graph's permanent refusals become results; everything
retrying may fix is raised as a RetryableError, so Service Bus redelivers the message. On the
queue's last delivery the bridge first publishes a `failed` result, so the source hears about it
before the message is dead-lettered. A long Graph throttle re-enqueues the booking instead
(shared.requeue). Nothing is swallowed and nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.booking import Booking, parse_booking
from shared.errors import (
    BookingIdentity,
    GraphThrottled,
    InvalidBooking,
    RetryableError,
)
from shared.external_id import derive_external_id
from shared.graph_client import GraphClient
from shared.meeting_lifecycle import MeetingLifecycle, Outcome
from shared.ordering import applied_state, commit, superseding_revision
from shared.organizer_policy import OrganizerPolicy
from shared.publisher import ResultSink
from shared.record_state import RecordState, RecordStateStore
from shared.requeue import Requeue, original_message_id, requeue_count, requeued_copy
from shared.result import (
    ResultError,
    ResultMessage,
    ResultStatus,
    graph_error,
    rejected_error,
    retry_exhausted_error,
    utc_now,
)
from shared.settings import DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_MAX_THROTTLE_REQUEUES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """The parts of a Service Bus message the bridge uses, independent of the Functions host."""

    body: bytes
    message_id: str
    correlation_id: str | None = None
    delivery_count: int | None = None
    session_id: str | None = None
    application_properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def original_id(self) -> str:
        """The producer's message id, also for a copy re-enqueued after throttling."""
        return original_message_id(self.message_id, self.application_properties)


@dataclass(frozen=True)
class PipelineLimits:
    """Bounds from the settings: the queue's maxDeliveryCount and how often a throttled booking may be re-enqueued."""

    max_delivery_count: int = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
    max_throttle_requeues: int = DEFAULT_MAX_THROTTLE_REQUEUES


class BookingPipeline:
    """Turns booking messages into published results, one call per message, from any thread."""

    def __init__(
        self,
        graph: GraphClient,
        publisher: ResultSink,
        states: RecordStateStore,
        requeue: Requeue | None = None,
        *,
        policy: OrganizerPolicy | None = None,
        limits: PipelineLimits | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._graph = graph
        self._lifecycle = MeetingLifecycle(graph)
        self._publisher = publisher
        self._states = states
        self._requeue = requeue
        self._policy = policy or OrganizerPolicy()
        self._limits = limits or PipelineLimits()
        self._now = now

    def close(self) -> None:
        self._graph.close()
        if self._requeue is not None:
            self._requeue.close()
        self._states.close()
        self._publisher.close()

    def handle(self, message: InboundMessage) -> ResultMessage | None:
        """Process and publish (None when re-enqueued); raise RetryableError when Service Bus should redeliver."""
        started = time.perf_counter()
        try:
            result = self.process(message)
            self._publisher.publish_result(result, message.correlation_id or message.original_id)
        except RetryableError as error:
            if isinstance(error, GraphThrottled) and self._requeued(message, error, started):
                return None
            self._give_up_or_raise(message, error, started)
            raise
        logger.info(
            "booking processed status=%s source=%s externalId=%s revision=%s changed=%s errorCode=%s "
            "graphRequestId=%s messageId=%s deliveryCount=%s durationMs=%d",
            result.status.value,
            result.source,
            result.external_id,
            result.revision,
            ",".join(result.changed_fields) or None,
            result.error.code if result.error else None,
            result.graph_request_id,
            message.message_id,
            message.delivery_count,
            _elapsed_ms(started),
        )
        return result

    def process(self, message: InboundMessage) -> ResultMessage:
        """Decide the result for one message, calling Graph when the booking is valid, allowed and current."""
        try:
            booking = parse_booking(message.body)
        except InvalidBooking as error:
            return self._result(message, error.identity, ResultStatus.REJECTED, error=rejected_error(error))

        identity = _identity(booking)
        external_id = derive_external_id(booking.source, booking.record_id)
        refusal = self._refusal(booking, external_id, message)
        if refusal is not None:
            return self._result(message, identity, ResultStatus.REJECTED, external_id, error=refusal)

        deadline = self._graph.deadline()
        state = self._states.read(external_id)
        newer = superseding_revision(state, booking)
        if newer is not None:
            return self._result(message, identity, ResultStatus.SUPERSEDED, external_id, applied_revision=newer)

        if booking.action == "cancel" and state is not None and state.cancelled and state.organizer_id == booking.organizer_id:
            # Cancelled before and nothing applied since: no meeting to look for.
            outcome = Outcome(ResultStatus.CANCELLED, None, meeting_existed=False)
        elif booking.action == "cancel":
            outcome = self._lifecycle.cancel(booking.organizer_id, external_id, deadline)
        else:
            outcome = self._lifecycle.upsert(booking, external_id, deadline)
        if outcome.status is not ResultStatus.FAILED:
            self._retire_moved_meeting(state, booking, deadline)
            meeting_id = outcome.meeting.id if outcome.meeting else None
            commit(self._states, applied_state(state, booking, external_id, meeting_id), state)
        return self._outcome_result(message, identity, external_id, outcome)

    def _refusal(self, booking: Booking, external_id: str, message: InboundMessage) -> ResultError | None:
        """Why the bridge will not act on a valid booking: the operator's policy, or a session that breaks ordering."""
        if not self._policy.permits(booking.source, booking.organizer_id):
            return ResultError(
                code="organizer_not_allowed",
                message=f"source '{booking.source}' may not book meetings for organizer {booking.organizer_id}: "
                "the operator's ALLOWED_ORGANIZERS setting does not list this pair",
            )
        if message.session_id is not None and message.session_id != external_id:
            return ResultError(
                code="invalid_session_id",
                message=f"the message's session id must be the record's externalId ({external_id}) so that the "
                "record's bookings are applied in order; send it again with that session id",
            )
        return None

    def _retire_moved_meeting(self, state: RecordState | None, booking: Booking, deadline: float) -> None:
        """A booking moved to another organizer leaves a meeting under the old one: lock and delete it."""
        if state is None or state.meeting_id is None or state.organizer_id in (None, booking.organizer_id):
            return
        self._lifecycle.retire(state.organizer_id, state.meeting_id, deadline, after_write=True)

    def _requeued(self, message: InboundMessage, error: GraphThrottled, started: float) -> bool:
        count = requeue_count(message.application_properties)
        if self._requeue is None or count >= self._limits.max_throttle_requeues:
            return False
        copy = requeued_copy(
            message.body,
            original_id=message.original_id,
            count=count + 1,
            session_id=message.session_id,
            correlation_id=message.correlation_id,
            delay_seconds=error.retry_after_seconds,
        )
        try:
            self._requeue.send(copy, "the throttled booking")
        except RetryableError as send_error:
            logger.error("could not re-enqueue the throttled booking error=%s", type(send_error).__name__)
            return False
        logger.warning(
            "booking re-enqueued after Graph throttling retryAfterSeconds=%.0f requeueCount=%d graphRequestId=%s "
            "messageId=%s originalMessageId=%s durationMs=%d",
            error.retry_after_seconds,
            count + 1,
            error.info.request_id,
            message.message_id,
            message.original_id,
            _elapsed_ms(started),
        )
        return True

    def _give_up_or_raise(self, message: InboundMessage, error: RetryableError, started: float) -> None:
        """Log the redelivery; on the last delivery, first publish a `failed` result carrying the error."""
        last = message.delivery_count is not None and message.delivery_count >= self._limits.max_delivery_count
        logger.error(
            "booking will be %s messageId=%s deliveryCount=%s error=%s reason=%s durationMs=%d",
            "dead-lettered" if last else "redelivered",
            message.message_id,
            message.delivery_count,
            type(error).__name__,
            error,
            _elapsed_ms(started),
        )
        if not last:
            return
        try:
            booking = parse_booking(message.body)
        except InvalidBooking:  # cannot happen (an invalid booking is answered, not retried); keep the DLQ path
            return
        result = self._result(
            message,
            _identity(booking),
            ResultStatus.FAILED,
            derive_external_id(booking.source, booking.record_id),
            error=retry_exhausted_error(error, message.delivery_count or 0),
        )
        try:
            self._publisher.publish_result(result, message.correlation_id or message.original_id)
        except RetryableError as publish_error:
            logger.error("could not publish the last-attempt result error=%s", type(publish_error).__name__)

    def _outcome_result(
        self, message: InboundMessage, identity: BookingIdentity, external_id: str, outcome: Outcome
    ) -> ResultMessage:
        return self._result(
            message,
            identity,
            outcome.status,
            external_id,
            meeting=outcome.meeting,
            error=graph_error(outcome.error) if outcome.error else None,
            graph_request_id=outcome.graph_request_id,
            changed_fields=list(outcome.changed_fields),
            meeting_existed=outcome.meeting_existed,
        )

    def _result(
        self,
        message: InboundMessage,
        identity: BookingIdentity,
        status: ResultStatus,
        external_id: str | None = None,
        **details: Any,
    ) -> ResultMessage:
        if external_id is None and identity.source and identity.record_id:
            external_id = derive_external_id(identity.source, identity.record_id)
        return ResultMessage(
            status=status,
            source=identity.source,
            record_id=identity.record_id,
            revision=identity.revision,
            external_id=external_id,
            organizer_id=identity.organizer_id,
            meeting=details.pop("meeting", None),
            error=details.pop("error", None),
            graph_request_id=details.pop("graph_request_id", None),
            booking_message_id=message.original_id,
            processed_at=self._now(),
            **details,
        )


def _identity(booking: Booking) -> BookingIdentity:
    return BookingIdentity(booking.source, booking.record_id, booking.revision, booking.organizer_id)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
