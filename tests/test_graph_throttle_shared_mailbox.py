"""Instances that share one mailbox and never talk to each other (shared.graph_throttle): each keeps its own window
and learns of the others only from Graph's 429s, as separate processes do. Together they settle at the mailbox's 4
requests in progress, with few requests answered 429 and the mailbox kept busy. (With more instances than the
mailbox has slots, a window cannot go below one request: docs/performance.md gives what the host model measured.)

A model on the test's clock, stepped rather than timed: each instance is one GraphThrottle with 16 session slots;
a free slot takes the next booking of the burst, as a session receiver accepts the next session, and makes its two
requests on the organizer's calendar one after the other. Graph admits 4 requests in progress on the mailbox and
answers a fifth 429 at once with Retry-After 1; a request answered 429 is tried again after it, as the retry policy
does; an admitted one is answered after a latency of 0.2 s.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from shared.graph_throttle import MAILBOX_CONCURRENCY, GraphThrottle, Permit
from shared.retry_policy import MIN_WAIT_SECONDS
from tests.throttle_calls import EVENTS, Clock

LATENCY = 0.2
STEP = 0.01
BOOKINGS = 120
SLOTS = 16
REQUESTS_PER_BOOKING = 2  # the calendar's: find the record's events, create its event


@dataclass
class Slot:
    requests: int = 0  # left of its booking
    ready_at: float = 0.0
    permit: Permit | None = None
    answered_at: float = 0.0


@dataclass
class Instance:
    throttle: GraphThrottle
    slots: list[Slot] = field(default_factory=lambda: [Slot() for _ in range(SLOTS)])


@dataclass
class Mailbox:
    in_progress: int = 0
    admitted: int = 0
    throttled: int = 0


def burst(instances: int, seed: int) -> tuple[Mailbox, float]:
    """Run the burst to its end; what the mailbox saw, and the time the last request was answered."""
    clock = Clock()
    spread = random.Random(seed)
    fleet = deque(Instance(GraphThrottle(clock=clock, spread=spread.random)) for _ in range(instances))
    waiting = BOOKINGS
    mailbox = Mailbox()
    started = clock.now
    while waiting or any(slot.requests for instance in fleet for slot in instance.slots):
        clock.now += STEP
        for instance in fleet:
            for slot in instance.slots:
                if slot.permit is not None and slot.answered_at <= clock.now:
                    with slot.permit:
                        slot.permit.answered(201, None)
                    slot.permit = None
                    slot.requests -= 1
                    mailbox.in_progress -= 1
        fleet.rotate(1)  # no instance is always first to a booking or a slot of the mailbox that came free
        for instance in fleet:
            for slot in instance.slots:
                if not slot.requests and waiting:
                    waiting -= 1
                    slot.requests = REQUESTS_PER_BOOKING
                if slot.requests and slot.permit is None and slot.ready_at <= clock.now:
                    send(instance.throttle, slot, mailbox, clock.now)
    return mailbox, clock.now - started


def send(throttle: GraphThrottle, slot: Slot, mailbox: Mailbox, now: float) -> None:
    permit = throttle.acquire(EVENTS, within=0.0)
    if not isinstance(permit, Permit):
        return  # it waits for the throttle; tried again at the next step
    if mailbox.in_progress >= MAILBOX_CONCURRENCY:
        mailbox.throttled += 1
        with permit:
            permit.answered(429, "1")
        slot.ready_at = now + MIN_WAIT_SECONDS
        return
    mailbox.in_progress += 1
    mailbox.admitted += 1
    slot.permit = permit
    slot.answered_at = now + LATENCY


@pytest.mark.parametrize("instances", [1, 4])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_instances_sharing_a_mailbox_settle_at_its_four_requests_in_progress(instances: int, seed: int) -> None:
    mailbox, drained = burst(instances, seed)

    bound = mailbox.admitted * LATENCY / MAILBOX_CONCURRENCY
    share = mailbox.throttled / (mailbox.admitted + mailbox.throttled)
    assert mailbox.admitted == BOOKINGS * REQUESTS_PER_BOOKING
    assert share <= 0.10, f"{mailbox.throttled} of {mailbox.admitted + mailbox.throttled} requests answered 429"
    assert drained <= 1.3 * bound, f"drained in {drained:.1f} s, the mailbox's bound {bound:.1f} s"
