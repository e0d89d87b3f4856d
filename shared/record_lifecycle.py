"""A record's meeting through Graph, whichever mode holds it: the life both modes share, written once.

A record holds one meeting in Graph: a standalone onlineMeeting (shared.meeting_lifecycle) or an Outlook event with
its Teams meeting (shared.calendar_lifecycle). Both live the same life:
- an upsert creates or finds the record's meeting under the booking's organizer and brings it in line with the
  booking, then retires the meeting a moved booking left under its former organizer (created first, so that an
  organizer Graph refuses leaves the meeting people hold as it was);
- a cancel finds the record's meeting, locks its lobby (Graph keeps a deleted meeting's join link working), reads
  the record state again, and ends it;
- retiring a meeting (a moved booking's old one, one left behind, one a losing delivery made) is the same lock and end.

What differs is how the record's meeting is found, created and brought in line, and how it is ended: the methods
each mode implements (RecordLifecycle's abstract ones). Every step is safe to repeat, which is what makes redelivery
harmless: a lookup finds what an earlier delivery made, a PATCH sets absolute values, and ending a meeting that is
already gone is reported as such, not as an error. Graph's refusals are raised as the error kinds in shared.errors and
decided on by shared.failure_policy; what this booking has already done in Graph is kept in a GraphProgress, so that a
later failure neither forgets a meeting nor re-enqueues a half-applied booking.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from shared.booking import Booking, parse_booking
from shared.errors import (
    GraphAccessDenied,
    GraphError,
    GraphErrorInfo,
    GraphRefused,
    GraphUnavailable,
    InvalidBooking,
    MalformedMeeting,
)
from shared.graph_client import GraphClient, GraphResponse
from shared.join_information import JOIN_INFORMATION_TOO_LARGE, MAX_JOIN_INFORMATION_BYTES, read_join_information
from shared.log_text import escaped
from shared.meeting import Meeting, meeting_from_graph
from shared.meeting_changes import meeting_update
from shared.record_state import UNKNOWN_MEETING, RecordState
from shared.result import ResultStatus, ResultWarning
from shared.wire_format import LOCK_BEFORE_DELETE, encoded

logger = logging.getLogger(__name__)

PREVIOUS_MEETING_NOT_REMOVED = "previous_meeting_not_removed"

# (organizer id, meeting or event id, PATCH body): what puts back one of a delivery's PATCHes.
Undo = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """What Graph now holds for the record, in the result's terms."""

    status: ResultStatus
    graph_request_id: str | None
    meeting: Meeting | None = None
    changed_fields: tuple[str, ...] = ()
    meeting_existed: bool | None = None


@dataclass(frozen=True)
class Held:
    """The record's meeting a delivery holds under its booking's organizer: its id (an event's, for a calendar
    booking) and its mode. While a call that may create it is under way, its id is UNKNOWN_MEETING: if that call's
    answer is lost, the meeting may exist, and only a lookup by externalId finds it."""

    item_id: str
    calendar: bool

    @property
    def known(self) -> bool:
        return self.item_id != UNKNOWN_MEETING


@dataclass
class GraphProgress:
    """What one delivery has done in Graph so far; kept when a later step fails.

    changed: Graph was written (a meeting created, patched or deleted).
    created: this delivery created the record's meeting (or event), for an upsert; also when an attempt whose answer
        was lost created it and the retry found it.
    changed_fields: the booking's fields this delivery's PATCHes applied (the result's changedFields), and patching
        those of the PATCH under way (applied, maybe, if its answer is lost).
    meeting_existed: for a cancel, whether its lookup found a meeting (None until it has looked).
    meeting: the result's meeting under the booking's organizer, once known (None after a cancel ended it).
    held: the record's meeting (or event) this delivery found, created or may have created under the booking's
        organizer (None after a cancel ended it).
    previous_settled: the meeting of a moved booking's former organizer is gone or given up on.
    previous_retired: that meeting is gone (or noted as left behind): a partial state need not list it.
    undo: what puts back this delivery's PATCHes of Teams meetings that a newer booking may not set again (options, a
        lock), in order. Subject, times and attendees are never put back: every booking sets them in full, so the
        repair applies the newer booking again instead (an event PATCH mails the attendees).
    left_behind: (organizer, id) of meetings (events, for a calendar booking) Graph refused to remove now, for a later
        delivery to retire.
    incarnation: the incarnation a calendar booking's event POST used (its transactionId), or found it used."""

    changed: bool = False
    created: bool = False
    changed_fields: list[str] = field(default_factory=list)
    patching: tuple[str, ...] = ()
    meeting_existed: bool | None = None
    meeting: Meeting | None = None
    held: Held | None = None
    previous_settled: bool = True
    previous_retired: bool = False
    undo: list[Undo] = field(default_factory=list)
    left_behind: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[ResultWarning] = field(default_factory=list)
    incarnation: int | None = None

    def applied(self) -> None:
        """The PATCH under way was applied."""
        self.changed = True
        self.changed_fields.extend(name for name in self.patching if name not in self.changed_fields)
        self.patching = ()


@dataclass(frozen=True)
class Found:
    """The record's meeting (or event) as a lookup found it."""

    id: str
    document: dict[str, Any]  # as Graph returned it; {} when the id came from the record state, not looked up
    existed: bool = True  # False: createOrGet made it just now (empty, known to nobody)
    request_id: str | None = None
    repeated: bool = False  # the lookup was retried after a lost answer: "existed" may be its own making


class NewerBookingApplied(Exception):
    """A newer booking of the record was applied while this one was under way (its session lock was lost)."""


class RecordLifecycle(ABC):
    """The Graph side of a booking in one mode, one at a time (thread-safe, stateless)."""

    calendar: ClassVar[bool]  # the record's meeting is an Outlook event
    item: ClassVar[str]  # what the record's meeting is, in a warning: "meeting" or "event"
    removed_by_hand: ClassVar[str]  # where an operator removes one the bridge could not
    access_fix: ClassVar[str]  # what lets the bridge remove it again after a 403
    # Looking the record's meeting up by externalId makes one when none exists (createOrGet): look only where one may.
    lookup_creates: ClassVar[bool]

    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    def apply(
        self,
        booking: Booking,
        external_id: str,
        state: RecordState | None,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool] = lambda: False,
    ) -> Outcome:
        """Cancel or upsert under the booking's organizer; a moved booking's old meeting is retired too.

        A move creates the new meeting before it retires the old one, so that an organizer Graph refuses (no
        access policy, not a member of the channel) leaves the meeting people hold as it was; a cancel retires
        both. If retiring the old meeting fails after the new one exists, the old one is noted as left behind
        (GraphProgress.left_behind), so the record state knows of both and the record's next delivery retires
        it. Every request carries the booking's language (Accept-Language), so every meeting Graph returns has
        its invitation in it."""
        if booking.action == "cancel":
            self._retire_previous(booking, external_id, state, progress, deadline, newer_applied)
            if repeats_cancel(booking, state):
                return Outcome(ResultStatus.CANCELLED, None, meeting_existed=False)
            return self._cancel(booking, external_id, state, progress, deadline, newer_applied)
        outcome = self._upsert(booking, external_id, state, progress, deadline)
        self._retire_previous(booking, external_id, state, progress, deadline, newer_applied)
        return outcome

    def reapply(self, booking: Booking, state: RecordState, progress: GraphProgress, deadline: float) -> Meeting:
        """Bring the record's meeting in line with an already applied booking again (found, then what differs)."""
        outcome = self._upsert(booking, state.external_id, state, progress, deadline)
        assert outcome.meeting is not None  # an upsert always ends with the meeting
        return outcome.meeting

    def retire(
        self,
        organizer_id: str,
        item_id: str,
        external_id: str,
        progress: GraphProgress,
        deadline: float,
        *,
        language: str | None = None,
        keep: str | None = None,
    ) -> bool:
        """Lock a meeting people may hold the link to, then end it; False if it was already gone.

        A meeting whose id the bridge never learned (UNKNOWN_MEETING) is the record's, looked up by externalId, and
        is left alone if it is `keep`, the record's live meeting there."""
        if item_id == UNKNOWN_MEETING:
            return self._retire_unknown(organizer_id, external_id, progress, deadline, language, keep)
        found = self._find_by_id(organizer_id, item_id, deadline, language)
        return found is not None and self._retire_found(organizer_id, found, progress, deadline, language)

    def undo(self, progress: GraphProgress, deadline: float, *, language: str | None = None) -> None:
        """Put back the options and locks this delivery's PATCHes changed, newest first (a meeting gone meanwhile is
        skipped)."""
        for organizer_id, item_id, body in reversed(progress.undo):
            if not body:
                continue
            try:
                self._graph.update_meeting(organizer_id, item_id, encoded(body), deadline, language=language)
            except GraphRefused as error:
                if error.info.http_status != 404:
                    raise
        progress.undo.clear()

    # What each mode does its own way.

    @abstractmethod
    def _upsert(
        self, booking: Booking, external_id: str, state: RecordState | None, progress: GraphProgress, deadline: float
    ) -> Outcome:
        """Create or find the record's meeting under the booking's organizer, and bring it in line with the booking."""

    @abstractmethod
    def _find(
        self, organizer_id: str, external_id: str, known: str | None, deadline: float, language: str | None
    ) -> tuple[Found | None, str | None]:
        """The record's live meeting under the organizer (None: it has none), and the request-id of the lookup.
        `known` is the id the record state knows there, if any."""

    @abstractmethod
    def _find_by_id(self, organizer_id: str, item_id: str, deadline: float, language: str | None) -> Found | None:
        """The meeting with this id under the organizer; None if it is known to be gone."""

    @abstractmethod
    def _teams_meeting(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> dict[str, Any]:
        """The Teams meeting whose lobby is locked before the meeting ends (raises GraphError if it cannot be found)."""

    @abstractmethod
    def _end(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> bool:
        """End the meeting for good; False if it was already gone."""

    @abstractmethod
    def _known(self, state: RecordState) -> str | None:
        """The id of the record's meeting the state knows, under the state's organizer."""

    # The life both modes share.

    def _known_under(self, state: RecordState | None, organizer_id: str) -> str | None:
        live = live_under(state, organizer_id)
        return self._known(live) if live is not None else None

    def _may_hold(self, state: RecordState | None, organizer_id: str) -> bool:
        """Whether the record state knows, or suspects, a meeting of the record under the organizer: a lookup that
        answers with one after a lost answer found one that was there before it, not one of its own making."""
        if state is None:
            return False
        if any(leftover[0] == organizer_id for leftover in state.leftovers):
            return True
        return live_under(state, organizer_id) is not None and (self._known(state) is not None or state.meeting_unknown)

    def _cancel(
        self,
        booking: Booking,
        external_id: str,
        state: RecordState | None,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool],
    ) -> Outcome:
        """Find the record's meeting, lock it, end it; the result says whether there was one.

        Just before the end, which nothing can undo, the record state is read again: if a newer booking was applied
        meanwhile (this delivery's session lock was lost), the meeting is kept and the lock undone by the repair."""
        organizer, language = booking.organizer_id, booking.language
        if self.lookup_creates:
            progress.held = Held(UNKNOWN_MEETING, self.calendar)
        found, request_id = self._find(organizer, external_id, self._known_under(state, organizer), deadline, language)
        if found is not None and found.repeated and not self._may_hold(state, organizer):
            found = replace(found, existed=False)  # the lookup's own meeting, made by the attempt whose answer was lost
        existed = progress.meeting_existed = found is not None and found.existed
        if found is None:
            return Outcome(ResultStatus.CANCELLED, request_id, meeting_existed=False)
        progress.changed |= not found.existed
        progress.held = Held(found.id, self.calendar)
        if found.existed:
            self._lock(organizer, found, progress, deadline, language, kept_booking(live_under(state, organizer)))
        if newer_applied():
            raise NewerBookingApplied
        self._end(organizer, found, deadline, language)
        progress.changed = True
        progress.undo.clear()
        progress.held = progress.meeting = None
        return Outcome(ResultStatus.CANCELLED, request_id, meeting_existed=existed)

    def _retire_unknown(
        self,
        organizer_id: str,
        external_id: str,
        progress: GraphProgress,
        deadline: float,
        language: str | None,
        keep: str | None,
    ) -> bool:
        """The record's meeting under the organizer, found by externalId, retired unless it is `keep`."""
        found = self._find(organizer_id, external_id, None, deadline, language)[0]
        if found is None or found.id == keep:
            return False
        progress.changed |= not found.existed
        return self._retire_found(organizer_id, found, progress, deadline, language)

    def _retire_found(
        self,
        organizer_id: str,
        found: Found,
        progress: GraphProgress,
        deadline: float,
        language: str | None,
        newer_applied: Callable[[], bool] = lambda: False,
        own: Booking | None = None,
    ) -> bool:
        """Lock, look at the record state again (the meeting may be a newer booking's again), end. `own` is the
        booking the record state says set the meeting (see _lock)."""
        undo = self._lock(organizer_id, found, progress, deadline, language, own) if found.existed else None
        if newer_applied():
            raise NewerBookingApplied  # the lock stays in progress.undo: the repair puts the lobby back
        try:
            ended = self._end(organizer_id, found, deadline, language)
            progress.changed = True
        finally:
            if undo is not None:
                progress.undo.remove(undo)
        return ended

    def _lock(
        self,
        organizer_id: str,
        found: Found,
        progress: GraphProgress,
        deadline: float,
        language: str | None,
        own: Booking | None = None,
    ) -> Undo | None:
        """The lobby locked to the organizer, chat off, before the meeting ends: Graph keeps a deleted meeting's join
        link working, so everyone but the organizer is sent to a lobby nobody will open. A courtesy: a refusal is
        logged and the meeting is ended anyway. Returns what puts the lobby back (also in progress.undo).

        What puts it back is the meeting's own lobby and chat: those `own`, the booking the record state says was
        applied last, sets, else what the meeting shows. An earlier delivery of the same cancel may have locked the
        meeting already (its end failed), so what the meeting shows may be that lock, never to be put back as the
        meeting's own."""
        try:
            teams = self._teams_meeting(organizer_id, found, deadline, language)
            self._graph.update_meeting(organizer_id, teams["id"], encoded(LOCK_BEFORE_DELETE), deadline, language=language)
        except GraphError as error:
            if not (isinstance(error, GraphRefused) and error.info.http_status == 404):
                log_refusal(f"could not lock the {self.item}'s lobby before removing it", error)
            return None
        progress.changed = True
        body = {name: teams[name] for name in LOCK_BEFORE_DELETE if teams.get(name) is not None}
        if own is not None and own.action == "upsert":
            wanted = meeting_update(own, teams).body
            body.update({name: wanted[name] for name in LOCK_BEFORE_DELETE if name in wanted})
        undo = (organizer_id, teams["id"], body)
        progress.undo.append(undo)
        return undo

    def _retire_previous(
        self,
        booking: Booking,
        external_id: str,
        state: RecordState | None,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool],
    ) -> None:
        """A booking moved to another organizer leaves a meeting under the old one: lock and end it.

        The record state is read again before anything is touched (the old organizer's meeting may be a newer
        booking's again) and once more just before the end, which nothing can undo. If Graph will not let the bridge
        touch the old organizer's meetings any more (403, or another refusal), the move still goes ahead: the result
        carries a warning naming the meeting to remove by hand, rather than the record failing on every revision to
        come. If Graph fails for now, the old meeting is noted as left behind and the error raised."""
        previous, language = (state.organizer_id if state is not None else None), booking.language
        if state is None or state.cancelled or previous is None or previous == booking.organizer_id:
            return
        known = self._known(state)
        if known is None and self.lookup_creates and not state.meeting_unknown:
            return  # the record had no meeting under the old organizer, and looking would make one
        progress.previous_settled = False
        if newer_applied():
            raise NewerBookingApplied
        item_id = known
        try:
            found = self._find_by_id(previous, known, deadline, language) if known is not None else None
            if found is None:  # its id not known, or it is gone: the lookup by externalId finds the record's
                found = self._find(previous, external_id, None, deadline, language)[0]
            if found is not None:
                item_id = found.id
                progress.changed |= not found.existed
                self._retire_found(previous, found, progress, deadline, language, newer_applied, kept_booking(state))
            progress.previous_retired = True
        except (GraphAccessDenied, GraphRefused) as error:
            log_refusal(f"could not remove the moved booking's previous {self.item}", error)
            info = error.info
            progress.warnings.append(
                ResultWarning(
                    code=PREVIOUS_MEETING_NOT_REMOVED,
                    message=f"the booking moved to another organizer, but Graph refused to remove the previous organizer's "
                    f"{self.item} {item_id or '(its id not known)'} ({info.http_status} {escaped(info.code)}); its join link "
                    f"still works until the bridge may remove it (the record's next booking tries again), or until it is removed "
                    f"in {self.removed_by_hand} (for 403: {self.access_fix})",
                    http_status=info.http_status,
                    request_id=info.request_id,
                )
            )
            progress.left_behind.append((previous, item_id or UNKNOWN_MEETING))
            progress.previous_retired = True
        except GraphError:
            # Graph may answer later: the booking is retried, and meanwhile the state knows the old meeting.
            progress.left_behind.append((previous, item_id or UNKNOWN_MEETING))
            progress.previous_settled = progress.previous_retired = True
            raise
        progress.previous_settled = True


def live_under(state: RecordState | None, organizer_id: str) -> RecordState | None:
    """The record state, if the record's live meeting is under the organizer (neither cancelled nor moved away)."""
    return state if state is not None and not state.cancelled and state.organizer_id == organizer_id else None


def patched_found(patch: Callable[[], GraphResponse]) -> GraphResponse:
    """A PATCH of the meeting (or event) a lookup just found: one deleted between the two calls is Graph's failure
    for now, and the record's next delivery makes a new one."""
    try:
        return patch()
    except GraphRefused as error:
        if error.info.http_status == 404:
            raise GraphUnavailable(error.info, 1) from error
        raise


def unusable_response(response: GraphResponse, problem: str) -> GraphUnavailable:
    """A success the bridge cannot use: the call may succeed later (a later delivery), as any bad answer."""
    return GraphUnavailable(GraphErrorInfo(response.status, "InvalidResponse", problem, response.request_id), 1)


def meeting_in(response: GraphResponse) -> Meeting:
    """The onlineMeeting Graph answered with; GraphUnavailable if it is not one."""
    try:
        return meeting_from_graph(response.payload)
    except MalformedMeeting as error:
        raise unusable_response(response, str(error)) from error


def read_meeting(response: GraphResponse, progress: GraphProgress) -> Meeting:
    """The result's meeting, from the onlineMeeting Graph answered with: an invitation text left out for its size is
    said in a warning, once a delivery."""
    meeting = meeting_in(response)
    if meeting.join_information is None and not any(w.code == JOIN_INFORMATION_TOO_LARGE for w in progress.warnings):
        payload = response.payload
        if read_join_information(payload.get("joinInformation") if isinstance(payload, dict) else None).too_large:
            progress.warnings.append(
                ResultWarning(
                    code=JOIN_INFORMATION_TOO_LARGE,
                    message=f"Graph's invitation text (joinInformation) is larger than {MAX_JOIN_INFORMATION_BYTES} "
                    "bytes, so the result leaves it out; the meeting's joinWebUrl and dial-in details are complete",
                    request_id=response.request_id,
                )
            )
    return meeting


def repeats_cancel(booking: Booking, state: RecordState | None) -> bool:
    """A cancel the record state says was applied already (the same revision under the same organizer, a redelivery
    or a re-send, or any cancel without a revision): nothing was applied since, so there is no meeting to look for.
    A newer cancel looks again: a request Graph applied after the bridge gave up on it may have made one since."""
    if state is None or not state.cancelled or state.organizer_id != booking.organizer_id:
        return False
    return booking.revision is None or state.revision is None or booking.revision <= state.revision


def kept_booking(state: RecordState | None) -> Booking | None:
    """The booking the state says was applied last, if it was kept (and still reads: the store is ours, but bounded)."""
    if state is None or state.applied_booking is None:
        return None
    try:
        return parse_booking(state.applied_booking)
    except InvalidBooking:
        return None


def log_refusal(what: str, error: GraphError) -> None:
    logger.warning(
        "%s status=%s code=%s graphRequestId=%s",
        what,
        error.info.http_status,
        escaped(error.info.code),
        escaped(error.info.request_id),
    )
