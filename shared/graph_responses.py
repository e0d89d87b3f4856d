"""What a response from Graph means, decided from its status, headers and body alone (pure, no I/O).

Graph is an outside party: its status codes, Retry-After and error bodies are read defensively,
bounded and never trusted to be well-formed. What the bridge then does about each kind (retry in
the call, redeliver, re-enqueue, publish a result) is shared.retry_policy's (in the call) and
shared.failure_policy's (for the message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from shared.errors import GraphErrorInfo

# Graph's texts are quoted in results and logs: long enough for any real message, short enough that a
# hostile body cannot bloat either.
MAX_CODE_LENGTH = 100
MAX_MESSAGE_LENGTH = 500
MAX_REQUEST_ID_LENGTH = 100
# A Retry-After beyond a day is read as a day: only its being longer than the re-enqueue bound matters,
# and a year (or an HTTP date near 9999) would overflow a scheduled enqueue time.
LONGEST_RETRY_AFTER_SECONDS = 86_400.0


class ResponseKind(StrEnum):
    """The kinds of response, each handled one way wherever Graph is called."""

    SUCCESS = "success"  # 200, 201, 204, and 202 (an event's cancel action)
    NOT_FOUND = "not_found"  # 404: the caller knows whether that is a failure or "already gone"
    ACCESS_DENIED = "access_denied"  # 401, 403: the app role or the Teams access policy is missing
    BUSY = "busy"  # 429, 503, 504: Graph asks for a wait (https://learn.microsoft.com/graph/throttling)
    UNAVAILABLE = "unavailable"  # 408, 409, other 5xx, or an unexpected 2xx: a later delivery may succeed
    REFUSED = "refused"  # any other 4xx, and every redirect (never followed: the body holds personal data)


_BUSY = frozenset({429, 503, 504})


def classify(status: int) -> ResponseKind:
    """The kind of an HTTP status from Graph."""
    if status in (200, 201, 202, 204):
        return ResponseKind.SUCCESS
    if status == 404:
        return ResponseKind.NOT_FOUND
    if status in (401, 403):
        return ResponseKind.ACCESS_DENIED
    if status in _BUSY:
        return ResponseKind.BUSY
    if status in (408, 409) or status >= 500 or 200 <= status < 300:
        return ResponseKind.UNAVAILABLE
    return ResponseKind.REFUSED


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from 0 to a day: delta-seconds or an HTTP date (RFC 9110); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), LONGEST_RETRY_AFTER_SECONDS)


def error_info(
    status: int, reason: str | None, headers: Mapping[str, str], body: bytes, client_request_id: str
) -> GraphErrorInfo:
    """Graph's error format, {"error": {"code", "message", "innerError": {"request-id"}}}, read defensively."""
    code, message, request_id = f"HTTP{status}", reason or "", headers.get("request-id")
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError, RecursionError):
        error = {}
    if isinstance(error, dict):
        code = _text(error.get("code")) or code
        message = _text(error.get("message")) or message
        inner = error.get("innerError") or error.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = _text(inner.get("request-id")) or request_id
    return GraphErrorInfo(
        http_status=status,
        code=bounded(code, MAX_CODE_LENGTH),
        message=bounded(message, MAX_MESSAGE_LENGTH),
        request_id=bounded(request_id, MAX_REQUEST_ID_LENGTH) if request_id else None,
        client_request_id=client_request_id,
        retry_after_seconds=parse_retry_after(headers.get("Retry-After")),
    )


def bounded(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
