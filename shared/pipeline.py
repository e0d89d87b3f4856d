"""One booking message, from body to published result: the path every message takes.

    Service Bus message -> parse_booking -> derive_external_id -> build_create_or_get_body
    -> GraphClient.create_or_get -> meeting_from_graph -> ResultMessage -> publish_result

Invalid bookings and Graph's permanent refusals become results; everything retrying may fix
is raised as a RetryableError, so Service Bus redelivers the message and, after
maxDeliveryCount, dead-letters it. Nothing is swallowed and nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.booking import parse_booking
from shared.errors import (
    BookingIdentity,
    GraphErrorInfo,
    GraphPermanentError,
    GraphTransientError,
    InvalidBooking,
    RetryableError,
)
from shared.external_id import derive_external_id
from shared.graph_client import GraphClient
from shared.meeting import MalformedMeeting, Meeting, meeting_from_graph
from shared.meeting_request import build_create_or_get_body
from shared.publisher import ResultSink
from shared.result import ResultError, ResultMessage, ResultStatus, graph_error, rejected_error, utc_now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """The parts of a Service Bus message the bridge uses, independent of the Functions host."""

    body: bytes
    message_id: str
    correlation_id: str | None = None
    delivery_count: int | None = None


class BookingPipeline:
    """Turns booking messages into published results, one call per message, from any thread."""

    def __init__(self, graph: GraphClient, publisher: ResultSink, now: Callable[[], datetime] = utc_now) -> None:
        self._graph = graph
        self._publisher = publisher
        self._now = now

    def close(self) -> None:
        self._graph.close()
        self._publisher.close()

    def handle(self, message: InboundMessage) -> ResultMessage:
        """Process and publish; raise RetryableError when Service Bus should deliver the message again."""
        started = time.perf_counter()
        try:
            result = self.process(message)
            self._publisher.publish_result(result, message.correlation_id or message.message_id)
        except RetryableError as error:
            logger.error(
                "booking will be redelivered messageId=%s deliveryCount=%s error=%s reason=%s durationMs=%d",
                message.message_id,
                message.delivery_count,
                type(error).__name__,
                error,
                _elapsed_ms(started),
            )
            raise
        logger.info(
            "booking processed status=%s source=%s externalId=%s errorCode=%s graphRequestId=%s "
            "messageId=%s deliveryCount=%s durationMs=%d",
            result.status.value,
            result.source,
            result.external_id,
            result.error.code if result.error else None,
            result.graph_request_id,
            message.message_id,
            message.delivery_count,
            _elapsed_ms(started),
        )
        return result

    def process(self, message: InboundMessage) -> ResultMessage:
        """Decide the result for one message, calling Graph when the booking is valid."""
        try:
            booking = parse_booking(message.body)
        except InvalidBooking as error:
            return self._result(message, error.identity, ResultStatus.REJECTED, error=rejected_error(error))

        identity = BookingIdentity(booking.source, booking.record_id, booking.revision, booking.organizer_id)
        external_id = derive_external_id(booking.source, booking.record_id)
        if booking.action != "upsert":
            unsupported = ResultError(
                code="unsupported_action",
                message=f"action '{booking.action}' is not supported yet; this bridge version creates meetings only (upsert)",
            )
            return self._result(message, identity, ResultStatus.REJECTED, external_id, error=unsupported)

        try:
            response = self._graph.create_or_get(booking.organizer_id, build_create_or_get_body(booking, external_id))
        except GraphPermanentError as error:
            return self._result(
                message,
                identity,
                ResultStatus.FAILED,
                external_id,
                error=graph_error(error.info),
                graph_request_id=error.info.request_id,
            )
        try:
            meeting = meeting_from_graph(response.payload)
        except MalformedMeeting as error:
            info = GraphErrorInfo(response.status, "InvalidResponse", str(error), response.request_id)
            raise GraphTransientError(info, 1) from error
        status = ResultStatus.CREATED if response.status == 201 else ResultStatus.EXISTING
        return self._result(message, identity, status, external_id, meeting=meeting, graph_request_id=response.request_id)

    def _result(
        self,
        message: InboundMessage,
        identity: BookingIdentity,
        status: ResultStatus,
        external_id: str | None = None,
        *,
        meeting: Meeting | None = None,
        error: ResultError | None = None,
        graph_request_id: str | None = None,
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
            meeting=meeting,
            error=error,
            graph_request_id=graph_request_id,
            booking_message_id=message.message_id,
            processed_at=self._now(),
        )


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
