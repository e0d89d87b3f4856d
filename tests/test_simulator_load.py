"""The simulator's load shaping, as a client of Graph meets it: the tenant's rate, a mailbox's concurrent requests,
latency with a spread, and the counters the benchmark reads.

No test asserts a duration: where "at once" matters, the order of answers shows it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from simulator import GraphSimulator
from simulator.throttle import Latency
from tests.simulator_client import fetch_token

ORGANIZER = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OTHER_ORGANIZER = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
BODY = {
    "externalId": "load-shaping",
    "subject": "Consultation",
    "startDateTime": "2026-12-01T09:00:00Z",
    "endDateTime": "2026-12-01T09:30:00Z",
}
# Long enough that requests started together are all still in progress while the test looks at them.
SLOW_SECONDS = 3.0


def token_for(sim: GraphSimulator) -> str:
    return str(fetch_token(sim).json()["access_token"])


def create_or_get(sim: GraphSimulator, token: str, session: requests.Session, organizer: str = ORGANIZER) -> requests.Response:
    url = f"{sim.graph_base_url}/users/{organizer}/onlineMeetings/createOrGet"
    return session.post(url, json=BODY, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def get_event(sim: GraphSimulator, token: str, organizer: str = ORGANIZER) -> requests.Response:
    """A request on the organizer's mailbox (an event that does not exist: 404 once Graph looks)."""
    url = f"{sim.graph_base_url}/users/{organizer}/events/AAMkAG-missing"
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


@pytest.fixture
def outlook() -> Iterator[GraphSimulator]:
    """Graph with Outlook's 4 concurrent requests per mailbox and a slow answer."""
    with GraphSimulator(latency_seconds=SLOW_SECONDS, mailbox_concurrency=4, mailbox_retry_after_seconds=2) as simulator:
        yield simulator


def test_a_fifth_request_on_a_busy_mailbox_is_answered_429_application_throttled_before_the_four(
    outlook: GraphSimulator,
) -> None:
    token = token_for(outlook)
    with ThreadPoolExecutor(4) as pool:
        four: list[Future[requests.Response]] = [pool.submit(get_event, outlook, token) for _ in range(4)]
        wait_until(lambda: outlook.stats.load is not None and outlook.stats.load.peak_mailbox_concurrency == 4, "4 in progress")

        fifth = get_event(outlook, token)
        still_in_progress = sum(not future.done() for future in four)

        statuses = sorted(future.result().status_code for future in four)

    assert still_in_progress == 4, "the fifth waited for a slot instead of being answered at once"
    assert fifth.status_code == 429
    assert fifth.headers["Retry-After"] == "2"
    assert fifth.json()["error"]["code"] == "ApplicationThrottled"
    assert statuses == [404, 404, 404, 404]
    load = outlook.stats.load
    assert load is not None
    assert (load.throttled_by_mailbox, load.mailbox_requests_admitted, load.throttled_by_tenant_rate) == (1, 4, 0)
    assert load.mailbox_busy_seconds == pytest.approx(4 * SLOW_SECONDS)


def test_the_limit_is_per_mailbox_and_only_on_events(outlook: GraphSimulator) -> None:
    token = token_for(outlook)
    with ThreadPoolExecutor(6) as pool, requests.Session() as session:
        busy = [pool.submit(get_event, outlook, token) for _ in range(4)]
        wait_until(lambda: outlook.stats.load is not None and outlook.stats.load.peak_mailbox_concurrency == 4, "4 in progress")

        other_mailbox = pool.submit(get_event, outlook, token, OTHER_ORGANIZER)
        meeting = pool.submit(create_or_get, outlook, token, session)

        assert other_mailbox.result().status_code == 404
        assert meeting.result().status_code == 201
        assert [future.result().status_code for future in busy] == [404] * 4
    load = outlook.stats.load
    assert load is not None
    assert load.throttled_by_mailbox == 0


def test_a_mailbox_slot_is_free_again_once_its_request_is_answered() -> None:
    with GraphSimulator(mailbox_concurrency=1) as sim:
        token = token_for(sim)
        answers = [get_event(sim, token).status_code for _ in range(3)]
        load = sim.stats.load

    assert answers == [404, 404, 404]
    assert load is not None
    assert (load.mailbox_requests_admitted, load.throttled_by_mailbox, load.peak_mailbox_concurrency) == (3, 0, 1)


def test_beyond_the_tenant_rate_every_graph_request_is_answered_429_with_retry_after_in_whole_seconds() -> None:
    # Half a request a second: the bucket holds one request, so the next in quick succession is throttled, events too.
    with GraphSimulator(rate_limit_per_second=0.5) as sim, requests.Session() as session:
        token = token_for(sim)
        answers = [create_or_get(sim, token, session), create_or_get(sim, token, session), get_event(sim, token)]
        another_token = fetch_token(sim)
        stats = sim.stats

    assert [answer.status_code for answer in answers] == [201, 429, 429]
    assert answers[1].headers["Retry-After"] in {"1", "2"}
    assert answers[1].json()["error"]["code"] == "TooManyRequests"
    assert another_token.status_code == 200, "token requests are not Graph's"
    assert stats.graph_requests == 3
    assert stats.responses_by_status[429] == 2
    assert stats.load is not None
    assert (stats.load.throttled_by_tenant_rate, stats.load.throttled_by_mailbox) == (2, 0)


def test_latency_delays_every_graph_answer_but_not_tokens() -> None:
    with GraphSimulator(latency_seconds=SLOW_SECONDS) as sim, requests.Session() as session:
        token = token_for(sim)
        graph_answer: list[requests.Response] = []
        graph = threading.Thread(target=lambda: graph_answer.append(create_or_get(sim, token, session)))
        graph.start()
        wait_until(lambda: sim.stats.graph_requests == 1, "the Graph request arrived")

        token_answer = fetch_token(sim)
        graph_still_waiting = graph.is_alive()
        graph.join()
        load = sim.stats.load

    assert token_answer.status_code == 200
    assert graph_still_waiting, "the token came after the Graph answer: the latency held it too"
    assert graph_answer[0].status_code == 201
    assert load is not None
    assert load.latency_p50_ms == load.latency_p99_ms == pytest.approx(1000 * SLOW_SECONDS)


def test_a_latency_with_a_spread_draws_its_median_and_99th_percentile() -> None:
    latency = Latency(0.1, 0.4, seed=7)

    draws = sorted(latency.draw() for _ in range(20_000))

    assert statistics.median(draws) == pytest.approx(0.1, rel=0.05)
    assert draws[int(0.99 * len(draws))] == pytest.approx(0.4, rel=0.1)
    assert min(draws) > 0


def test_the_same_seed_draws_the_same_latencies() -> None:
    first, second = Latency(0.2, 0.5, seed=3), Latency(0.2, 0.5, seed=3)

    assert [first.draw() for _ in range(5)] == [second.draw() for _ in range(5)]


@pytest.mark.parametrize(("p50", "p99"), [(-0.1, None), (0.2, 0.1), (0.0, 0.1), (float("nan"), None)])
def test_a_latency_that_no_graph_has_is_refused(p50: float, p99: float | None) -> None:
    with pytest.raises(ValueError, match="latency"):
        Latency(p50, p99)


def test_stats_count_the_connections_each_side_used() -> None:
    with GraphSimulator() as sim, requests.Session() as session:
        token = token_for(sim)
        for _ in range(3):
            create_or_get(sim, token, session)
        stats = sim.stats

    assert stats.connections_by_target == {"graph": 1, "token": 1}
    assert stats.connections_opened == 2
