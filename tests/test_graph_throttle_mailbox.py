"""A mailbox's window of requests in progress, as one instance keeps it (shared.graph_throttle): Outlook allows 4
per app and mailbox, shared by every instance, and each instance learns of the others only from Graph's 429s.

The window starts at one request and grows by one with each success until the first 429 (slow start); a 429 halves
it, down to one, and after that successes widen it by a fraction, unless one, with more of the instance's requests
in progress than when the 429 came, shows a slot came free. A 429 to the instance's only request of the mailbox
holds its next requests there for the Retry-After.

The clock is the test's: each acquire asks with a deadline of now, so a call that would wait says how long at once.
"""

from __future__ import annotations

import pytest

from shared.graph_throttle import MAILBOX_CONCURRENCY, MAILBOX_GROWTH, GraphThrottle, Permit
from tests.throttle_calls import EVENTS, MEETINGS, OTHER_EVENTS, Clock, held, room, sent, wait_for


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> GraphThrottle:
    return GraphThrottle(clock=clock, spread=lambda: 0.0)


def widened_to_four(throttle: GraphThrottle) -> None:
    for _ in range(MAILBOX_CONCURRENCY - 1):
        sent(throttle, EVENTS, 201)
    assert room(throttle, EVENTS) == MAILBOX_CONCURRENCY


def answered(permit: Permit, status: int, retry_after: str | None = None) -> None:
    with permit:
        permit.answered(status, retry_after)


def test_a_mailbox_window_starts_at_one_request(throttle: GraphThrottle) -> None:
    """Instances that start a burst together send one request each to the mailbox, not Outlook's 4 each."""
    assert room(throttle, EVENTS) == 1
    assert room(throttle, OTHER_EVENTS) == 1
    assert room(throttle, MEETINGS) == 10, "a request off the mailbox was held by a mailbox's window"


def test_before_its_first_429_each_success_widens_a_mailbox_window_by_a_whole_request(throttle: GraphThrottle) -> None:
    rooms = []
    for _ in range(MAILBOX_CONCURRENCY + 1):
        sent(throttle, EVENTS, 201)
        rooms.append(room(throttle, EVENTS))

    assert rooms == [2, 3, 4, 4, 4]
    assert room(throttle, OTHER_EVENTS) == 1, "another mailbox was widened"


def test_a_mailbox_has_at_most_four_requests_of_the_instance_in_progress(throttle: GraphThrottle) -> None:
    widened_to_four(throttle)
    four = held(throttle, EVENTS, 4)

    fifth = throttle.acquire(EVENTS, within=0.0)
    other = wait_for(throttle, OTHER_EVENTS)
    for permit in four:
        answered(permit, 201)
    after = wait_for(throttle, EVENTS)

    assert isinstance(fifth, float), "a fifth request of the mailbox was let through"
    assert other is None
    assert after is None


def test_a_429_to_the_instances_only_request_of_a_mailbox_holds_its_next_requests_there_for_the_retry_after(
    throttle: GraphThrottle, clock: Clock
) -> None:
    """The instance holds none of the mailbox's slots: the other instances hold them all. Its next invocations would
    each meet the same full mailbox, one 429 after another, within the Retry-After."""
    sent(throttle, EVENTS, 429, "2")

    assert wait_for(throttle, EVENTS) == 2.0, "the instance's next request went to a mailbox Graph said is full"
    assert wait_for(throttle, OTHER_EVENTS) is None, "another mailbox was held"
    assert wait_for(throttle, MEETINGS) is None, "a mailbox's 429 closed the app"
    clock.now += 2.0
    assert wait_for(throttle, EVENTS) is None


def test_the_mailboxs_hold_is_stretched_by_the_random_spread(clock: Clock) -> None:
    throttle = GraphThrottle(clock=clock, spread=lambda: 1.0)

    sent(throttle, EVENTS, 429, "2")

    assert wait_for(throttle, EVENTS) == 3.0


def test_a_429_while_other_requests_of_the_mailbox_are_in_progress_only_narrows_its_window(throttle: GraphThrottle) -> None:
    """Those requests hold slots of the mailbox; the narrower window alone keeps the instance from sending more."""
    widened_to_four(throttle)
    first, second = held(throttle, EVENTS, 2)
    answered(second, 429, "1")

    assert room(throttle, EVENTS) == 1, "the window of two had room for one beside the request in progress"
    answered(first, 201)
    assert room(throttle, EVENTS) == 2


def test_a_mailbox_window_halves_once_for_the_requests_sent_at_it_and_never_below_one(
    throttle: GraphThrottle, clock: Clock
) -> None:
    widened_to_four(throttle)
    for permit in held(throttle, EVENTS, 4):  # four answered 429 at once: one halving, not four
        answered(permit, 429, "1")
    clock.now += 1
    assert room(throttle, EVENTS) == 2

    for _ in range(3):
        sent(throttle, EVENTS, 429, "1")
        clock.now += 1
    assert room(throttle, EVENTS) == 1


def test_after_a_429_successes_widen_a_mailbox_window_by_a_fraction(throttle: GraphThrottle, clock: Clock) -> None:
    """Instances sharing a mailbox whose windows grew by a whole request a success would probe it, and be answered
    429, every few requests."""
    widened_to_four(throttle)
    first, second = held(throttle, EVENTS, 2)
    answered(second, 429, "1")
    answered(first, 201)

    for _ in range(MAILBOX_GROWTH):
        sent(throttle, EVENTS, 201)
    narrow = room(throttle, EVENTS)
    for _ in range(MAILBOX_GROWTH * 2):
        sent(throttle, EVENTS, 201)

    assert narrow == 2
    assert room(throttle, EVENTS) == 3


def test_successes_widen_a_narrowed_mailbox_window_back_to_four(throttle: GraphThrottle, clock: Clock) -> None:
    for _ in range(3):
        sent(throttle, EVENTS, 429, "1")
        clock.now += 1
    # A whole request per MAILBOX_GROWTH rounds at each width (a round: as many successes as the window is wide),
    # so from 1 to 4: about MAILBOX_GROWTH * (4 * 4 - 1) / 2 successes.
    for _ in range(MAILBOX_GROWTH * 8):
        sent(throttle, EVENTS, 201)
    assert room(throttle, EVENTS) == 4


def test_a_success_with_more_requests_in_progress_than_the_instance_held_when_throttled_resumes_fast_growth(
    throttle: GraphThrottle, clock: Clock
) -> None:
    """The 429 came while the instance held one request of the mailbox; two of its requests in progress are now let
    through: a slot came free (another instance finished), so the window grows by a whole request a success again,
    and the instance takes up the slots left."""
    widened_to_four(throttle)
    first, second = held(throttle, EVENTS, 2)
    answered(second, 429, "1")
    answered(first, 201)
    clock.now += 1

    first, second = held(throttle, EVENTS, 2)
    answered(second, 201)  # the second in progress, beyond the one held when throttled: +1, and fast growth again
    answered(first, 201)

    assert room(throttle, EVENTS) == 4


def test_requests_sent_before_a_429_that_succeed_after_it_do_not_resume_fast_growth(throttle: GraphThrottle) -> None:
    """They were sent at the wider window the 429 ended; their success says nothing about a slot come free."""
    widened_to_four(throttle)
    first, second, third, fourth = held(throttle, EVENTS, 4)
    answered(first, 201)
    answered(second, 201)
    [fifth] = held(throttle, EVENTS, 1)
    answered(fifth, 429, "1")  # two others in progress: the window halves to two
    answered(fourth, 201)  # sent fourth in progress, before the 429
    answered(third, 201)

    assert room(throttle, EVENTS) == 2
