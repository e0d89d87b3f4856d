"""Failures to inject, queued per target and consumed in the order they were queued.

Real Graph throttles (429 with Retry-After), has bad minutes (503, 504), answers late and
loses connections. A client's retry logic is only tested if those can be produced on demand.
"""

from __future__ import annotations

import threading
from collections import deque
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
    """Thread-safe FIFO of faults per target; each fault is used `times` times, then discarded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Pending]] = {target: deque() for target in FAULT_TARGETS}

    def push(self, fault: Fault) -> None:
        """Queue a fault behind those already waiting for the same target."""
        with self._lock:
            self._queues[fault.target].append(_Pending(fault, fault.times))

    def take(self, target: FaultTarget) -> Fault | None:
        """The fault for the request arriving now, or None when nothing is queued."""
        with self._lock:
            queue = self._queues[target]
            if not queue:
                return None
            pending = queue[0]
            pending.remaining -= 1
            if pending.remaining == 0:
                queue.popleft()
            return pending.fault

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
