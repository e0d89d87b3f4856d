"""What happens to a booking message when something failed: the one place that decides it.

Everything that can go wrong while a booking is handled ends here, as dramatiq's Retries middleware
owns retry and give-up: the pipeline reports what happened and carries out the decision.

    answer     publish a `failed` result now; the message completes (retrying cannot help)
    requeue    send a scheduled copy after Graph's Retry-After; the message completes
    redeliver  raise: Service Bus redelivers the message, first in its session, so nothing overtakes it
    give up    the last delivery: publish a `failed` result, then raise, so Service Bus dead-letters it

The bounds, and why:
- MIN_WAIT_SECONDS / MAX_ATTEMPTS (shared.retry_policy): the shortest Retry-After honoured inside a call,
  and the most attempts of one call per delivery.
- MAX_REQUEUE_DELAY_SECONDS: the longest Retry-After for which a booking is parked (re-enqueued). Graph's
  real throttling waits are seconds to minutes; a longer one is answered `failed` at once instead of
  hiding the booking for hours (a year-long Retry-After parked it for a year).
- A booking is re-enqueued only while ordering protects its copy: it carries a revision (a copy that
  comes back after a newer revision is then `superseded`; without one it would overtake the record's
  later messages) and Graph was not yet changed by this delivery (a half-applied booking must finish
  before the record's next message runs).
- The largest result: shared.result bounds what a result quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.errors import GraphRefused, GraphThrottled, PublishError, RetryableError

MAX_REQUEUE_DELAY_SECONDS = 900.0


class Action(StrEnum):
    ANSWER = "answer"
    REQUEUE = "requeue"
    REDELIVER = "redeliver"
    GIVE_UP = "give up"


@dataclass(frozen=True)
class Failure:
    """What happened to one delivery, in the terms the decision needs."""

    error: BaseException
    last_delivery: bool
    requeue_count: int = 0
    graph_changed: bool = False
    has_revision: bool = False
    can_requeue: bool = True


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_seconds: float = 0.0
    # On give up after a failed publish: send the result that could not be sent, not a `failed` one
    # (Graph did what the booking asked; saying otherwise would be untrue).
    republish: bool = False


def decide(failure: Failure, max_requeues: int) -> Decision:
    """The one decision for a failed delivery."""
    error = failure.error
    if isinstance(error, GraphRefused):
        return Decision(Action.ANSWER)
    if isinstance(error, GraphThrottled):
        if error.retry_after_seconds > MAX_REQUEUE_DELAY_SECONDS:
            return Decision(Action.ANSWER)
        if failure.can_requeue and failure.has_revision and not failure.graph_changed and failure.requeue_count < max_requeues:
            return Decision(Action.REQUEUE, delay_seconds=error.retry_after_seconds)
    if failure.last_delivery:
        return Decision(Action.GIVE_UP, republish=isinstance(error, PublishError))
    return Decision(Action.REDELIVER)


def is_expected(error: BaseException) -> bool:
    """A kind the bridge raises on purpose; anything else is a defect, logged with its stack trace."""
    return isinstance(error, RetryableError | GraphRefused)
