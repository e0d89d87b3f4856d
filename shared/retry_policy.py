"""How long to wait before retrying a Graph call inside one invocation, and when to stop.

Graph asks clients to honour Retry-After on 429 and 503 (https://learn.microsoft.com/graph/throttling);
elsewhere we back off exponentially with full jitter so that concurrent invocations do not retry in
lock-step. Graph's Retry-After is an outside party's number, so it is bounded both ways: a wait shorter
than MIN_WAIT_SECONDS is raised to it (a `Retry-After: 0` under constant 429s would otherwise send
requests as fast as the network allows), and a call is tried at most MAX_ATTEMPTS times. Every wait is
also bounded by the invocation's budget, which stays well inside the Service Bus message lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# The shortest wait honoured between two attempts of one call.
MIN_WAIT_SECONDS = 1.0
# Attempts of one call in one invocation: with MIN_WAIT_SECONDS, a Graph that always answers 429 with
# Retry-After: 0 costs six requests per delivery, not thousands.
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class RetryPolicy:
    budget_seconds: float = 45.0
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    max_attempts: int = MAX_ATTEMPTS

    def backoff_seconds(self, attempt: int, retry_after_seconds: float | None) -> float:
        """Wait before attempt number `attempt + 1`; Retry-After wins when Graph sent one, but never under the minimum."""
        if retry_after_seconds is not None:
            return max(MIN_WAIT_SECONDS, retry_after_seconds)
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)
