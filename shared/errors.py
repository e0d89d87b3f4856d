"""The closed set of error kinds; each one decides what happens to a booking message.

- InvalidBooking: the message can never succeed -> a `rejected` result, the message completes.
- GraphPermanentError: Graph refused the request for a reason retrying cannot fix (400, 404, ...)
  -> a `failed` result carrying Graph's code and request-id, the message completes.
- RetryableError and its kinds (Graph transient or access denied, token, publish, configuration):
  the function raises, Service Bus redelivers, and after maxDeliveryCount dead-letters the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


@dataclass(frozen=True)
class FieldProblem:
    """One reason a booking was refused: the field path (dotted, None for the whole body) and why."""

    field: str | None
    reason: str


@dataclass(frozen=True)
class BookingIdentity:
    """The identifying fields of a booking that were valid, echoed even when the rest was not."""

    source: str | None = None
    record_id: str | None = None
    revision: int | None = None
    organizer_id: str | None = None


class InvalidBooking(BridgeError):
    """The booking message cannot be processed as sent; retrying cannot fix it."""

    def __init__(
        self, code: str, message: str, problems: list[FieldProblem] | None = None, identity: BookingIdentity | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or []
        self.identity = identity or BookingIdentity()


@dataclass(frozen=True)
class GraphErrorInfo:
    """What Graph said about a failed request, parsed from its error body and headers."""

    http_status: int | None
    code: str
    message: str
    request_id: str | None = None
    client_request_id: str | None = None
    retry_after_seconds: float | None = field(default=None, compare=False)


class GraphPermanentError(BridgeError):
    """Graph refused the request for a reason that retrying the same booking cannot fix."""

    def __init__(self, info: GraphErrorInfo) -> None:
        super().__init__(f"Graph answered {info.http_status} {info.code}: {info.message} (request-id {info.request_id})")
        self.info = info


class RetryableError(BridgeError):
    """A failure that retrying may fix: the function raises so that Service Bus redelivers."""


class ConfigurationError(RetryableError):
    """A setting is missing or malformed. Retrying helps once an operator fixes the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"setting {setting}: {problem}")
        self.setting = setting


class GraphTransientError(RetryableError):
    """Graph throttled, failed or was unreachable for longer than the invocation's retry budget."""

    def __init__(self, info: GraphErrorInfo, attempts: int) -> None:
        super().__init__(
            f"Graph call failed after {attempts} attempt(s): {info.http_status or 'no response'} {info.code}: "
            f"{info.message} (request-id {info.request_id})"
        )
        self.info = info
        self.attempts = attempts


class GraphThrottled(GraphTransientError):
    """Graph asked us to wait (Retry-After) longer than the invocation has left.

    The pipeline re-enqueues the booking for after that wait instead of sleeping on the
    message lock or burning a delivery."""

    def __init__(self, info: GraphErrorInfo, attempts: int, retry_after_seconds: float) -> None:
        super().__init__(info, attempts)
        self.retry_after_seconds = retry_after_seconds


class GraphAccessDenied(RetryableError):
    """Graph answered 401 or 403: the identity lacks the app role or the Teams access policy."""

    FIX = (
        "grant the managed identity the Microsoft Graph application role OnlineMeetings.ReadWrite.All and "
        "create a Teams application access policy for its client id (New-CsApplicationAccessPolicy, then "
        "Grant-CsApplicationAccessPolicy for the organizer or -Global); a new policy can take up to 30 minutes to apply"
    )

    def __init__(self, info: GraphErrorInfo) -> None:
        super().__init__(
            f"Graph answered {info.http_status} {info.code} (request-id {info.request_id}): {info.message}. To fix: {self.FIX}"
        )
        self.info = info


class TokenError(RetryableError):
    """The managed identity could not issue a token for Graph."""


class PublishError(RetryableError):
    """The result could not be sent to the results queue."""
