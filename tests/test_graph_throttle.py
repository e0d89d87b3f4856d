"""Graph's limits for the app as every call of one instance meets them (shared.graph_throttle): a 429 for the app
closes it to every call for its Retry-After, then paces its requests (0.7 times as fast after a 429, two a second
faster each second without one). A mailbox's window: test_graph_throttle_mailbox.py.

The clock is the test's: each acquire asks with a deadline of now, so a call that would wait says how long at once.
"""

from __future__ import annotations

import pytest

from shared.errors import GraphThrottled
from shared.graph_client import GraphClient
from shared.graph_throttle import LONGEST_PAUSE_SECONDS, GraphThrottle, Permit
from shared.retry_policy import RetryPolicy
from simulator import GraphSimulator
from tests.simulator_client import fetch_token
from tests.throttle_calls import MEETINGS, OTHER_EVENTS, Clock, sent, wait_for


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> GraphThrottle:
    return GraphThrottle(clock=clock, spread=lambda: 0.0)


def test_a_call_whose_budget_ran_out_is_sent_when_nothing_holds_its_scope(throttle: GraphThrottle) -> None:
    """Only a wait the throttle imposes is reported: a call with no time left that nothing holds back is not
    answered as throttled with no wait."""
    permit = throttle.acquire(MEETINGS, within=-1.0)

    assert isinstance(permit, Permit)
    with permit:
        permit.answered(200, None)


def test_a_429_closes_the_app_to_every_call_of_the_instance_for_its_retry_after(throttle: GraphThrottle, clock: Clock) -> None:
    sent(throttle, MEETINGS, 429, "3")

    assert wait_for(throttle, MEETINGS) == 3.0
    assert wait_for(throttle, OTHER_EVENTS) == 3.0, "another call of the instance went ahead of the Retry-After"


def test_the_pause_is_stretched_by_a_random_spread_so_instances_do_not_return_in_step(clock: Clock) -> None:
    throttle = GraphThrottle(clock=clock, spread=lambda: 1.0)

    sent(throttle, MEETINGS, 429, "2")

    assert wait_for(throttle, MEETINGS) == 3.0


def test_after_a_429_the_scope_sends_at_0_7_times_the_rate_it_was_sending_at(throttle: GraphThrottle, clock: Clock) -> None:
    for _ in range(9):
        sent(throttle, MEETINGS, 201)
    sent(throttle, MEETINGS, 429, "0")  # 10 requests in the last second: 7 a second from now on

    first = wait_for(throttle, MEETINGS)
    clock.now += 1 / 7
    second = wait_for(throttle, MEETINGS)
    third = wait_for(throttle, OTHER_EVENTS)

    assert first == pytest.approx(1 / 7)
    assert second is None
    assert third == pytest.approx(1 / 7)


def test_a_429_to_a_request_sent_before_the_last_slowing_does_not_slow_it_again(throttle: GraphThrottle, clock: Clock) -> None:
    early = throttle.acquire(MEETINGS, within=float("inf"))
    clock.now += 0.1
    sent(throttle, MEETINGS, 429, "0")  # 2 requests in the last second: 1.4 a second
    assert isinstance(early, Permit)
    with early:
        early.answered(429, "0")  # sent at the old pace: says nothing about the new one

    assert wait_for(throttle, MEETINGS) == pytest.approx(1 / 1.4), "one overshoot slowed the pace twice"


def test_each_second_without_a_429_the_pace_grows_by_two_requests_a_second(throttle: GraphThrottle, clock: Clock) -> None:
    sent(throttle, MEETINGS, 429, "0")  # 1 request in the last second: 0.7 a second
    clock.now += 2.0
    sent(throttle, MEETINGS, 200)  # two seconds without a 429: 4.7 a second

    clock.now += 2.0  # the request just sent reserved its interval at the old pace
    assert wait_for(throttle, MEETINGS) is None
    assert wait_for(throttle, MEETINGS) == pytest.approx(1 / 4.7)


def test_a_huge_retry_after_closes_a_scope_for_a_minute_at_most(throttle: GraphThrottle, clock: Clock) -> None:
    sent(throttle, MEETINGS, 429, "86400")

    assert wait_for(throttle, MEETINGS) == LONGEST_PAUSE_SECONDS


def test_a_call_after_a_429_is_answered_throttled_without_reaching_graph_when_it_cannot_wait() -> None:
    """GraphClient: once a request got 429 with a Retry-After longer than the budget, the instance's next call, for
    another organizer, is throttled here rather than sent to a Graph that would throttle it too."""
    with GraphSimulator(rate_limit_per_second=0.5) as sim:
        token = fetch_token(sim).json()["access_token"]
        client = GraphClient(
            sim.graph_base_url, lambda: token, retry_policy=RetryPolicy(budget_seconds=1.0), throttle=GraphThrottle()
        )
        body = b'{"externalId": "x", "startDateTime": "2026-12-01T09:00:00Z", "endDateTime": "2026-12-01T09:30:00Z"}'
        client.create_or_get("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", body)
        with pytest.raises(GraphThrottled):
            client.create_or_get("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", body)
        requests_before = sim.stats.graph_requests

        with pytest.raises(GraphThrottled) as throttled:
            client.create_or_get("0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a", body)
        requests_after = sim.stats.graph_requests
        client.close()

    assert requests_after == requests_before, "the call went to Graph during the Retry-After"
    assert throttled.value.info.code == "ThrottledHere"
    assert throttled.value.info.http_status is None, "Graph answered nothing: the request was not sent"
    assert not throttled.value.maybe_applied
    assert throttled.value.retry_after_seconds >= 1.0
