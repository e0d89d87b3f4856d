"""When to retry a Graph call, and how long to wait: the one place these rules live.

Graph asks clients to honour Retry-After on 429 and 503
(https://learn.microsoft.com/graph/throttling); elsewhere we back off exponentially with
full jitter so that concurrent invocations do not retry in lock-step. Every wait is
bounded by the invocation's budget, which stays well inside the Service Bus message lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Retried inside the invocation: Graph's throttling and gateway statuses.
RETRY_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    budget_seconds: float = 45.0
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0

    def backoff_seconds(self, attempt: int, retry_after_seconds: float | None) -> float:
        """Wait before attempt number `attempt + 1`; Retry-After wins when Graph sent one."""
        if retry_after_seconds is not None:
            return retry_after_seconds
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
