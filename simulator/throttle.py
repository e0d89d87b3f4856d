"""Graph's throttling as a token bucket: up to `rate` requests a second, 429 + Retry-After beyond that.

Graph answers a throttled request with 429 and a Retry-After in whole seconds
(https://learn.microsoft.com/graph/throttling); the bucket holds one second of requests,
so a client that waits as told finds it refilled.
"""

from __future__ import annotations

import math
import threading
import time


class TokenBucket:
    """Thread-safe: `take()` spends one token, or says how many whole seconds to wait for one."""

    def __init__(self, rate_per_second: float) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self._rate = rate_per_second
        self._capacity = max(1.0, rate_per_second)
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

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
