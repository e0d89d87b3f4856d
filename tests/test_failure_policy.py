"""The failure policy, alone: what each kind of failure leads to (shared.failure_policy), without I/O."""

from __future__ import annotations

import pytest

from shared.errors import (
    ConfigurationError,
    GraphAccessDenied,
    GraphErrorInfo,
    GraphRefused,
    GraphThrottled,
    GraphUnavailable,
    PublishError,
    StateStoreError,
)
from shared.failure_policy import MAX_REQUEUE_DELAY_SECONDS, Action, Failure, decide
from shared.graph_responses import LONGEST_RETRY_AFTER_SECONDS, ResponseKind, classify, parse_retry_after
from shared.retry_policy import MIN_WAIT_SECONDS, RetryPolicy

INFO = GraphErrorInfo(429, "TooManyRequests", "slow down", "request-1")


def throttled(seconds: float) -> GraphThrottled:
    return GraphThrottled(INFO, 1, seconds)


def test_graph_refusals_are_answered_at_once_whatever_the_delivery() -> None:
    for last in (False, True):
        assert decide(Failure(GraphRefused(INFO), last_delivery=last), 5).action is Action.ANSWER


def test_a_throttle_within_the_bound_reenqueues_a_revisioned_booking_that_has_not_changed_graph() -> None:
    decision = decide(Failure(throttled(120), last_delivery=False, has_revision=True), 5)
    assert (decision.action, decision.delay_seconds) == (Action.REQUEUE, 120)


@pytest.mark.parametrize(
    ("why", "failure"),
    [
        ("no revision: the copy could overtake the record's later messages", Failure(throttled(120), False)),
        ("graph already changed: finish first", Failure(throttled(120), False, has_revision=True, graph_changed=True)),
        ("re-enqueued often enough", Failure(throttled(120), False, requeue_count=5, has_revision=True)),
        ("the copy could not be sent", Failure(throttled(120), False, has_revision=True, can_requeue=False)),
    ],
)
def test_a_throttle_that_ordering_cannot_protect_is_redelivered(why: str, failure: Failure) -> None:
    assert decide(failure, 5).action is Action.REDELIVER, why


def test_a_retry_after_beyond_the_bound_is_answered_not_parked() -> None:
    long_wait = throttled(MAX_REQUEUE_DELAY_SECONDS + 1)
    assert decide(Failure(long_wait, last_delivery=False, has_revision=True), 5).action is Action.ANSWER


@pytest.mark.parametrize(
    "error",
    [
        GraphUnavailable(INFO, 3),
        GraphAccessDenied(INFO),
        ConfigurationError("GRAPH_BASE_URL", "bad"),
        StateStoreError("down"),
        RuntimeError("a defect"),
    ],
)
def test_retryable_and_unexpected_errors_redeliver_then_give_up_on_the_last_delivery(error: Exception) -> None:
    assert decide(Failure(error, last_delivery=False), 5).action is Action.REDELIVER
    last = decide(Failure(error, last_delivery=True), 5)
    assert last.action is Action.GIVE_UP and not last.republish


def test_a_failed_publish_on_the_last_delivery_sends_the_same_result_again_not_a_failed_one() -> None:
    decision = decide(Failure(PublishError("link lost"), last_delivery=True), 5)
    assert decision.action is Action.GIVE_UP and decision.republish


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, ResponseKind.SUCCESS),
        (201, ResponseKind.SUCCESS),
        (204, ResponseKind.SUCCESS),
        (202, ResponseKind.SUCCESS),  # an event's cancel action (calendar mode)
        (203, ResponseKind.UNAVAILABLE),
        (301, ResponseKind.REFUSED),
        (307, ResponseKind.REFUSED),
        (400, ResponseKind.REFUSED),
        (401, ResponseKind.ACCESS_DENIED),
        (403, ResponseKind.ACCESS_DENIED),
        (404, ResponseKind.NOT_FOUND),
        (408, ResponseKind.UNAVAILABLE),
        (409, ResponseKind.UNAVAILABLE),
        (429, ResponseKind.BUSY),
        (500, ResponseKind.UNAVAILABLE),
        (503, ResponseKind.BUSY),
        (504, ResponseKind.BUSY),
        (599, ResponseKind.UNAVAILABLE),
    ],
)
def test_each_status_is_classified_once(status: int, answer: ResponseKind) -> None:
    assert classify(status) is answer


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        ("99999999999999999999999", LONGEST_RETRY_AFTER_SECONDS),
        ("Fri, 31 Dec 9999 23:59:59 GMT", LONGEST_RETRY_AFTER_SECONDS),
        ("Mon, 01 Jan 0001 00:00:00 GMT", 0.0),
        ("-5", None),
        ("١٢", None),  # Arabic-Indic digits: str.isdigit says yes, HTTP says no
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_bounded_and_never_overflows(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_a_zero_retry_after_is_waited_for_at_least_the_minimum() -> None:
    assert RetryPolicy().backoff_seconds(1, 0.0) == MIN_WAIT_SECONDS
