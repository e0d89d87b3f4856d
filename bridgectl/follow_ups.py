"""`simulate`'s bookings queue for what the bridge sends back to it: the attendance follow-ups (shared.attendance).

In Azure a follow-up waits on the bookings queue until after the meeting's end. A simulation does not wait: once the
bookings have run, each follow-up they scheduled runs at once, on a clock moved to the time it was scheduled for (the
bridge acts on no follow-up before it is due), after the embedded simulator held its meeting (everyone invited joined
at its start and left at its end), so the run shows the `attendance` result the source would get.
What a follow-up schedules in turn (the next look, when no report was found) is shown, not run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from azure.servicebus import ServiceBusMessage
from pydantic import ValidationError

from shared.attendance import FollowUp
from shared.errors import RetryableError
from shared.inbound import InboundMessage
from shared.log_text import escaped
from shared.pipeline import BookingPipeline
from shared.result import utc_now

if TYPE_CHECKING:
    from simulator import GraphSimulator

_SUMMARY_LIMIT = 2000


class ScheduledFollowUps:
    """A Requeue that keeps what the pipeline schedules, to run it at once or show it; and the pipeline's clock, which
    reads the time a follow-up was scheduled for while it runs."""

    def __init__(self) -> None:
        self.scheduled: list[ServiceBusMessage] = []
        self._at: datetime | None = None

    def now(self) -> datetime:
        now = utc_now()
        return self._at if self._at is not None and self._at > now else now

    def send(self, message: ServiceBusMessage, what: str) -> None:
        self.scheduled.append(message)

    def close(self) -> None:
        """Nothing to release."""

    def run_at_once(self, pipeline: BookingPipeline, simulator: GraphSimulator | None, out: TextIO) -> tuple[int, int]:
        """Run each follow-up scheduled so far, once; write a line on `out` for each it schedules in turn and each
        left for redelivery. Returns (how many ran, how many were left for redelivery)."""
        due, self.scheduled = self.scheduled, []
        redelivered = 0
        for message in due:
            body = _body(message)
            if simulator is not None:
                _hold(simulator, body)
            inbound = InboundMessage(
                body=body,
                message_id=str(message.message_id),
                correlation_id=message.correlation_id,
                delivery_count=1,
                session_id=message.session_id,
                application_properties={str(name): value for name, value in (message.application_properties or {}).items()},
            )
            self._at = message.scheduled_enqueue_time_utc
            try:
                pipeline.handle(inbound)
            except RetryableError as error:
                redelivered += 1
                out.write(escaped(f"{'redeliver':<10} follow-up of {message.correlation_id}: {error}", _SUMMARY_LIMIT) + "\n")
            finally:
                self._at = None
        for message in self.scheduled:
            out.write(escaped(_scheduled_line(message), _SUMMARY_LIMIT) + "\n")
        return len(due), redelivered


def _hold(simulator: GraphSimulator, body: bytes) -> None:
    """The follow-up's meeting takes place in the simulator; one cancelled since has no meeting to hold."""
    from simulator.graph_errors import GraphError  # as simulate imports the simulator: only when it runs

    try:
        follow_up = FollowUp.model_validate_json(body)
        simulator.hold_meeting(follow_up.organizer_id, follow_up.meeting_id)
    except (ValidationError, GraphError):
        return


def _scheduled_line(message: ServiceBusMessage) -> str:
    follow_up = FollowUp.model_validate_json(_body(message))
    record = f"{follow_up.source}/{follow_up.record_id}"
    at = message.scheduled_enqueue_time_utc.isoformat() if message.scheduled_enqueue_time_utc else "-"
    return (
        f"{'scheduled':<10} {record:<40} externalId={follow_up.external_id}  attendance follow-up, next look at {at}  "
        f"({message.correlation_id})"
    )


def _body(message: ServiceBusMessage) -> bytes:
    return message.body if isinstance(message.body, bytes) else b"".join(message.body)
