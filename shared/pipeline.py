"""One booking message, from body to published result: the path every message takes.

    parse (once) -> policy and session checks -> record state (ordering) -> MeetingLifecycle.apply (Graph)
    -> record state -> ResultMessage -> publish

A straight line that keeps what it learned in a Delivery for the whole message. Invalid bookings,
stale revisions and refusals become results. Whatever fails, Graph or the bridge itself, goes to
shared.failure_policy, which alone decides between answering, re-enqueuing, redelivering and giving
up; on the queue's last delivery the bridge publishes a `failed` result before the message is
dead-lettered. Nothing is swallowed and nothing is lost.

Each message is one `booking` span (shared.telemetry), child of the invocation's trace context; the
Graph and state table calls made for it are its children, and its result counts in the metrics.

The bridge's own attendance follow-up (shared.attendance), scheduled by an applied booking that asked for it, comes
back on the same queue and takes the same path from the record state on: its looks, results and failures are decided
and published here as a booking's are.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.attendance import LOOKS, AttendanceFollowUps, FollowUp, asks_for_attendance, attendance_not_enabled
from shared.booking import Booking, parse_booking
from shared.calendar_lifecycle import (
    CALENDAR_MODE_CHANGED,
    CALENDAR_NOT_ENABLED,
    CalendarLifecycle,
    cancels_in_both_modes,
    changes_mode,
    mode_change_refusal,
    uses_calendar,
    with_mode,
)
from shared.concurrent_repair import ConcurrentRepair
from shared.errors import (
    BookingIdentity,
    BridgeError,
    ConfigurationError,
    GraphError,
    GraphRefused,
    GraphThrottled,
    InvalidBooking,
    RetryableError,
)
from shared.external_id import derive_external_id
from shared.failure_policy import Action, Decision, Failure, decide, is_expected
from shared.graph_client import GraphClient
from shared.inbound import InboundMessage
from shared.log_text import MAX_LOGGED_ERROR_LENGTH, escaped
from shared.meeting_lifecycle import MeetingLifecycle
from shared.ordering import OlderBookingStored, applied_state, as_first_reported, commit, superseding_revision
from shared.organizer_policy import OrganizerPolicy
from shared.publisher import ResultSink
from shared.record_lifecycle import GraphProgress, NewerBookingApplied, Outcome, RecordLifecycle
from shared.record_state import UNKNOWN_MEETING, AppliedOutcome, RecordState, RecordStateStore
from shared.requeue import Requeue, requeued_copy
from shared.result import ResultError, ResultMessage, ResultStatus, failure_error, graph_error, rejected_error, utc_now
from shared.settings import DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_MAX_THROTTLE_REQUEUES
from shared.telemetry import (
    booking_span,
    describe_booking,
    error_type,
    record_last_delivery_failure,
    record_requeue,
    record_result,
)

__all__ = ["BookingPipeline", "InboundMessage", "PipelineLimits", "answer_unconfigured", "publish_result"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineLimits:
    """Bounds from the settings: the queue's maxDeliveryCount and how often a throttled booking may be re-enqueued."""

    max_delivery_count: int = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT
    max_throttle_requeues: int = DEFAULT_MAX_THROTTLE_REQUEUES


@dataclass
class Delivery:
    """What one delivery has learned so far: kept for the whole message, never derived twice."""

    message: InboundMessage
    started: float = field(default_factory=time.perf_counter)
    booking: Booking | None = None
    identity: BookingIdentity = field(default_factory=BookingIdentity)
    external_id: str | None = None
    deadline: float | None = None  # for all of the booking's Graph calls, once it is known to be current
    state: RecordState | None = None
    progress: GraphProgress = field(default_factory=GraphProgress)
    # Between the start of the Graph calls and the state write: a failure here leaves the state to update.
    applying: bool = False
    result: ResultMessage | None = None
    lifecycle: RecordLifecycle | None = None  # the booking's mode, once known
    # An attendance follow-up (shared.attendance) instead of a booking, and the key its result's id is derived from.
    follow_up: FollowUp | None = None
    result_key: str | None = None


class BookingPipeline:
    """Turns booking messages into published results, one call per message, from any thread."""

    def __init__(
        self,
        graph: GraphClient,
        publisher: ResultSink,
        states: RecordStateStore,
        requeue: Requeue | None = None,
        *,
        policy: OrganizerPolicy | None = None,
        limits: PipelineLimits | None = None,
        now: Callable[[], datetime] = utc_now,
        calendar_events: bool = False,
        attendance_reports: bool = False,
    ) -> None:
        self._graph = graph
        self._lifecycle = MeetingLifecycle(graph)
        self._calendar = CalendarLifecycle(graph)
        self._calendar_events = calendar_events
        self._repairs = ConcurrentRepair(states, self._lifecycle, self._calendar)
        self._publisher = publisher
        self._states = states
        self._requeue = requeue
        self._policy = policy or OrganizerPolicy()
        self._limits = limits or PipelineLimits()
        self._now = now
        self._follow_ups = AttendanceFollowUps(graph, states, requeue, enabled=attendance_reports, now=now)

    def close(self) -> None:
        self._graph.close()
        if self._requeue is not None:
            self._requeue.close()
        self._states.close()
        self._publisher.close()

    def handle(self, message: InboundMessage) -> ResultMessage | None:
        """Process and publish one message (None when re-enqueued); raise when Service Bus should redeliver it."""
        with booking_span(message.trace_parent, message.trace_state):
            return self._handle(message)

    def _handle(self, message: InboundMessage) -> ResultMessage | None:
        delivery = Delivery(message)
        try:
            delivery.result = self._decide(delivery)
        except Exception as error:
            delivery.result = self._answer_failure(delivery, error)
        if delivery.result is None:
            return None
        try:
            self._publish(delivery, delivery.result)
        except Exception as error:  # a result that cannot be sent, or not even serialized: still one answer
            self._answer_failure(delivery, error)
        return delivery.result

    def _decide(self, delivery: Delivery) -> ResultMessage | None:
        """The result for one message, calling Graph when the booking is valid, allowed and current (None: nothing to
        publish, for an attendance follow-up that is stale or looks again later)."""
        follow_up = delivery.follow_up = self._follow_ups.recognised(delivery.message)
        if follow_up is not None:
            return self._follow_ups.run(follow_up, delivery, self._publish)
        try:
            booking = delivery.booking = parse_booking(delivery.message.body)
        except InvalidBooking as error:
            delivery.identity = error.identity
            return self._result(delivery, ResultStatus.REJECTED, error=rejected_error(error))
        delivery.identity = BookingIdentity(booking.source, booking.record_id, booking.revision, booking.organizer_id)
        external_id = delivery.external_id = derive_external_id(booking.source, booking.record_id)
        describe_booking(
            external_id=external_id, source=booking.source, revision=booking.revision, message_id=delivery.message.message_id
        )
        refusal = self._refusal(booking, external_id, delivery.message)
        if refusal is not None:
            return self._result(delivery, ResultStatus.REJECTED, error=refusal)

        deadline = delivery.deadline = self._graph.deadline()
        state = delivery.state = self._repairs.settle(self._states.read(external_id), booking.language, deadline)
        newer = superseding_revision(state, booking)
        if newer is not None:
            return self._result(delivery, ResultStatus.SUPERSEDED, applied_revision=newer)
        refusal = self._mode_refusal(booking, state)
        if refusal is not None:
            return self._result(delivery, ResultStatus.REJECTED, error=refusal)

        # A cancel the state cannot place goes to the calendar lifecycle, which cancels the record's meeting in both modes.
        calendar = uses_calendar(booking, state) or (self._calendar_events and cancels_in_both_modes(booking, state))
        lifecycle = delivery.lifecycle = self._calendar if calendar else self._lifecycle
        delivery.applying = True
        try:
            outcome = lifecycle.apply(
                booking,
                external_id,
                state,
                delivery.progress,
                deadline,
                lambda: self._repairs.newer_applied(booking, external_id, state),
            )
        except NewerBookingApplied:
            delivery.applying = False
            winner = self._states.read(external_id)
            assert winner is not None  # _newer_applied saw it
            return self._repair(delivery, winner)
        except InvalidBooking as error:
            # Found only once Graph showed the meeting (a channel that cannot change); nothing was applied.
            return self._result(delivery, ResultStatus.REJECTED, error=rejected_error(error))
        reported = as_first_reported(self._applied(delivery, outcome), state)
        stored = applied_state(
            state,
            booking,
            external_id,
            meeting_id=outcome.meeting.id if outcome.meeting else None,
            cancelled=booking.action == "cancel",
            outcome=reported,
            left_behind=tuple(delivery.progress.left_behind),
            body=delivery.message.body,
        )
        stored = with_mode(stored, booking, state, delivery.progress)
        stored = self._follow_ups.schedule(booking, outcome.meeting, stored, delivery.message)
        winner = self._committed(delivery, stored, state)
        delivery.applying = False
        if winner is not None:
            return self._repair(delivery, winner)
        return self._result(
            delivery,
            ResultStatus(reported.status),
            meeting=outcome.meeting,
            graph_request_id=outcome.graph_request_id,
            changed_fields=list(reported.changed_fields),
            meeting_existed=reported.meeting_existed,
        )

    def _refusal(self, booking: Booking, external_id: str, message: InboundMessage) -> ResultError | None:
        """Why the bridge will not act on a valid booking: the operator's policy, or a session that breaks ordering."""
        if booking.calendar is not None and not self._calendar_events:
            return _calendar_not_enabled()
        if asks_for_attendance(booking) and booking.action != "cancel" and not self._follow_ups.enabled:
            return attendance_not_enabled()
        if not self._policy.permits(booking.source, booking.organizer_id):
            return ResultError(
                code="organizer_not_allowed",
                message=f"source '{booking.source}' may not book meetings for organizer {booking.organizer_id}: "
                "the operator's ALLOWED_ORGANIZERS setting does not list this pair",
            )
        if message.session_id is not None and message.session_id != external_id:
            return ResultError(
                code="invalid_session_id",
                message=f"the message's session id must be the record's externalId ({external_id}) so that the "
                "record's bookings are applied in order; send it again with that session id",
            )
        return None

    def _mode_refusal(self, booking: Booking, state: RecordState | None) -> ResultError | None:
        """Why a current booking cannot be applied in its mode: it would switch the record's, or calendar mode is off."""
        if state is not None and changes_mode(booking, state):
            return ResultError(code=CALENDAR_MODE_CHANGED, message=mode_change_refusal(booking, state))
        if uses_calendar(booking, state) and not self._calendar_events:
            return _calendar_not_enabled()
        return None

    def _repair(self, delivery: Delivery, winner: RecordState) -> ResultMessage:
        """A newer booking won while this delivery worked: undo what it did (shared.concurrent_repair), answer `superseded`."""
        booking, lifecycle, deadline = delivery.booking, delivery.lifecycle, delivery.deadline
        assert booking is not None and lifecycle is not None and deadline is not None
        self._repairs.undo(booking, lifecycle, delivery.progress, winner, deadline)
        logger.warning(
            "a newer booking of the record was applied concurrently; this delivery's changes were undone "
            "externalId=%s revision=%s appliedRevision=%s messageId=%s",
            delivery.external_id,
            booking.revision,
            winner.revision,
            escaped(delivery.message.message_id),
        )
        return self._result(delivery, ResultStatus.SUPERSEDED, applied_revision=winner.revision)

    def _applied(self, delivery: Delivery, outcome: Outcome) -> AppliedOutcome:
        return AppliedOutcome(delivery.message.booking_key, outcome.status.value, outcome.meeting_existed, outcome.changed_fields)

    # Failures: one decision (shared.failure_policy), carried out here.

    def _answer_failure(self, delivery: Delivery, error: Exception) -> ResultMessage | None:
        """Carry out the policy's decision: a `failed` result to publish, None when re-enqueued, or raise.

        A booking that lost to a newer one while it failed (a lost session lock) is answered `superseded` once what it
        did, or may have done, in Graph is undone: its failure no longer matters, the newer booking's meeting does."""
        try:
            winner = self._remember_partial(delivery, error)
            if winner is not None:
                return self._repair(delivery, winner)
        except Exception as store_or_repair_error:  # decided on in the failed booking's place
            error = store_or_repair_error
        message, booking = delivery.message, delivery.booking
        failure = Failure(
            error=error,
            last_delivery=message.is_last_delivery(self._limits.max_delivery_count),
            # A follow-up's copies count its looks too; only those beyond them count as throttle re-enqueues.
            requeue_count=max(0, message.requeue_count - LOOKS) if delivery.follow_up else message.requeue_count,
            graph_changed=delivery.progress.changed or _maybe_applied(error),
            # A follow-up is always of one revision, and reads only: its copy is re-enqueued as a booking's is.
            has_revision=delivery.follow_up is not None or (booking is not None and booking.revision is not None),
            can_requeue=self._requeue is not None,
        )
        decision = decide(failure, self._limits.max_throttle_requeues)
        if decision.action is Action.REQUEUE:
            assert isinstance(error, GraphThrottled)
            if self._requeued(delivery, error):
                return None
            decision = decide(replace(failure, can_requeue=False), self._limits.max_throttle_requeues)
        if decision.action in (Action.ANSWER, Action.GIVE_UP):
            self._open_locked_lobby(delivery)
        if decision.action is Action.ANSWER:
            return self._failed_result(delivery, error, deliveries=None)  # logged with the result, as any answer
        self._log_failure(delivery, error, decision)
        if decision.action is Action.GIVE_UP:
            record_last_delivery_failure(error_type(error))
            # The source hears before the message is dead-lettered: the result that could not be sent, if Graph
            # did what the booking asked, else a `failed` one.
            last = delivery.result if decision.republish and delivery.result else None
            try:
                answer = last or self._failed_result(delivery, error, deliveries=message.delivery_count)
                if answer is not None:  # None: a follow-up the record state did not back, which nobody asked for
                    self._publish(delivery, answer)
            except RetryableError as publish_error:
                logger.error("could not publish the last delivery's result error=%s", publish_error.code)
        elif isinstance(error, GraphThrottled):
            # Redelivered at once by Service Bus: the instance's own pause is waited out here, up to the deadline.
            self._graph.wait_out_throttle(error, delivery.deadline)
        raise error

    def _open_locked_lobby(self, delivery: Delivery) -> None:
        """A cancel that will not be tried again leaves the meeting as it found it: the lobby and chat it locked before
        its DELETE are put back (a meeting gone meanwhile is skipped). Redelivered, it would lock them again."""
        booking, lifecycle, progress = delivery.booking, delivery.lifecycle, delivery.progress
        if booking is None or booking.action != "cancel" or lifecycle is None or not progress.undo:
            return
        try:
            lifecycle.undo(progress, delivery.deadline or self._graph.deadline(), language=booking.language)
        except GraphError as error:
            logger.error(
                "a failed cancel could not open the lobby it locked externalId=%s status=%s graphRequestId=%s",
                delivery.external_id,
                error.info.http_status,
                escaped(error.info.request_id),
            )

    def _remember_partial(self, delivery: Delivery, error: Exception) -> RecordState | None:
        """A booking that fails after Graph was changed, or may have been (an answer was lost), leaves the record
        state knowing the meeting Graph holds, or that one may exist, so a later move or cancel finds it. Returns the
        state of a newer booking applied meanwhile (a lost session lock), whose meeting this delivery may have touched
        or made another of; raises the store's error if the state cannot be written."""
        booking, progress, state, external_id = delivery.booking, delivery.progress, delivery.state, delivery.external_id
        if booking is None or external_id is None or not delivery.applying:
            return None
        delivery.applying = False
        maybe_applied = _maybe_applied(error)
        if progress.held is not None and not progress.held.known and not maybe_applied:
            progress.held = None  # the call that could have made the record's meeting was not applied
        if not (progress.changed or maybe_applied):
            return None
        live = state if state is not None and not state.cancelled and state.organizer_id == booking.organizer_id else None
        known = live.meeting_id if live is not None else None
        # A lost answer matters only where createOrGet could have made a meeting: one the state already knows under
        # the organizer, or knows may exist there (an earlier answer was lost too), is only ever returned unchanged,
        # so this booking's content cannot have reached it and the record's state stays as it is (unless a newer
        # booking removed it meanwhile: the repair's to see to).
        maybe_created = maybe_applied and (live is None or (known is None and not live.meeting_unknown))
        if not progress.previous_settled:
            return None
        if not (progress.changed or maybe_created):
            if maybe_applied and progress.patching and state is not None:
                # A PATCH whose answer was lost may not have been applied: the state keeps its revision, and remembers
                # only what the booking may have done, for its redelivery to report.
                remembered = replace(state, outcome=_so_far(delivery, maybe_applied, maybe_created))
                return self._partial_committed(delivery, remembered, state)
            newer = self._repairs.newer_applied(booking, external_id, state)
            return self._states.read(external_id) if newer else None
        meeting_id = progress.meeting.id if progress.meeting else known
        left_behind = list(progress.left_behind)
        moved_from = _moved_from(state, booking)
        if moved_from is not None and not progress.previous_retired and moved_from not in left_behind:
            left_behind.append(moved_from)  # a move failed before the old meeting went: the state keeps knowing it
        stored = applied_state(
            state,
            booking,
            external_id,
            meeting_id=meeting_id,
            cancelled=False,
            outcome=_so_far(delivery, maybe_applied, maybe_created),
            left_behind=tuple(left_behind),
            meeting_unknown=meeting_id is None,
        )
        if booking.action == "cancel" and live is not None:
            # A failed cancel leaves the meeting as the last upsert made it: that booking stays the record's own (what
            # its last delivery puts the lobby back to, and what a repair applies again).
            stored = replace(stored, applied_booking=live.applied_booking)
        return self._partial_committed(delivery, with_mode(stored, booking, state, progress), state)

    def _partial_committed(self, delivery: Delivery, stored: RecordState, state: RecordState | None) -> RecordState | None:
        try:
            return self._committed(delivery, stored, state)
        except RetryableError as store_error:
            logger.error("could not record the meeting of a failed booking error=%s", store_error.code)
            raise

    def _committed(self, delivery: Delivery, stored: RecordState, state: RecordState | None) -> RecordState | None:
        """Store the delivery's state (shared.ordering.commit); None when stored, else the newer booking's state that won.

        If an older booking stored its state meanwhile, the booking is redelivered and applied over it: an event this
        delivery made beside the one that state names is retired first (shared.concurrent_repair), on success and
        failure alike, so that no event of the record is left in no state."""
        booking, deadline = delivery.booking, delivery.deadline
        assert booking is not None and deadline is not None
        try:
            return commit(self._states, stored, state, booking)
        except OlderBookingStored as conflict:
            delivery.applying = False  # the state is the older booking's: nothing of this delivery's is to be written
            self._repairs.retire_stray(booking, delivery.progress, conflict.current, deadline)
            raise

    def _requeued(self, delivery: Delivery, error: GraphThrottled) -> bool:
        message = delivery.message
        assert self._requeue is not None
        copy = requeued_copy(
            message.body,
            original_id=message.original_id,
            count=message.requeue_count + 1,
            session_id=message.session_id,
            correlation_id=message.correlation_id,
            delay_seconds=error.retry_after_seconds,
        )
        try:
            self._requeue.send(copy, "the throttled booking")
        except RetryableError as send_error:
            logger.error("could not re-enqueue the throttled booking error=%s", send_error.code)
            return False
        record_requeue()
        logger.warning(
            "booking re-enqueued after Graph throttling retryAfterSeconds=%.0f requeueCount=%d graphRequestId=%s "
            "messageId=%s originalMessageId=%s durationMs=%d",
            error.retry_after_seconds,
            message.requeue_count + 1,
            escaped(error.info.request_id),
            escaped(message.message_id),
            escaped(message.original_id),
            _elapsed_ms(delivery.started),
        )
        return True

    def _log_failure(self, delivery: Delivery, error: Exception, decision: Decision) -> None:
        # A defect's message may quote anything (a subject, an address): only its type and stack are logged.
        code = getattr(error, "code", None) if is_expected(error) else None
        logger.error(
            "booking will be %s externalId=%s messageId=%s deliveryCount=%s error=%s %s durationMs=%d%s",
            "dead-lettered" if decision.action is Action.GIVE_UP else "redelivered",
            delivery.external_id,
            escaped(delivery.message.message_id),
            delivery.message.delivery_count,
            code or type(error).__name__,
            _logged_details(error) if code else "reason=unexpected",
            _elapsed_ms(delivery.started),
            "" if code else "\n" + "".join(traceback.format_tb(error.__traceback__)),
        )

    def _failed_result(self, delivery: Delivery, error: Exception, deliveries: int | None) -> ResultMessage | None:
        if delivery.follow_up is not None:
            return self._follow_ups.failed(delivery, error, deliveries)
        graph_answer = graph_error(error.info) if isinstance(error, GraphRefused) and deliveries is None else None
        return self._result(
            delivery,
            ResultStatus.FAILED,
            error=graph_answer or failure_error(error, deliveries),
            graph_request_id=error.info.request_id if isinstance(error, GraphRefused) else None,
        )

    # Answers

    def _publish(self, delivery: Delivery, result: ResultMessage) -> None:
        publish_result(self._publisher, delivery, result, self._policy.named_sources)

    def _result(self, delivery: Delivery, status: ResultStatus, **details: Any) -> ResultMessage:
        return build_result(delivery, status, self._now(), **details)


def publish_result(publisher: ResultSink, delivery: Delivery, result: ResultMessage, named_sources: Set[str]) -> None:
    """Publish a result, then count it and write its `booking processed` line: how every result leaves the bridge.

    The metric, the line and the failed-results alert (infra/modules/alerts.bicep) see every published result,
    the pipeline's and a misconfigured bridge's alike."""
    message = delivery.message
    publisher.publish_result(result, message.correlation_id or message.original_id, delivery.result_key or message.booking_key)
    source = delivery.booking.source if delivery.booking else delivery.follow_up.source if delivery.follow_up else None
    record_result(
        result.status.value,
        source,
        result.error.code if result.error else None,
        named_sources,
    )
    logger.info(
        "booking processed status=%s source=%s externalId=%s revision=%s changed=%s errorCode=%s "
        "graphRequestId=%s messageId=%s deliveryCount=%s durationMs=%d",
        result.status.value,
        result.source,
        result.external_id,
        result.revision,
        ",".join(result.changed_fields) or None,
        escaped(result.error.code) if result.error else None,
        escaped(result.graph_request_id) if result.graph_request_id else None,
        escaped(message.message_id),
        message.delivery_count,
        _elapsed_ms(delivery.started),
    )


def answer_unconfigured(publisher: ResultSink, message: InboundMessage, error: ConfigurationError) -> ResultMessage:
    """Publish the `failed` result of a booking on its last delivery while a setting keeps the pipeline from being
    built, counted and logged as any result; the message is dead-lettered next."""
    delivery = Delivery(message)
    try:
        booking = delivery.booking = parse_booking(message.body)
        delivery.identity = BookingIdentity(booking.source, booking.record_id, booking.revision, booking.organizer_id)
    except InvalidBooking as invalid:
        delivery.identity = invalid.identity
    result = build_result(delivery, ResultStatus.FAILED, utc_now(), error=failure_error(error, deliveries=message.delivery_count))
    record_last_delivery_failure(error.code)
    # The allow-list may be the broken setting: no source is counted by name.
    publish_result(publisher, delivery, result, frozenset())
    return result


def build_result(delivery: Delivery, status: ResultStatus, processed_at: datetime, **details: Any) -> ResultMessage:
    identity = delivery.identity
    external_id = delivery.external_id
    if external_id is None and identity.source and identity.record_id:
        external_id = derive_external_id(identity.source, identity.record_id)
    return ResultMessage(
        status=status,
        source=identity.source,
        record_id=identity.record_id,
        revision=identity.revision,
        external_id=external_id,
        organizer_id=identity.organizer_id,
        meeting=details.pop("meeting", None),
        error=details.pop("error", None),
        graph_request_id=details.pop("graph_request_id", None),
        booking_message_id=delivery.message.original_id,
        processed_at=processed_at,
        warnings=list(delivery.progress.warnings),
        **details,
    )


def _so_far(delivery: Delivery, maybe_applied: bool, maybe_created: bool) -> AppliedOutcome:
    """What a failed delivery did in Graph so far, in the result's terms, for its redelivery to report: `created` if it
    made the record's meeting (or may have: the create's answer was lost where there was none to find), `updated`
    with the fields its PATCHes applied (or may have), else `failed`. One rule for both modes."""
    progress, upsert = delivery.progress, delivery.booking is not None and delivery.booking.action == "upsert"
    held = progress.held
    # A calendar POST follows a lookup that found no live event; a createOrGet creates only where there was none (a
    # cancel's lookup makes an empty meeting at most, which it removes).
    may_have_made = upsert and held is not None and not held.known and (held.calendar or maybe_created)
    created = progress.created or (maybe_applied and may_have_made)
    fields = (*progress.changed_fields, *(progress.patching if maybe_applied else ()))
    status = ResultStatus.CREATED if created else ResultStatus.UPDATED if fields else ResultStatus.FAILED
    return AppliedOutcome(delivery.message.booking_key, status.value, progress.meeting_existed, fields)


def _moved_from(state: RecordState | None, booking: Booking) -> tuple[str, str] | None:
    """The live meeting (or event) of the record under an organizer other than the booking's, if any: by its id, or
    UNKNOWN_MEETING for one that may exist whose id was never learned (an event is always looked for)."""
    if state is None or state.cancelled or state.organizer_id in (None, booking.organizer_id):
        return None
    held = state.event_id if state.calendar else state.meeting_id
    if held is None and not (state.meeting_unknown or state.calendar):
        return None
    return (state.organizer_id, held or UNKNOWN_MEETING) if state.organizer_id else None


def _logged_details(error: Exception) -> str:
    """What of a known error its log line carries. Graph's own message may quote a subject, an attendee or a
    mailbox, so for Graph's answers only its status, code and request-id (and the fix, for access denied);
    the bridge's own errors keep their message, which names the setting or the cause (values redacted)."""
    if isinstance(error, GraphError):
        info = error.info
        details = f"httpStatus={info.http_status} graphCode={escaped(info.code)} graphRequestId={escaped(info.request_id)}"
        return f"{details} reason={error.fix}" if error.fix else details
    return f"reason={escaped(error, MAX_LOGGED_ERROR_LENGTH)}"


def _maybe_applied(error: Exception) -> bool:
    return isinstance(error, BridgeError) and error.maybe_applied


def _calendar_not_enabled() -> ResultError:
    return ResultError(
        code=CALENDAR_NOT_ENABLED,
        message="the booking asks for a calendar event, but the operator has not enabled calendar mode "
        "(CALENDAR_EVENTS_ENABLED, with the Calendars.ReadWrite permission); send it without `calendar`, or ask the operator",
    )


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
