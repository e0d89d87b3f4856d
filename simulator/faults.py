"""Failures to inject: queued per target and consumed in the order they were queued, or at random (chaos).

Real Graph throttles (429 with Retry-After), has bad minutes (503, 504), answers late and
loses connections. A client's retry logic is only tested if those can be produced on demand;
chaos spreads them over a load run at a set probability, seeded so a failing run can be replayed.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

FaultTarget = Literal["graph", "token"]
FAULT_TARGETS: tuple[FaultTarget, ...] = ("graph", "token")


@dataclass(frozen=True)
class Fault:
    """What the next matching request(s) get instead of (or on top of) the normal answer.

    status: answer with this status and an error body (Graph format for "graph", App Service's for "token").
    retry_after: sent verbatim as Retry-After (delta-seconds or an HTTP-date).
    delay_seconds: wait before answering; with no status the request is then processed normally,
        so a meeting is created even if the client gave up, as happens on real Graph.
    drop_connection: close the socket without any response.
    drop_after_processing: process the request (a meeting may be created), then close without a response.
    times: how many requests this fault applies to.
    """

    target: FaultTarget = "graph"
    status: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 0
    drop_connection: bool = False
    drop_after_processing: bool = False
    times: int = 1

    def __post_init__(self) -> None:
        if self.target not in FAULT_TARGETS:
            raise ValueError(f"Fault target must be one of {FAULT_TARGETS}, not {self.target!r}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"Fault status must be an HTTP error status (400-599), not {self.status}")
        if self.status is not None and (self.drop_connection or self.drop_after_processing):
            raise ValueError("A fault either answers with a status or drops the connection, not both")
        if self.retry_after is not None and self.status is None:
            raise ValueError("Fault retry_after is sent with an error status; set status too")
        if self.delay_seconds < 0:
            raise ValueError("Fault delay_seconds must not be negative")
        if self.times < 1:
            raise ValueError("Fault times must be at least 1")

    @property
    def drops_before_processing(self) -> bool:
        """True when the request must never reach the simulated service."""
        return self.drop_connection and not self.drop_after_processing


@dataclass
class _Pending:
    fault: Fault
    remaining: int


class FaultQueue:
    """Thread-safe FIFO of faults per target; each fault is used `times` times, then discarded.

    With chaos on, a request that finds its target's queue empty gets, with the chaos probability,
    one of that target's chaos faults picked at random. Queued faults always come first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Pending]] = {target: deque() for target in FAULT_TARGETS}
        self._chaos: dict[str, tuple[Fault, ...]] = {}
        self._chaos_probability = 0.0
        # One generator per target, so token traffic does not shift the sequence Graph requests see.
        self._random: dict[str, random.Random] = {}

    def push(self, fault: Fault) -> None:
        """Queue a fault behind those already waiting for the same target."""
        with self._lock:
            self._queues[fault.target].append(_Pending(fault, fault.times))

    def chaos(self, faults: Sequence[Fault], probability: float, seed: int | None = None) -> None:
        """From now on, each request with nothing queued gets one of its target's `faults` with `probability`.

        A chaos fault applies to the one request it is picked for (its `times` is not used).
        `seed` makes the picks repeatable for the same sequence of requests; no faults or
        probability 0 turns chaos off.
        """
        if not 0 <= probability <= 1:
            raise ValueError(f"Chaos probability must be between 0 and 1, not {probability}")
        if not all(isinstance(fault, Fault) for fault in faults):
            raise TypeError("Chaos faults must be Fault instances")
        if probability > 0 and not faults:
            raise ValueError("Chaos with a non-zero probability needs at least one fault to choose from")
        with self._lock:
            if not faults or probability == 0:
                self._stop_chaos()
                return
            self._chaos = {target: tuple(f for f in faults if f.target == target) for target in FAULT_TARGETS}
            self._chaos_probability = probability
            self._random = {target: random.Random(None if seed is None else f"{seed}/{target}") for target in FAULT_TARGETS}

    def stop_chaos(self) -> None:
        """Turn chaos off; queued faults are kept."""
        with self._lock:
            self._stop_chaos()

    def take(self, target: FaultTarget) -> Fault | None:
        """The fault for the request arriving now, or None when nothing is queued and chaos spares it."""
        with self._lock:
            queue = self._queues[target]
            if not queue:
                return self._chaos_pick(target)
            pending = queue[0]
            pending.remaining -= 1
            if pending.remaining == 0:
                queue.popleft()
            return pending.fault

    def clear(self) -> None:
        """Forget every queued fault and turn chaos off."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self._stop_chaos()

    def _chaos_pick(self, target: FaultTarget) -> Fault | None:
        candidates = self._chaos.get(target)
        if not candidates:
            return None
        rng = self._random[target]
        return rng.choice(candidates) if rng.random() < self._chaos_probability else None

    def _stop_chaos(self) -> None:
        self._chaos = {}
        self._chaos_probability = 0.0
        self._random = {}
