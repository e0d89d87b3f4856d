"""Graph's load as a request meets it: the tenant's rate, a mailbox's concurrency, then a latency with a spread.

- The tenant's rate (https://learn.microsoft.com/graph/throttling): a token bucket over every Graph request of
  the app; past it Graph answers 429 with a Retry-After in whole seconds. The bucket holds one second of
  requests, so a client that waits as told finds it refilled.
- A mailbox's concurrency (Graph throttling limits, Outlook service: 4 concurrent requests per app and
  mailbox): requests on /users/{id}/events beyond that many in progress for the same user are answered at
  once with 429 ApplicationThrottled and a Retry-After.
- Latency: lognormal between its median (p50) and its 99th percentile (p99); the same value for both is a
  constant latency. Seeded, so a run's draws repeat.

A throttled request is answered at once, without the latency: the limit is applied before the work.
Every admitted request is counted with the latency it was served, so a caller can tell the bound the
limits set (the mailbox's: its requests let through x their latency / its concurrency) from what it got.
"""

from __future__ import annotations

import math
import random
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

# The standard normal's 99th percentile: a lognormal's p99 is its median x exp(Z99 x sigma).
_Z99 = 2.3263478740408408
# Requests on a user's mailbox (calendar events); the concurrency limit is per user.
_MAILBOX_PATH = re.compile(r"/v1\.0/users/(?P<user>[^/]+)/events(?:/|$)", re.IGNORECASE)


class TokenBucket:
    """Thread-safe: `take()` spends one token, or says how many whole seconds to wait for one."""

    def __init__(self, rate_per_second: float) -> None:
        if not rate_per_second > 0 or not math.isfinite(rate_per_second):
            raise ValueError("rate_per_second must be a finite number above 0")
        self._rate = rate_per_second
        self._capacity = max(1.0, rate_per_second)
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    @property
    def capacity(self) -> float:
        """How many requests a full bucket lets through at once."""
        return self._capacity

    def take(self) -> int | None:
        """None when the request may go ahead; otherwise the Retry-After to send (at least 1 second)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self._rate))


class Latency:
    """Draws each request's latency in seconds: lognormal with this median and 99th percentile."""

    def __init__(self, p50_seconds: float = 0.0, p99_seconds: float | None = None, *, seed: int = 0) -> None:
        p99_seconds = p50_seconds if p99_seconds is None else p99_seconds
        if not (math.isfinite(p50_seconds) and math.isfinite(p99_seconds)) or p50_seconds < 0:
            raise ValueError("latency must be a finite number of seconds, 0 or more")
        if p99_seconds < p50_seconds or (p50_seconds == 0 and p99_seconds > 0):
            raise ValueError("the latency's p99 must be at least its p50 (and p50 above 0 for a spread)")
        self.p50_seconds = p50_seconds
        self.p99_seconds = p99_seconds
        self._sigma = math.log(p99_seconds / p50_seconds) / _Z99 if p50_seconds else 0.0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        if not self._sigma:
            return self.p50_seconds
        with self._lock:
            return self.p50_seconds * math.exp(self._random.gauss(0.0, self._sigma))


@dataclass(frozen=True)
class Throttled:
    """A request refused before any work: which limit refused it, and the Retry-After to send."""

    scope: Literal["tenant", "mailbox"]  # the app's rate, or the user's concurrent requests
    retry_after_seconds: int


@dataclass(frozen=True)
class LoadCounters:
    """What the load shaping did since the last reset."""

    throttled_by_tenant_rate: int
    throttled_by_mailbox: int
    mailbox_requests_admitted: int
    mailbox_busy_seconds: float  # the latency served to the admitted mailbox requests, summed
    peak_mailbox_concurrency: int
    latency_p50_ms: float | None  # of every admitted request, as served
    latency_p99_ms: float | None


class GraphLoad:
    """Applies the tenant's rate, the mailboxes' concurrency and the latency to one Graph request at a time.

    rate_per_second: None for no tenant-wide limit. mailbox_concurrency: None for no per-mailbox limit.
    mailbox_retry_after_seconds: the Retry-After sent with a mailbox's 429.
    """

    def __init__(
        self,
        latency: Latency,
        *,
        rate_per_second: float | None = None,
        mailbox_concurrency: int | None = None,
        mailbox_retry_after_seconds: int = 1,
    ) -> None:
        if mailbox_concurrency is not None and mailbox_concurrency < 1:
            raise ValueError("mailbox_concurrency must be at least 1")
        if mailbox_retry_after_seconds < 0:
            raise ValueError("mailbox_retry_after_seconds must not be negative")
        self.latency = latency
        self._bucket = TokenBucket(rate_per_second) if rate_per_second is not None else None
        self._mailbox_concurrency = mailbox_concurrency
        self._mailbox_retry_after = mailbox_retry_after_seconds
        self._lock = threading.Lock()
        self._in_progress: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._served: list[float] = []
        self._mailbox_admitted = 0
        self._mailbox_busy = 0.0
        self._peak = 0

    @contextmanager
    def admitted(self, path: str) -> Iterator[Throttled | float]:
        """The request's Throttled answer, or its latency in seconds, held as in progress until the block ends."""
        retry_after = self._bucket.take() if self._bucket is not None else None
        if retry_after is not None:
            with self._lock:
                self._throttled["tenant"] += 1
            yield Throttled("tenant", retry_after)
            return
        mailbox = _mailbox_of(path)
        with self._lock:
            limit = self._mailbox_concurrency
            refused = mailbox is not None and limit is not None and self._in_progress[mailbox] >= limit
            if refused:
                self._throttled["mailbox"] += 1
            elif mailbox is not None:
                self._in_progress[mailbox] += 1
                self._peak = max(self._peak, self._in_progress[mailbox])
        if refused:
            yield Throttled("mailbox", self._mailbox_retry_after)
            return
        latency = self.latency.draw()
        try:
            yield latency
        finally:
            with self._lock:
                self._served.append(latency)
                if mailbox is not None:
                    self._in_progress[mailbox] -= 1
                    self._mailbox_admitted += 1
                    self._mailbox_busy += latency

    def counters(self) -> LoadCounters:
        with self._lock:
            served = sorted(self._served)
            return LoadCounters(
                throttled_by_tenant_rate=self._throttled["tenant"],
                throttled_by_mailbox=self._throttled["mailbox"],
                mailbox_requests_admitted=self._mailbox_admitted,
                mailbox_busy_seconds=self._mailbox_busy,
                peak_mailbox_concurrency=self._peak,
                latency_p50_ms=1000 * statistics.median(served) if served else None,
                latency_p99_ms=1000 * served[min(len(served) - 1, math.ceil(0.99 * len(served)) - 1)] if served else None,
            )

    def reset(self) -> None:
        """Zero the counters (requests in progress stay counted against their mailbox)."""
        with self._lock:
            self._throttled.clear()
            self._served.clear()
            self._mailbox_admitted = 0
            self._mailbox_busy = 0.0
            self._peak = 0


def _mailbox_of(path: str) -> str | None:
    match = _MAILBOX_PATH.match(path)
    return unquote(match["user"]).lower() if match else None
