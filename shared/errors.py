"""The closed set of error kinds, each with a stable public `code` and the fix an operator needs.

A result's `error.code` is the kind's `code` attribute (or Graph's own code for Graph's answers),
never a Python class name: renaming a class must not change the contract. What happens to the
booking message for each kind is decided in one place, shared.failure_policy:

- InvalidBooking: can never succeed -> a `rejected` result, the message completes.
- GraphRefused: Graph refused for a reason retrying cannot fix (400, 404, a redirect, ...)
  -> a `failed` result carrying Graph's code and request-id, the message completes.
- RetryableError and its kinds (Graph unavailable, throttled or access denied, token, publish,
  configuration, state store): the message is retried (re-enqueued or redelivered), and the
  last delivery publishes a `failed` result before Service Bus dead-letters it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from shared.log_text import escaped


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose.

    maybe_applied: an earlier attempt of the call that failed went unanswered or met a gateway error, so Graph
    may have applied the request although this error says otherwise (a meeting may exist that nobody has an id
    of); set on whatever error the call ends with, a token failure on its retry included."""

    code: ClassVar[str] = "internal_error"  # also the code of a failure the bridge did not foresee (shared.result)
    fix: ClassVar[str] = ""
    maybe_applied = False


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

    code = "invalid_booking"
    fix = "correct the booking at its source and send it again"

    def __init__(
        self, code: str, message: str, problems: list[FieldProblem] | None = None, identity: BookingIdentity | None = None
    ) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # the rejection's own code: invalid_json, body_too_large, ...
        self.message = message
        self.problems = problems or []
        self.identity = identity or BookingIdentity()


class ChannelCannotChange(InvalidBooking):
    """The record's meeting exists in one chat and the booking names another channel: Graph cannot move a
    meeting between chats (createOrGet returns the existing meeting unchanged, and chatInfo cannot be PATCHed)."""

    code = "channel_cannot_change"
    fix = "book the record into the channel its meeting is in, or cancel it and book a new record into the other channel"

    def __init__(self, wanted: str, current: str) -> None:
        super().__init__(
            self.code,
            f"the record's meeting is in chat {current}; Graph cannot move a meeting to channel {wanted}: {self.fix}",
            [FieldProblem("channel.threadId", f"must stay {current}: a meeting's channel is fixed once it exists")],
        )


@dataclass(frozen=True)
class GraphErrorInfo:
    """What Graph said about a failed request, parsed from its error body and headers (bounded, untrusted)."""

    http_status: int | None
    code: str
    message: str
    request_id: str | None = None
    client_request_id: str | None = None
    retry_after_seconds: float | None = field(default=None, compare=False)


class GraphError(BridgeError):
    """Base of Graph's responses that are errors; the result reports Graph's own code.

    The error's text never quotes Graph's message (it may name a subject, an attendee or a mailbox), because a
    raised error reaches the host's log: only the status, the code and the request-id; the result, which goes
    to the booking's own source, carries the message (shared.result)."""

    def __init__(self, info: GraphErrorInfo, summary: str | None = None) -> None:
        super().__init__(summary or _graph_answered(info))
        self.info = info


def _graph_answered(info: GraphErrorInfo) -> str:
    """Graph's status, code and request-id (when it sent one); never its message. The code and the request-id come
    from Graph's body and headers, so they are escaped: the text reaches the host's log."""
    request_id = f" (request-id {escaped(info.request_id)})" if info.request_id else ""
    return f"Graph answered {info.http_status} {escaped(info.code)}{request_id}"


class GraphRefused(GraphError):
    """Graph refused the request for a reason that retrying the same booking cannot fix."""

    code = "graph_refused"


class RetryableError(BridgeError):
    """A failure that retrying may fix."""


class ConfigurationError(RetryableError):
    """A setting is missing or malformed. Retrying helps once an operator fixes the setting."""

    code = "configuration_error"
    fix = "correct the app setting it names (az functionapp config appsettings set), then replay the dead letters"

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"setting {setting}: {problem}")
        self.setting = setting


class GraphUnavailable(GraphError, RetryableError):
    """Graph failed, answered nonsense or was unreachable for longer than the invocation's retry budget."""

    code = "graph_unavailable"

    def __init__(self, info: GraphErrorInfo, attempts: int) -> None:
        # Without a status there was no response, and the message is the bridge's own sentence for what happened
        # (could not connect, no answer in time), not Graph's text.
        happened = info.message if info.http_status is None else _graph_answered(info)
        super().__init__(info, f"Graph call failed after {attempts} attempt(s): {happened}")
        self.attempts = attempts


class GraphThrottled(GraphUnavailable):
    """Graph asked us to wait (Retry-After, already bounded) longer than the invocation has left."""

    code = "graph_throttled"

    def __init__(self, info: GraphErrorInfo, attempts: int, retry_after_seconds: float) -> None:
        super().__init__(info, attempts)
        self.retry_after_seconds = retry_after_seconds


class GraphAccessDenied(GraphError, RetryableError):
    """Graph answered 401 or 403: the identity lacks the app role or the Teams access policy."""

    code = "graph_access_denied"
    fix = (
        "grant the managed identity the Microsoft Graph application role OnlineMeetings.ReadWrite.All and "
        "create a Teams application access policy for its client id (New-CsApplicationAccessPolicy, then "
        "Grant-CsApplicationAccessPolicy for the organizer or -Global); a new policy can take up to 30 minutes to apply"
    )

    def __init__(self, info: GraphErrorInfo) -> None:
        super().__init__(info, f"{_graph_answered(info)}. To fix: {self.fix}")


class AttendanceAccessDenied(GraphAccessDenied):
    """Graph answered 401 or 403 to an attendance report: the identity lacks the artifact permission, or the
    application access policy does not cover the organizer."""

    fix = (
        "grant the managed identity the Microsoft Graph application role OnlineMeetingArtifact.Read.All (infra does "
        "when attendance reports are enabled) and make sure the Teams application access policy that covers the "
        "organizer's meetings is granted to them (Grant-CsApplicationAccessPolicy); a new grant can take up to 30 minutes"
    )


class TokenError(RetryableError):
    """The managed identity could not issue a token."""

    code = "token_error"
    fix = "check that the function app has the user-assigned identity attached and that AZURE_CLIENT_ID is its client id"


class PublishError(RetryableError):
    """A message could not be sent to a queue."""

    code = "publish_error"
    fix = "check the results queue exists and the identity has Azure Service Bus Data Sender on it"


class StateConflict(RetryableError):
    """Another writer changed the record's state since it was read."""

    code = "state_conflict"


class StateStoreError(RetryableError):
    """The state store could not be reached or refused the request (retrying may fix it)."""

    code = "state_store_error"
    fix = "grant the function app's identity Storage Table Data Contributor on the storage account, and deploy infra/"


class MalformedMeeting(ValueError):
    """Graph answered success but the body is not an onlineMeeting the bridge can read (no value is quoted)."""
