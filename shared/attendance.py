"""After the meeting: who attended, back to the source, as a follow-up on the bookings queue.

A booking with `attendance: {"report": true}` that the bridge applied schedules a follow-up: a message on the bookings
queue, in the record's session (its externalId), with a scheduled enqueue time FIRST_LOOK after the meeting's end. It
is a re-enqueued copy as shared.requeue makes them (the follow-up's own id as the original message id, the look's
number as the count), so Service Bus orders it behind the record's other messages, and the record state and every
failure rule (shared.failure_policy) apply to it as to a booking. When it comes back:

- stale: the record state is at another revision, cancelled, or holds another meeting (a reschedule, a cancel, a move
  since) -> nothing is published and Graph is not called; a newer revision that asks for it has its own follow-up;
- the operator turned attendance reports off since -> one `attendance` result with attendance_not_enabled, no Graph call;
- more reports or records than one follow-up holds (shared.attendance_report) -> one `attendance` result with
  attendance_too_large;
- Graph has reports of the meeting -> one `attendance` result with every report and every record, from every page
  (in parts when too large for one message: shared.attendance_report); for a channel meeting only the reports that
  started around the meeting's own times, since Graph lists every meeting of the channel;
- none yet -> the next look, scheduled later each time (FIRST_LOOK after the end, then twice as long after the end each
  time) up to LAST_LOOK after the end; a look then that finds none publishes one `attendance` result with
  attendance_unavailable;
- a look due before the meeting's end (one late in year 9999: no look can be scheduled after it) -> one `attendance`
  result with attendance_out_of_range, no Graph call.

A follow-up is trusted only as far as the record state backs it (its message id and properties can be computed by
any producer): the state must show that its revision asked for attendance and scheduled it (AttendanceScheduled), and
every fact a look acts on (organizer, onlineMeeting id, channel, the meeting's times, the booking that asked) is the
state's (AttendanceWindow), never the message body's; a message the state does not back, or that comes before the
first look the state's end makes due, is ignored with a log line. A state written before AttendanceWindow existed
gives the times of the booking it keeps, or, keeping none, is answered attendance_unavailable once the copy's own end
(the only one there is) makes it due.
A follow-up reads the meeting its revision applied: a booking moved to another organizer is a newer revision, whose
follow-up reads the meeting that then took place under the new organizer. A calendar booking's meeting is the event's
onlineMeeting, found by its join URL when the booking was applied (shared.calendar_lifecycle): both modes read the same
reports.

At most one follow-up per revision: the record state remembers the revision whose follow-up was scheduled, written with
the booking's own state, so a re-send or a redelivery of that revision schedules no second one; a cancel forgets it.
One answer per revision: every answer is remembered in the record state before it is published (AttendanceAnswer),
with the look that gave it: the reports its parts carry and a digest of them, or an answer without parts (an error
code: Graph's refusal, attendance_unavailable, ...). A redelivery of that look publishes exactly what is remembered,
under the same message ids (derived from the record, the revision and the part); any other look of the revision
publishes nothing. Parts a redelivery cannot read again are a bad answer (redelivered, then given up), and an answer
without parts that comes after them (a refusal, reports turned off) replaces them in the state under an id of its own:
no answer ever takes the id of a part the source may hold. A follow-up that gave up (dead-lettered) answers under an
id of its own too, so a replay that then finds the report still reaches the source. Attendees' addresses go to the
result only: the log lines here carry ids and counts.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, ConfigDict, ValidationError

from shared.attendance_report import (
    MAX_ATTENDANCE_BYTES,
    MAX_RECORDS,
    MAX_REPORTS,
    Attendance,
    AttendanceBudget,
    AttendanceReport,
    AttendanceTooLarge,
    MalformedAttendance,
    attendance_parts,
    in_meeting_window,
    in_order,
    listed_reports,
    record_count,
    report_from_graph,
    report_id,
)
from shared.booking import Booking
from shared.contract_model import ContractModel
from shared.errors import (
    AttendanceAccessDenied,
    BookingIdentity,
    GraphAccessDenied,
    GraphErrorInfo,
    GraphRefused,
    GraphThrottled,
    GraphUnavailable,
)
from shared.external_id import derive_external_id
from shared.graph_client import GraphClient
from shared.inbound import InboundMessage
from shared.log_text import escaped
from shared.meeting import Meeting
from shared.record_lifecycle import kept_booking
from shared.record_state import UNKNOWN_MEETING, AttendanceAnswer, AttendanceWindow, RecordState, RecordStateStore
from shared.requeue import Requeue, requeued_copy
from shared.result import ResultError, ResultMessage, ResultStatus, failure_error, graph_error
from shared.telemetry import describe_booking

if TYPE_CHECKING:
    from shared.pipeline import Delivery

logger = logging.getLogger(__name__)

# Fixed for ever: follow-up ids and the keys of attendance results are derived from them.
FOLLOW_UP_NAMESPACE = uuid.UUID("4e8a1f63-7c2d-4b95-a0e6-2d9f5c8b1a74")
ATTENDANCE_RESULT_NAMESPACE = uuid.UUID("b7d3c2a9-5e14-4f08-9b6a-8c1e0f4d2a53")
# Teams makes a report once everyone has left; meetings often run a little over.
FIRST_LOOK = timedelta(minutes=10)
# Long enough for a meeting that ran hours over, short enough that the source hears within a day.
LAST_LOOK = timedelta(hours=24)
# The latest time a look is scheduled for: a day short of datetime's end, room for Service Bus' scheduling margin.
LATEST_LOOK = datetime(9999, 12, 30, tzinfo=UTC)
# Result codes (the result's error.code), defined once.
ATTENDANCE_NOT_ENABLED = "attendance_not_enabled"
ATTENDANCE_UNAVAILABLE = "attendance_unavailable"
ATTENDANCE_TOO_LARGE = "attendance_too_large"
ATTENDANCE_OUT_OF_RANGE = "attendance_out_of_range"
# Service Bus' clock and the function's may differ a little: a copy this little before its first look is the bridge's.
CLOCK_SKEW = timedelta(minutes=1)

Publish = Callable[["Delivery", ResultMessage], None]


class FollowUp(ContractModel):
    """The follow-up message's body: which meeting of which revision to read, and what the result names."""

    model_config = ConfigDict(extra="forbid")

    follow_up: Literal["attendance"]
    source: str
    record_id: str
    external_id: str
    revision: int
    organizer_id: str
    meeting_id: str
    start: AwareDatetime
    end: AwareDatetime
    channel_thread_id: str | None = None
    booking_message_id: str

    @property
    def identity(self) -> BookingIdentity:
        return BookingIdentity(self.source, self.record_id, self.revision, self.organizer_id)


def asks_for_attendance(booking: Booking) -> bool:
    return booking.attendance is not None and booking.attendance.report


def attendance_not_enabled() -> ResultError:
    return ResultError(
        code=ATTENDANCE_NOT_ENABLED,
        message="the booking asks for the attendance report after the meeting, but the operator has not enabled it "
        "(ATTENDANCE_REPORTS_ENABLED, with the OnlineMeetingArtifact.Read.All permission); send it without "
        "`attendance`, or ask the operator",
    )


def attendance_unavailable() -> ResultError:
    return ResultError(
        code=ATTENDANCE_UNAVAILABLE,
        message=f"Teams made no attendance report of the meeting within {LAST_LOOK.total_seconds() / 3600:.0f} hours of "
        "its end (nobody joined, or the organizer's policy turns attendance reports off)",
    )


def attendance_too_large() -> ResultError:
    return ResultError(
        code=ATTENDANCE_TOO_LARGE,
        message=f"the meeting's attendance runs over what one follow-up holds ({MAX_REPORTS} reports, {MAX_RECORDS} "
        f"records, {MAX_ATTENDANCE_BYTES // 2**20} MiB), far beyond any meeting Teams holds, so none of it is reported; "
        "the organizer can download the attendance report in Teams",
    )


def attendance_out_of_range() -> ResultError:
    return ResultError(
        code=ATTENDANCE_OUT_OF_RANGE,
        message=f"the meeting ends too late in year 9999 for the bridge to look for its attendance report after it (no "
        f"look is scheduled after {LATEST_LOOK.isoformat()})",
    )


# The answers without reports an earlier release remembered by their code alone.
_ANSWERS_BY_CODE = {ATTENDANCE_UNAVAILABLE: attendance_unavailable, ATTENDANCE_TOO_LARGE: attendance_too_large}


def follow_up_id(external_id: str, revision: int) -> str:
    """The follow-up's own message id (its copies' ids are derived from it, as a re-enqueued booking's are)."""
    return str(uuid.uuid5(FOLLOW_UP_NAMESPACE, f"{external_id}\n{revision}"))


def _looks() -> int:
    offset, looks = FIRST_LOOK, 1
    while offset < LAST_LOOK:
        offset, looks = offset * 2, looks + 1
    return looks


# How many looks a follow-up takes at most (its copies' counts up to this are looks, beyond it throttle re-enqueues).
LOOKS = _looks()


def after_end(end: datetime, offset: timedelta) -> datetime:
    """`offset` after the meeting's end, no later than LATEST_LOOK (a valid end late in year 9999 has no later time)."""
    return end + offset if end <= LATEST_LOOK - offset else LATEST_LOOK


def first_look(end: datetime) -> datetime:
    return after_end(end, FIRST_LOOK)


def next_look(end: datetime, after: datetime) -> datetime | None:
    """The first look after `after`: FIRST_LOOK after the end, then twice as long after it each time, the last
    LAST_LOOK after the end; None once that has passed."""
    offset = FIRST_LOOK
    while offset < LAST_LOOK:
        if after_end(end, offset) > after:
            return after_end(end, offset)
        offset *= 2
    last = after_end(end, LAST_LOOK)
    return last if last > after else None


class AttendanceFollowUps:
    """Schedules a booking's follow-up and runs it when it comes back (thread-safe, stateless)."""

    def __init__(
        self,
        graph: GraphClient,
        states: RecordStateStore,
        requeue: Requeue | None,
        *,
        enabled: bool,
        now: Callable[[], datetime],
    ) -> None:
        if enabled and requeue is None:
            raise ValueError("attendance follow-ups are scheduled on the bookings queue: the pipeline needs its Requeue")
        self._graph = graph
        self._states = states
        self._requeue = requeue
        self.enabled = enabled
        self._now = now

    def recognised(self, message: InboundMessage) -> FollowUp | None:
        """The follow-up a message carries, or None for a booking. Believed only of a copy whose id is the one the
        bridge gives it, in the record's own session (a producer's message is a booking, whatever its body)."""
        if message.requeue_count == 0:
            return None
        try:
            follow_up = FollowUp.model_validate_json(message.body)
        except ValidationError:
            return None
        if (
            message.original_id != follow_up_id(follow_up.external_id, follow_up.revision)
            or follow_up.external_id != derive_external_id(follow_up.source, follow_up.record_id)
            or message.session_id not in (None, follow_up.external_id)
        ):
            return None
        return follow_up

    def schedule(self, booking: Booking, meeting: Meeting | None, stored: RecordState, message: InboundMessage) -> RecordState:
        """Send the first look of an applied upsert that asks for attendance, unless its revision's is sent already;
        the state to store then remembers the revision, written with the booking's own state."""
        if not (self.enabled and asks_for_attendance(booking)) or booking.action != "upsert" or meeting is None:
            return stored
        if booking.revision is None or booking.start is None or booking.end is None:
            return stored  # the contract refuses attendance without them
        if stored.attendance_scheduled == booking.revision:
            return stored
        follow_up = FollowUp(
            follow_up="attendance",
            source=booking.source,
            record_id=booking.record_id,
            external_id=stored.external_id,
            revision=booking.revision,
            organizer_id=booking.organizer_id,
            meeting_id=meeting.id,
            start=booking.start,
            end=booking.end,
            channel_thread_id=stored.channel_thread_id or None,
            booking_message_id=message.original_id,
        )
        now = self._now()
        self._send(follow_up, 1, max(now, first_look(follow_up.end)), now, message.correlation_id or message.original_id)
        window = AttendanceWindow(booking.start, booking.end, message.original_id)
        return replace(stored, attendance_scheduled=booking.revision, attendance_window=window, attendance_answer=None)

    def run(self, follow_up: FollowUp, delivery: Delivery, publish: Publish) -> ResultMessage | None:
        """One look: the result to publish (its earlier parts already published), or None when stale or looking later."""
        message = delivery.message
        delivery.identity, delivery.external_id = follow_up.identity, follow_up.external_id
        describe_booking(
            external_id=follow_up.external_id, source=follow_up.source, revision=follow_up.revision, message_id=message.message_id
        )
        state = self._states.read(follow_up.external_id)
        if state is None or state.cancelled or state.revision != follow_up.revision:
            logger.info(
                "attendance follow-up is stale; nothing reported externalId=%s revision=%s appliedRevision=%s cancelled=%s "
                "look=%d",
                follow_up.external_id,
                follow_up.revision,
                state.revision if state else None,
                state.cancelled if state else None,
                message.requeue_count,
            )
            return None
        window = state.attendance_window or _window_kept_before(state, follow_up)
        backed = _backed(state, follow_up, window)
        kept_no_times = backed is None and _scheduled_before_windows(state, follow_up)
        if kept_no_times:
            # Scheduled by a release that kept no AttendanceWindow, and the booking is no longer kept to read it from.
            backed = follow_up.model_copy(update={"organizer_id": state.organizer_id})
        if backed is None:
            logger.warning(
                "a message with an attendance follow-up's body that the record state does not back is ignored; nothing "
                "reported externalId=%s revision=%s attendanceScheduled=%s messageId=%s",
                follow_up.external_id,
                follow_up.revision,
                state.attendance_scheduled,
                escaped(message.message_id),
            )
            return None
        due = first_look(backed.end) - CLOCK_SKEW
        if self._now() < due:  # a state that keeps no times: the copy's own end, the only one there is
            logger.warning(
                "a message with an attendance follow-up's body that comes before the follow-up is due is ignored; "
                "nothing reported externalId=%s revision=%s dueAt=%s messageId=%s",
                follow_up.external_id,
                follow_up.revision,
                due.isoformat(),
                escaped(message.message_id),
            )
            return None
        follow_up = delivery.follow_up = backed
        delivery.identity, delivery.state = follow_up.identity, state
        published, look = state.attendance_answer, message.requeue_count
        if published is not None and published.look not in (None, look):
            logger.info(
                "attendance follow-up answered by another look; nothing reported externalId=%s revision=%s look=%d answeredBy=%s",
                follow_up.external_id,
                follow_up.revision,
                look,
                published.look,
            )
            return None
        if published is not None and _answered_without_parts(published):
            return self._recorded(delivery, follow_up, published)
        if kept_no_times:
            logger.warning(
                "attendance follow-up of a record state that keeps no meeting times; answered unavailable externalId=%s "
                "revision=%s",
                follow_up.external_id,
                follow_up.revision,
            )
            return self._final(
                delivery,
                follow_up,
                ResultError(
                    code=ATTENDANCE_UNAVAILABLE,
                    message="the record's state was written by an earlier release of the bridge and keeps no meeting "
                    "times to read the attendance reports with; send the booking again with a newer revision",
                ),
            )
        if not self.enabled:
            return self._final(delivery, follow_up, attendance_not_enabled())
        if self._now() < follow_up.end:  # a look due before the end: one late in year 9999, with no time after it
            return self._final(delivery, follow_up, attendance_out_of_range())
        try:
            # In a channel, or not known whether (a state written before channels): the channel's filter, the careful side.
            reports, request_id = self._reports(follow_up, in_channel=state.channel_thread_id != "", published=published)
        except AttendanceTooLarge as error:
            if published is not None:
                raise _changed() from error
            logger.warning(
                "attendance follow-up holds no more; answered too large externalId=%s revision=%s bound=%s",
                follow_up.external_id,
                follow_up.revision,
                error,
            )
            return self._final(delivery, follow_up, attendance_too_large())
        except GraphThrottled as error:
            if published is None:
                raise
            # Its re-enqueued copy would be another look, which publishes nothing: redelivered instead.
            raise GraphUnavailable(error.info, error.attempts) from error
        if reports or published is not None:
            parts = attendance_parts(follow_up.meeting_id, reports)
            answer = AttendanceAnswer(tuple(_digest(report.id) for report in reports), _digest(*map(_json, parts)), look)
            if published is not None and (published.reports, published.digest) != (answer.reports, answer.digest):
                raise _changed()
            self._remember(delivery, published or answer)
            for attendance in parts[:-1]:
                publish(delivery, self._answer(delivery, follow_up, attendance=attendance, graph_request_id=request_id))
            return self._answer(delivery, follow_up, attendance=parts[-1], graph_request_id=request_id)
        now = self._now()
        later = next_look(follow_up.end, now)
        if later is None:
            return self._final(delivery, follow_up, attendance_unavailable(), request_id)
        self._send(follow_up, look + 1, later, now, message.correlation_id)
        return None

    def failed(self, delivery: Delivery, error: Exception, deliveries: int | None) -> ResultMessage | None:
        """The `attendance` result of a follow-up that failed: Graph's refusal (final, remembered as any answer), or
        giving up on its last delivery (under an id of its own, so a replay that succeeds still reaches the source).
        None when it failed before the record state backed it: its body is not believed, so nobody is answered."""
        follow_up = delivery.follow_up
        assert follow_up is not None
        if delivery.state is None:
            logger.warning(
                "an attendance follow-up failed before the record state backed it; nothing reported messageId=%s",
                escaped(delivery.message.message_id),
            )
            return None
        request_id = error.info.request_id if isinstance(error, GraphRefused) else None
        if deliveries is None:
            answer = graph_error(error.info) if isinstance(error, GraphRefused) else failure_error(error)
            return self._final(delivery, follow_up, answer, request_id)
        gave_up = failure_error(error, deliveries)
        return self._answer(delivery, follow_up, error=gave_up, graph_request_id=request_id, gave_up=True)

    def _remember(self, delivery: Delivery, answer: AttendanceAnswer) -> None:
        """Write the revision's answer to the record state before it is published (with the etag the look read)."""
        state = delivery.state
        assert state is not None  # set once the state backs the follow-up
        if state.attendance_answer != answer:
            delivery.state = self._states.write(replace(state, attendance_answer=answer), state)

    def _final(
        self, delivery: Delivery, follow_up: FollowUp, error: ResultError, graph_request_id: str | None = None
    ) -> ResultMessage:
        """The revision's answer without parts, remembered first, so that a redelivery answers it again whatever Graph
        holds by then; instead of the parts remembered before, when a redelivery cannot publish them again."""
        assert delivery.state is not None
        published, text = delivery.state.attendance_answer, error.model_dump_json(by_alias=True)
        look = delivery.message.requeue_count
        self._remember(delivery, replace(published, error=text) if published else AttendanceAnswer((), error.code, look, text))
        return self._recorded(delivery, follow_up, delivery.state.attendance_answer, graph_request_id)

    def _recorded(
        self, delivery: Delivery, follow_up: FollowUp, published: AttendanceAnswer | None, graph_request_id: str | None = None
    ) -> ResultMessage:
        """The remembered answer without parts: at once under part 1's id, instead of parts under an id of its own."""
        assert published is not None and _answered_without_parts(published)
        error = ResultError.model_validate_json(published.error) if published.error else _ANSWERS_BY_CODE[published.digest]()
        attendance = Attendance(meeting_id=follow_up.meeting_id) if error.code == ATTENDANCE_UNAVAILABLE else None
        return self._answer(
            delivery,
            follow_up,
            attendance=attendance,
            error=error,
            graph_request_id=graph_request_id,
            instead_of_parts=bool(published.reports),
        )

    def _reports(
        self, follow_up: FollowUp, *, in_channel: bool, published: AttendanceAnswer | None
    ) -> tuple[list[AttendanceReport], str | None]:
        """The meeting's reports with all their records, oldest first (a channel's: only the meeting's own; once an
        answer is published, only the reports it carries). AttendanceTooLarge past what one follow-up holds."""
        organizer, meeting = follow_up.organizer_id, follow_up.meeting_id
        deadline = self._graph.deadline()
        budget = AttendanceBudget()
        try:
            listed, request_id = self._graph.attendance_reports(organizer, meeting, MAX_REPORTS, deadline)
            listed = listed_reports(listed)
            if published is not None:
                listed = [report for report in listed if _digest(report_id(report)) in published.reports]
            elif in_channel:
                listed = [report for report in listed if in_meeting_window(report, follow_up.start, follow_up.end)]
            reports = [
                report_from_graph(report, self._graph.attendance_records(organizer, meeting, report_id(report), deadline), budget)
                for report in listed
            ]
        except GraphAccessDenied as error:
            raise AttendanceAccessDenied(error.info) from error
        except MalformedAttendance as error:
            raise GraphUnavailable(GraphErrorInfo(200, "InvalidResponse", str(error)), 1) from error
        return in_order(reports), request_id

    def _send(self, follow_up: FollowUp, look: int, at: datetime, now: datetime, correlation_id: str | None) -> None:
        assert self._requeue is not None  # enabled needs it (__init__)
        copy = requeued_copy(
            follow_up.model_dump_json(by_alias=True).encode("utf-8"),
            original_id=follow_up_id(follow_up.external_id, follow_up.revision),
            count=look,
            session_id=follow_up.external_id,
            correlation_id=correlation_id,
            delay_seconds=max(0.0, (at - now).total_seconds()),
            now=now,
        )
        self._requeue.send(copy, "the attendance follow-up")
        logger.info(
            "attendance follow-up scheduled externalId=%s revision=%s look=%d scheduledFor=%s",
            follow_up.external_id,
            follow_up.revision,
            look,
            copy.scheduled_enqueue_time_utc.isoformat() if copy.scheduled_enqueue_time_utc else None,
        )

    def _answer(
        self,
        delivery: Delivery,
        follow_up: FollowUp,
        *,
        attendance: Attendance | None = None,
        error: ResultError | None = None,
        graph_request_id: str | None = None,
        gave_up: bool = False,
        instead_of_parts: bool = False,
    ) -> ResultMessage:
        """An `attendance` result; the delivery's result key is set to the one its message id is derived from: a
        part's, or one of its own for an answer that is no part (giving up, or an answer instead of parts)."""
        part = attendance.part if attendance is not None else 1
        outcome = "gave up" if gave_up else "instead of parts" if instead_of_parts else f"part {part}"
        delivery.result_key = str(
            uuid.uuid5(ATTENDANCE_RESULT_NAMESPACE, f"{follow_up.external_id}\n{follow_up.revision}\n{outcome}")
        )
        if attendance is not None:
            logger.info(
                "attendance read externalId=%s revision=%s reports=%d records=%d part=%d parts=%d graphRequestId=%s",
                follow_up.external_id,
                follow_up.revision,
                len(attendance.reports),
                record_count(attendance),
                attendance.part,
                attendance.parts,
                escaped(graph_request_id) if graph_request_id else None,
            )
        return ResultMessage(
            status=ResultStatus.ATTENDANCE,
            source=follow_up.source,
            record_id=follow_up.record_id,
            revision=follow_up.revision,
            external_id=follow_up.external_id,
            organizer_id=follow_up.organizer_id,
            meeting=None,
            error=error,
            graph_request_id=graph_request_id,
            attendance=attendance,
            booking_message_id=follow_up.booking_message_id,
            processed_at=self._now(),
        )


def _backed(state: RecordState, follow_up: FollowUp, window: AttendanceWindow | None) -> FollowUp | None:
    """The follow-up as the record state has it, or None when the state does not show that this revision asked for
    attendance and scheduled it: every fact a look acts on (organizer, meeting, channel, times, the booking that asked)
    is the state's, never the message's."""
    if state.attendance_scheduled != follow_up.revision or window is None:
        return None
    if state.organizer_id is None or state.meeting_id is None or state.meeting_id == UNKNOWN_MEETING:
        return None
    return follow_up.model_copy(
        update={
            "organizer_id": state.organizer_id,
            "meeting_id": state.meeting_id,
            "channel_thread_id": state.channel_thread_id or None,
            "start": window.start,
            "end": window.end,
            "booking_message_id": window.booking_message_id,
        }
    )


def _scheduled_before_windows(state: RecordState, follow_up: FollowUp) -> bool:
    """Whether the state shows this revision's follow-up scheduled, by a release that kept no AttendanceWindow."""
    live = state.organizer_id is not None and state.meeting_id not in (None, UNKNOWN_MEETING)
    return live and state.attendance_scheduled == follow_up.revision and state.attendance_window is None


def _window_kept_before(state: RecordState, follow_up: FollowUp) -> AttendanceWindow | None:
    """The window of a follow-up scheduled by a release that kept none: the meeting's times from the booking the state
    keeps, when it is the revision that asked; the booking message the result names is the one the follow-up's copy
    names, the only fact such a follow-up takes from its body (that release kept it nowhere else)."""
    if not _scheduled_before_windows(state, follow_up):
        return None
    booking = kept_booking(state)
    if booking is None or booking.revision != follow_up.revision or not asks_for_attendance(booking):
        return None
    if booking.start is None or booking.end is None:
        return None
    return AttendanceWindow(booking.start, booking.end, follow_up.booking_message_id)


def _answered_without_parts(answer: AttendanceAnswer) -> bool:
    return answer.error is not None or not answer.reports


def _digest(*texts: str) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:32]


def _json(attendance: Attendance) -> str:
    return attendance.model_dump_json(by_alias=True)


def _changed() -> GraphUnavailable:
    """A look after the answer was published reads other reports than it carries: never published under its ids."""
    return GraphUnavailable(
        GraphErrorInfo(200, "InvalidResponse", "the attendance reports differ from those the follow-up published"), 1
    )
