"""The result message contract (schema version 1), one per booking message.

Its message id is derived from the booking message's id, so a redelivered booking yields
the same result message id and the results queue's duplicate detection drops the re-send.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from shared.contract_model import ContractModel
from shared.errors import (
    FieldProblem,
    GraphAccessDenied,
    GraphErrorInfo,
    GraphTransientError,
    InvalidBooking,
    RetryableError,
)
from shared.meeting import Meeting

# Fixed for ever: result message ids derived from it are what duplicate detection compares.
RESULT_MESSAGE_NAMESPACE = uuid.UUID("5b0e5c55-2f7b-4f5e-9d0a-6c3b8f1d2e47")


class ResultStatus(StrEnum):
    """What happened to a booking. Consumers filter on it (it is also an application property)."""

    CREATED = "created"  # Graph created a new meeting (201)
    EXISTING = "existing"  # the meeting already matched the booking; nothing was changed
    UPDATED = "updated"  # the existing meeting was changed to match the booking (changedFields says what)
    CANCELLED = "cancelled"  # no meeting is left for the record (meetingExisted says whether one was deleted)
    SUPERSEDED = "superseded"  # a newer revision was already applied; this older one changed nothing
    REJECTED = "rejected"  # the booking message is invalid or not allowed; fix it at the source and send it again
    FAILED = "failed"  # Graph refused for a reason retrying cannot fix, or the last delivery failed


class ErrorDetail(ContractModel):
    field: str | None = Field(description="Dotted path of the booking field, or null for the whole message.")
    reason: str


class ResultError(ContractModel):
    code: str = Field(description="Our code for rejections (invalid_booking, ...); Graph's error code for Graph failures.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    http_status: int | None = Field(default=None, description="Graph's HTTP status, for Graph failures.")
    request_id: str | None = Field(default=None, description="Graph's request-id, to quote to Microsoft support.")


class ResultMessage(ContractModel):
    """The answer to one booking message."""

    model_config = ConfigDict(title="Meeting result message (schema version 1)")

    schema_version: int = Field(default=1, description="Always 1 for this contract.")
    status: ResultStatus
    source: str | None = Field(description="Echoed from the booking; null only if the booking did not carry a valid one.")
    record_id: str | None
    revision: int | None
    external_id: str | None = Field(description="The createOrGet externalId derived from source and recordId.")
    organizer_id: str | None
    meeting: Meeting | None
    error: ResultError | None
    graph_request_id: str | None = Field(
        description="Graph's request-id of the call that decided the result, if Graph was called."
    )
    changed_fields: list[str] = Field(
        default_factory=list,
        description="For updated (and created with options): the booking fields that were applied to the meeting.",
    )
    meeting_existed: bool | None = Field(
        default=None, description="For cancelled: whether a meeting existed and was deleted by this booking."
    )
    applied_revision: int | None = Field(
        default=None, description="For superseded: the newer revision already applied to the record."
    )
    booking_message_id: str = Field(description="The Service Bus message id of the booking message.")
    processed_at: datetime


def result_message_id(booking_message_id: str) -> str:
    """Same booking message -> same result message id, in any process."""
    return str(uuid.uuid5(RESULT_MESSAGE_NAMESPACE, booking_message_id))


def utc_now() -> datetime:
    return datetime.now(UTC)


def rejected_error(error: InvalidBooking) -> ResultError:
    return ResultError(code=error.code, message=error.message, details=[_detail(problem) for problem in error.problems])


def graph_error(info: GraphErrorInfo) -> ResultError:
    return ResultError(code=info.code, message=info.message, http_status=info.http_status, request_id=info.request_id)


def retry_exhausted_error(error: RetryableError, deliveries: int) -> ResultError:
    """The last error of a booking that is about to be dead-lettered, for its `failed` result."""
    prefix = f"gave up after {deliveries} deliveries; the booking message is being dead-lettered. Last error: "
    if isinstance(error, GraphTransientError | GraphAccessDenied):
        info = error.info
        return ResultError(code=info.code, message=prefix + str(error), http_status=info.http_status, request_id=info.request_id)
    # Our own kinds, in snake case: token_error, publish_error, configuration_error, state_store_error, ...
    return ResultError(code=_snake(type(error).__name__), message=prefix + str(error))


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")


def _detail(problem: FieldProblem) -> ErrorDetail:
    return ErrorDetail(field=problem.field, reason=problem.reason)
