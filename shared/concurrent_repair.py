"""Two deliveries of one record at once (a lost session lock): the newer booking must win in Graph too.

Sessions hand one record's messages to one invocation at a time, but a lost lock lets the record's next
message run while the older one is still calling Graph. Graph has no conditional PATCH or DELETE, so the
bridge orders what it can and repairs the rest, here:

- newer_applied: a second look at the state before anything that cannot be undone (a DELETE);
- undo: once the older delivery's conditional state write fails, what it did is undone: a meeting it holds
  for a record now cancelled or moved is retired; on the newer booking's meeting its PATCHes are put back
  and the newer booking, kept in the state, is applied again;
- what cannot be done now (Graph refuses or throttles) is written into the winner's state (meetings left
  behind, a repair due), and settle does it first in the record's next delivery, whatever that is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from shared.booking import Booking
from shared.calendar_lifecycle import CalendarLifecycle
from shared.errors import GraphAccessDenied, GraphError, GraphRefused, StateConflict
from shared.meeting_lifecycle import MeetingLifecycle
from shared.ordering import superseding_revision
from shared.record_lifecycle import GraphProgress, Held, RecordLifecycle, kept_booking, live_under, log_refusal
from shared.record_state import (
    LEFTOVER_EVENT,
    LEFTOVER_MEETING,
    UNKNOWN_MEETING,
    Leftover,
    RecordState,
    RecordStateStore,
    leftover_is_event,
)

logger = logging.getLogger(__name__)

# Read-modify-write attempts to amend a state other deliveries are writing too.
AMEND_ATTEMPTS = 3


class ConcurrentRepair:
    """The record-level repairs after a lost session lock, over the state store and both lifecycles."""

    def __init__(self, states: RecordStateStore, meetings: MeetingLifecycle, calendar: CalendarLifecycle) -> None:
        self._states = states
        self._meetings = meetings
        self._calendar = calendar

    def settle(self, state: RecordState | None, language: str | None, deadline: float) -> RecordState | None:
        """Work a concurrent delivery left for the record goes first, whatever this booking turns out to be:
        meetings left behind are retired, each in its own mode (never the record's own live meeting), and a repair that
        failed is done."""
        if state is None or not (state.leftovers or state.reapply):
            return state
        progress = GraphProgress()  # the record's work, not this booking's
        live = None if state.cancelled else (state.organizer_id, state.event_id if state.calendar else state.meeting_id)
        # Never the record's live meeting: by its id, or, for one whose id was never learned, by its organizer (the
        # record's meeting under an organizer is the one createOrGet finds by externalId).
        others = tuple(
            leftover
            for leftover in state.leftovers
            if not (
                live
                and leftover_is_event(leftover, state) == state.calendar
                and leftover[:2] in (live, (live[0], UNKNOWN_MEETING))
            )
        )
        kept = self._retire(state, others, progress, deadline, language)
        settled = replace(state, leftovers=kept, reapply=False)
        if state.reapply:
            settled = self._reapplied(settled, progress, deadline)
        return state if settled.same_as(state) else self._states.write(settled, state)

    def newer_applied(self, booking: Booking, external_id: str, read: RecordState | None) -> bool:
        """Whether a newer booking of the record has been stored since `read` was read."""
        current = self._states.read(external_id)
        if current is None or (read is not None and current.etag == read.etag):
            return False
        return booking.revision is None or current.revision is None or superseding_revision(current, booking) is not None

    def undo(
        self,
        booking: Booking,
        lifecycle: RecordLifecycle,
        progress: GraphProgress,
        winner: RecordState,
        deadline: float,
    ) -> None:
        """Undo what an older delivery did to the record the newer `winner` now holds, whether it succeeded or failed.

        The meeting this delivery holds, or may have made (its answer lost, its id unknown), is retired when it cannot
        be the winner's: the record is cancelled or moved, the winner's meeting is in the other mode (an event, or a
        standalone meeting: a record cancelled, then booked again in both modes at once), or this delivery made an
        event that is not the winner's. Nothing else of the winner's was touched then, so there is nothing more to
        undo. What Graph will not retire now is left in the winner's state for the record's next delivery."""
        held = progress.held
        other_mode = held is not None and held.calendar != winner.calendar
        same_place = live_under(winner, booking.organizer_id) is not None and not other_mode
        if held is not None and (not same_place or _event_beside(progress, winner, booking.organizer_id)):
            # A meeting is retired by the lifecycle of its own mode; one whose id is unknown is looked up by externalId.
            mine = self._calendar if held.calendar else self._meetings
            keep = winner.event_id if same_place else None
            try:
                mine.retire(
                    booking.organizer_id,
                    held.item_id,
                    winner.external_id,
                    progress,
                    deadline,
                    language=booking.language,
                    keep=keep,
                )
            except GraphError as error:
                logger.warning("could not undo a concurrent delivery's meeting; left for the next error=%s", error.code)
                organizer_id, left = booking.organizer_id, held
                winner = self._amend(
                    winner, lambda state: replace(state, leftovers=_with(state.leftovers, _leftover(state, organizer_id, left)))
                )
        if winner.cancelled or other_mode or not progress.changed:
            return
        try:
            lifecycle.undo(progress, deadline, language=booking.language)
            repaired = self._reapplied(winner, progress, deadline)
            if not repaired.same_as(winner):
                self._amend(winner, lambda state: replace(state, meeting_id=repaired.meeting_id, event_id=repaired.event_id))
        except GraphError as error:
            logger.warning("could not repair the newer booking's meeting; left for the next error=%s", error.code)
            self._amend(winner, lambda state: replace(state, reapply=True))

    def retire_stray(self, booking: Booking, progress: GraphProgress, current: RecordState, deadline: float) -> None:
        """An older booking stored the record's state while this delivery worked (a lost session lock): the booking is
        redelivered and brought in line on the event that state names, so an event this delivery made beside it (or may
        have made: its POST's answer was lost) would be in no state, live with its attendees invited. It is retired now;
        one Graph will not retire now is listed in the state as left behind, for the record's next delivery."""
        held = progress.held
        if held is None or not _event_beside(progress, current, booking.organizer_id):
            return  # a standalone meeting is one per organizer; an event elsewhere is the redelivery's to find
        try:
            self._calendar.retire(
                booking.organizer_id,
                held.item_id,
                current.external_id,
                progress,
                deadline,
                language=booking.language,
                keep=current.event_id,
            )
        except GraphError as error:
            logger.warning("could not retire an event a conflicting delivery made; left for the next error=%s", error.code)
            if held.known:
                organizer_id = booking.organizer_id
                self._amend(
                    current, lambda state: replace(state, leftovers=_with(state.leftovers, _leftover(state, organizer_id, held)))
                )

    def _retire(
        self,
        state: RecordState,
        leftovers: tuple[Leftover, ...],
        progress: GraphProgress,
        deadline: float,
        language: str | None,
    ) -> tuple[Leftover, ...]:
        """Retire meetings (or events) left behind, each by the lifecycle of its own mode; those Graph still refuses
        are kept (and logged)."""
        kept = []
        for leftover in leftovers:
            lifecycle: RecordLifecycle = self._calendar if leftover_is_event(leftover, state) else self._meetings
            try:
                lifecycle.retire(leftover[0], leftover[1], state.external_id, progress, deadline, language=language)
            except (GraphAccessDenied, GraphRefused) as error:
                log_refusal("could not remove a meeting left behind", error)
                kept.append(leftover)
        return tuple(kept)

    def _reapplied(self, state: RecordState, progress: GraphProgress, deadline: float) -> RecordState:
        """The record's meeting brought in line with the booking its state says was applied last."""
        booking = kept_booking(state)
        if booking is None:
            logger.warning("a repair is due but the record's last booking was not kept; its next revision will repair it")
            return state
        meeting = self._lifecycle(state).reapply(booking, state, progress, deadline)
        return replace(state, meeting_id=meeting.id, event_id=meeting.event_id if state.calendar else state.event_id)

    def _amend(self, state: RecordState, change: Callable[[RecordState], RecordState]) -> RecordState:
        """Change a state other deliveries may be writing too (read-modify-write, a few attempts)."""
        for _ in range(AMEND_ATTEMPTS):
            try:
                return self._states.write(change(state), state)
            except StateConflict:
                current = self._states.read(state.external_id)
                if current is None:
                    raise
                state = current
        raise StateConflict("could not amend the record's state: it kept changing")

    def _lifecycle(self, state: RecordState) -> RecordLifecycle:
        return self._calendar if state.calendar else self._meetings


def _event_beside(progress: GraphProgress, state: RecordState, organizer_id: str) -> bool:
    """This delivery made an event (or may have: its POST's answer was lost) under the organizer of the record's live
    meeting, and it is not the event the record state names."""
    held = progress.held
    if held is None or not held.calendar or live_under(state, organizer_id) is None:
        return False
    return (progress.created or not held.known) and state.event_id not in (None, held.item_id)


def _leftover(state: RecordState, organizer_id: str, held: Held) -> Leftover:
    """A meeting left behind, as the state lists it: retired in its own mode, so one in the other mode names it."""
    if held.calendar == state.calendar:
        return (organizer_id, held.item_id)
    return (organizer_id, held.item_id, LEFTOVER_EVENT if held.calendar else LEFTOVER_MEETING)


def _with(leftovers: tuple[Leftover, ...], left: Leftover) -> tuple[Leftover, ...]:
    """The leftovers with one more, listed once however often a write of it is retried."""
    return leftovers if left in leftovers else (*leftovers, left)
