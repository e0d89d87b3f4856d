"""The result message contract (schema version 1), one per booking message.

Its message id is derived from the booking (its message id and body: shared.inbound) and whether the
booking failed (result_message_id), so a redelivery re-sends the same id and the results queue's
duplicate detection drops it, while a success after a `failed` answer (a dead letter replayed after the
operator's fix) gets an id of its own and reaches the consumer.

A result must fit in one Service Bus message (256 KiB on the Standard tier), so what it quotes from
outside is bounded: at most MAX_DETAILS field problems (and how many more there were), each text cut
to a few hundred characters.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from shared.attendance_report import Attendance
from shared.contract_model import ContractModel
from shared.errors import BridgeError, FieldProblem, GraphError, GraphErrorInfo, GraphThrottled, InvalidBooking
from shared.graph_responses import bounded
from shared.meeting import Meeting

# Fixed for ever: result message ids derived from it are what duplicate detection compares.
RESULT_MESSAGE_NAMESPACE = uuid.UUID("5b0e5c55-2f7b-4f5e-9d0a-6c3b8f1d2e47")
# Bounds on what a result quotes: a 64 KiB booking with thousands of unknown fields must still give a
# result far below Service Bus Standard's 256 KiB message limit (tests check the worst case).
MAX_DETAILS = 50
MAX_FIELD_PATH_LENGTH = 200
MAX_REASON_LENGTH = 300
MAX_ERROR_MESSAGE_LENGTH = 1000


class ResultStatus(StrEnum):
    """What happened to a booking. Consumers filter on it (it is also an application property)."""

    CREATED = "created"  # Graph created a new meeting (201)
    EXISTING = "existing"  # the meeting already matched the booking; nothing was changed
    UPDATED = "updated"  # the existing meeting was changed to match the booking (changedFields says what)
    CANCELLED = "cancelled"  # no meeting is left for the record (meetingExisted says whether one was deleted)
    SUPERSEDED = "superseded"  # a newer revision was already applied; this older one changed nothing
    REJECTED = "rejected"  # the booking message is invalid or not allowed; fix it at the source and send it again
    FAILED = "failed"  # Graph refused for a reason retrying cannot fix, or the last delivery failed
    ATTENDANCE = "attendance"  # after the meeting: who attended (shared.attendance), or why that cannot be said


class ResultWarning(ContractModel):
    """Something the bridge could not do that did not fail the booking, with what to do about it."""

    code: str
    message: str
    http_status: int | None = Field(default=None, description="Graph's HTTP status, when Graph refused.")
    request_id: str | None = Field(default=None, description="Graph's request-id, to quote to Microsoft support.")


class ErrorDetail(ContractModel):
    field: str | None = Field(description="Dotted path of the booking field, or null for the whole message.")
    reason: str


class ResultError(ContractModel):
    code: str = Field(description="Our code for rejections (invalid_booking, ...); Graph's error code for Graph failures.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list, description=f"At most {MAX_DETAILS} problems.")
    more_details: int = Field(default=0, description="How many further problems were found but left out.")
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
    warnings: list[ResultWarning] = Field(
        default_factory=list,
        description="What could not be done without failing the booking, such as removing a moved booking's old meeting.",
    )
    attendance: Attendance | None = Field(
        default=None,
        description="For attendance: the meeting's attendance reports (none when Teams made none), possibly one part of "
        "several; null when they could not be read (error says why).",
    )
    booking_message_id: str = Field(description="The Service Bus message id of the booking message.")
    processed_at: datetime


def result_message_id(booking_key: str, status: ResultStatus) -> str:
    """The result's message id: one for every answer to a booking message but `failed`, and one for `failed`.

    A redelivery or a producer's re-send of the same message repeats its answer's id, so duplicate detection
    keeps the first answer (a re-send that now finds a newer revision applied adds nothing the source needs);
    a booking that failed and then succeeds when its dead letter is replayed gets a new id, so the source
    hears of the meeting. A different booking never shares an id: the key covers the message id and body."""
    outcome = "failed" if status is ResultStatus.FAILED else "answered"
    return str(uuid.uuid5(RESULT_MESSAGE_NAMESPACE, f"{booking_key}\n{outcome}"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def rejected_error(error: InvalidBooking) -> ResultError:
    problems = error.problems
    return ResultError(
        code=error.code,
        message=bounded(error.message, MAX_ERROR_MESSAGE_LENGTH),
        details=[_detail(problem) for problem in problems[:MAX_DETAILS]],
        more_details=max(0, len(problems) - MAX_DETAILS),
    )


def graph_error(info: GraphErrorInfo) -> ResultError:
    return ResultError(code=info.code, message=info.message, http_status=info.http_status, request_id=info.request_id)


def failure_error(error: BaseException, deliveries: int | None = None) -> ResultError:
    """The error of a booking the bridge gives up on: Graph's code for Graph's answers, the kind's public code otherwise."""
    prefix = f"gave up after {deliveries} deliveries; the booking message is being dead-lettered. " if deliveries else ""
    if isinstance(error, GraphError):
        info = error.info
        # Without a status Graph answered nothing: the message is the bridge's own sentence, already in str(error), and
        # a wait is this instance's (its throttle waiting out a Retry-After Graph gave another request), not Graph's.
        answered = info.http_status is not None
        waits = "Graph asked to wait" if answered else "this instance sends to Graph again in"
        wait = (
            f"; {waits} {error.retry_after_seconds:.0f} s: send the booking again later"
            if isinstance(error, GraphThrottled)
            else ""
        )
        said = f"; Graph said: {info.message}" if info.message and answered else ""
        return ResultError(
            code=info.code,
            message=bounded(prefix + str(error) + said + wait, MAX_ERROR_MESSAGE_LENGTH),
            http_status=info.http_status,
            request_id=info.request_id,
        )
    if isinstance(error, BridgeError):
        return ResultError(code=error.code, message=bounded(prefix + str(error), MAX_ERROR_MESSAGE_LENGTH))
    # A defect: its text may quote anything, so only its type is named.
    return ResultError(code=BridgeError.code, message=f"{prefix}an unexpected {type(error).__name__} (a defect in the bridge)")


def _detail(problem: FieldProblem) -> ErrorDetail:
    field = None if problem.field is None else bounded(problem.field, MAX_FIELD_PATH_LENGTH)
    return ErrorDetail(field=field, reason=bounded(problem.reason, MAX_REASON_LENGTH))
