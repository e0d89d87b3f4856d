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
from shared.errors import FieldProblem, GraphErrorInfo, InvalidBooking
from shared.meeting import Meeting

# Fixed for ever: result message ids derived from it are what duplicate detection compares.
RESULT_MESSAGE_NAMESPACE = uuid.UUID("5b0e5c55-2f7b-4f5e-9d0a-6c3b8f1d2e47")


class ResultStatus(StrEnum):
    """What happened to a booking. Consumers filter on it (it is also an application property)."""

    CREATED = "created"  # Graph created a new meeting (201)
    EXISTING = "existing"  # the meeting for this record already existed and is returned unchanged (200)
    REJECTED = "rejected"  # the booking message is invalid; fix it at the source and send it again
    FAILED = "failed"  # Graph refused the booking for a reason retrying cannot fix (400, 404, ...)


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


def _detail(problem: FieldProblem) -> ErrorDetail:
    return ErrorDetail(field=problem.field, reason=problem.reason)
