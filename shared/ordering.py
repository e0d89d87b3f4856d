"""Per-record ordering: a booking older than the newest one applied must change nothing.

Sessions (session id = externalId) make Service Bus hand one record's messages to one
invocation at a time, in the order they were enqueued. That is not enough on its own: a
producer may re-send an old revision, a dead-lettered message may be replayed, and a
throttled booking comes back later as a scheduled copy. So the bridge also keeps, per
record, the last revision it applied and whether it was a cancel (shared.record_state),
and compares each booking with it before touching Graph.
"""

from __future__ import annotations

from dataclasses import replace

from shared.booking import Booking
from shared.errors import StateConflict
from shared.record_state import MAX_KEPT_BOOKING_BYTES, UNKNOWN_MEETING, AppliedOutcome, RecordState, RecordStateStore
from shared.result import ResultStatus


class OlderBookingStored(StateConflict):
    """An older booking of the record stored its state after this delivery read it: this booking is redelivered and
    applied over that state. `current` is the state the older booking stored, which names the record's meeting."""

    def __init__(self, current: RecordState) -> None:
        super().__init__("an older booking of the record stored its state meanwhile")
        self.current = current


def superseding_revision(state: RecordState | None, booking: Booking) -> int | None:
    """The newer applied revision that makes `booking` stale, or None if the booking should be applied.

    Equal revisions are applied again (a redelivery must be able to finish what a crash interrupted),
    except an upsert after a cancel of the same revision: the cancel wins, so a cancelled record is
    never brought back without a newer revision. A booking without a revision cannot be ordered and is
    applied in delivery order."""
    if state is None or state.revision is None or booking.revision is None:
        return None
    if booking.revision < state.revision:
        return state.revision
    if booking.revision == state.revision and state.cancelled and booking.action == "upsert":
        return state.revision
    return None


# Outcomes worth remembering for a redelivery of the same booking: what a repeat would not report again
# (a repeat of `created` finds the meeting `existing`; a repeated cancel finds no meeting to delete).
_REMEMBERED = frozenset({ResultStatus.CREATED, ResultStatus.UPDATED, ResultStatus.CANCELLED, ResultStatus.FAILED})


def applied_state(
    previous: RecordState | None,
    booking: Booking,
    external_id: str,
    *,
    meeting_id: str | None,
    cancelled: bool,
    outcome: AppliedOutcome,
    left_behind: tuple[tuple[str, str], ...] = (),
    body: bytes | None = None,
    meeting_unknown: bool = False,
) -> RecordState:
    """The state to store once `booking` has changed what Graph holds (a booking without a revision keeps the last one;
    a cancel drops the attendance follow-up's, so that no later booking backs it again).

    `body` is the upsert's message body, kept (when small enough) so that a concurrent older delivery's damage
    to this booking's meeting can be put right by applying it again."""
    revision = booking.revision if booking.revision is not None else (previous.revision if previous else None)
    remembered = outcome if outcome.status in _REMEMBERED else (previous.outcome if previous else None)
    follow_up = None if cancelled else previous
    return RecordState(
        external_id=external_id,
        revision=revision,
        cancelled=cancelled,
        organizer_id=booking.organizer_id,
        meeting_id=None if cancelled else meeting_id,
        outcome=remembered,
        # A meeting left behind under an organizer that the record has since moved back to is its meeting again.
        leftovers=tuple(
            leftover
            for leftover in (*(previous.leftovers if previous else ()), *left_behind)
            if leftover[:2] != (booking.organizer_id, meeting_id)
            and (cancelled or leftover != (booking.organizer_id, UNKNOWN_MEETING))
        ),
        applied_booking=body if not cancelled and body is not None and len(body) <= MAX_KEPT_BOOKING_BYTES else None,
        meeting_unknown=meeting_unknown and meeting_id is None,
        channel_thread_id=None if cancelled else _channel(booking, previous),
        # A cancel ends the record's incarnation, and with it the follow-up it backed (shared.attendance).
        attendance_scheduled=follow_up.attendance_scheduled if follow_up is not None else None,
        attendance_window=follow_up.attendance_window if follow_up is not None else None,
        attendance_answer=follow_up.attendance_answer if follow_up is not None else None,
    )


def _applied_as(state: RecordState) -> tuple[int | None, bool, str | None]:
    return state.revision, state.cancelled, state.organizer_id


def _channel(booking: Booking, previous: RecordState | None) -> str | None:
    """The channel the record's meeting is in once `booking` applied: a revision without channel keeps it."""
    if booking.channel is not None:
        return booking.channel.thread_id
    if previous is None or previous.cancelled:
        return ""
    return previous.channel_thread_id


def as_first_reported(outcome: AppliedOutcome, state: RecordState | None) -> AppliedOutcome:
    """A redelivery of the booking that last changed the record reports what that booking achieved.

    Its first delivery changed Graph and then failed or could not publish: the redelivery finds the meeting
    `existing` (or patches what was left), or a cancelled record with nothing left to delete, and would
    report that. Reporting what the booking did (it created the meeting; a meeting existed and it deleted it)
    keeps the result truthful (the first lookup saw the record before this booking touched it), and its id the
    same for duplicate detection."""
    first = state.outcome if state is not None else None
    if first is None or first.booking_key != outcome.booking_key:
        return outcome
    if outcome.status in (ResultStatus.EXISTING, ResultStatus.UPDATED) and first.status in (
        ResultStatus.CREATED,
        ResultStatus.UPDATED,
    ):
        changed = tuple(dict.fromkeys((*first.changed_fields, *outcome.changed_fields)))
        return replace(outcome, status=first.status, changed_fields=changed)
    if outcome.status == ResultStatus.CANCELLED and first.meeting_existed is not None:
        return replace(outcome, meeting_existed=first.meeting_existed)
    return outcome


def commit(store: RecordStateStore, state: RecordState, expected: RecordState | None, booking: Booking) -> RecordState | None:
    """Store `state` if nobody wrote since `expected` was read; None when stored, else the state that won.

    Nothing is written when nothing changed. A conflict with a concurrent delivery that stored the same
    revision and action under the same organizer is not an error: both applied the same thing, unless each made
    an event of its own (the one the state names stays, and this delivery's is the caller's to retire). A conflict
    with a newer booking (a later revision, a cancel of the same revision, or any writer when revisions cannot order
    them) returns the winner's state, for the caller to repair what this delivery did in Graph. An older booking that
    wrote in between raises OlderBookingStored, carrying its state: the booking is redelivered and applied over it, and
    the caller retires whatever this delivery made that the older state does not name."""
    if state.same_as(expected):
        return None
    try:
        store.write(state, expected)
        return None
    except StateConflict as conflict:
        current = store.read(state.external_id)
        if current is None:
            raise
        same = _applied_as(current) == _applied_as(state)
        if same and (current.event_id == state.event_id or None in (current.event_id, state.event_id)):
            return None
        if same or booking.revision is None or current.revision is None or superseding_revision(current, booking) is not None:
            return current
        raise OlderBookingStored(current) from conflict
