"""Requests through one instance's Graph throttle (shared.graph_throttle) on a clock the test moves."""

from __future__ import annotations

from shared.graph_throttle import GraphThrottle, Permit

MEETINGS = "/users/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/onlineMeetings/createOrGet"
EVENTS = "/users/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/events"
OTHER_EVENTS = "/users/0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a/events/AAMkAG%3D%3D"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sent(throttle: GraphThrottle, path: str, status: int, retry_after: str | None = None) -> None:
    """One request through the throttle that Graph answered with `status`."""
    permit = throttle.acquire(path, within=float("inf"))
    assert isinstance(permit, Permit)
    with permit:
        permit.answered(status, retry_after)


def wait_for(throttle: GraphThrottle, path: str) -> float | None:
    """How long a call would wait; None when it gets a permit at once."""
    result = throttle.acquire(path, within=0.0)
    if isinstance(result, Permit):
        with result:
            return None
    return result


def held(throttle: GraphThrottle, path: str, count: int) -> list[Permit]:
    """`count` permits taken at once and held (the caller leaves each one's block)."""
    permits = [throttle.acquire(path, within=0.0) for _ in range(count)]
    assert all(isinstance(permit, Permit) for permit in permits), f"fewer than {count} requests may be sent at once"
    return permits  # type: ignore[return-value]


def room(throttle: GraphThrottle, path: str) -> int:
    """How many requests on `path` the instance may send at once now (none answered: nothing learnt)."""
    permits: list[Permit] = []
    while len(permits) < 10 and isinstance(permit := throttle.acquire(path, within=0.0), Permit):
        permits.append(permit)
    for permit in permits:
        with permit:
            pass
    return len(permits)
