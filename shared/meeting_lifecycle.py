"""Bring Teams in line with one booking: create, update, move or cancel its meeting through Graph.

Every step is safe to repeat, which is what makes redelivery harmless: createOrGet is idempotent
per externalId, a PATCH sets absolute values, and deleting a meeting that is already gone is
reported as such, not as an error. Graph's refusals are raised as the error kinds in shared.errors
and decided on by shared.failure_policy; what this booking has already done in Graph is kept in a
GraphProgress, so that a later failure neither forgets a meeting nor re-enqueues a half-applied
booking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.booking import Booking
from shared.errors import (
    ChannelCannotChange,
    GraphAccessDenied,
    GraphError,
    GraphErrorInfo,
    GraphRefused,
    GraphUnavailable,
    MalformedMeeting,
)
from shared.graph_client import GraphClient, GraphResponse
from shared.join_information import JOIN_INFORMATION_TOO_LARGE, MAX_JOIN_INFORMATION_BYTES, read_join_information
from shared.log_text import escaped
from shared.meeting import Meeting, meeting_from_graph
from shared.meeting_changes import meeting_update, undoing
from shared.meeting_request import build_create_or_get_body
from shared.record_state import UNKNOWN_MEETING, RecordState
from shared.result import ResultStatus, ResultWarning
from shared.wire_format import LOCK_BEFORE_DELETE, encoded, lookup_body

logger = logging.getLogger(__name__)

PREVIOUS_MEETING_NOT_REMOVED = "previous_meeting_not_removed"


@dataclass(frozen=True)
class Outcome:
    """What Graph now holds for the record, in the result's terms."""

    status: ResultStatus
    graph_request_id: str | None
    meeting: Meeting | None = None
    changed_fields: tuple[str, ...] = ()
    meeting_existed: bool | None = None


@dataclass
class GraphProgress:
    """What one delivery has done in Graph so far; kept when a later step fails.

    changed: Graph was written (a meeting created, patched or deleted).
    created: this delivery's createOrGet created the record's meeting (201), for an upsert.
    meeting_existed: for a cancel, whether its lookup found a meeting (None until it has looked).
    meeting: the record's meeting under the booking's organizer, once known (None after a cancel deleted it).
    previous_settled: the meeting of a moved booking's former organizer is gone or given up on.
    previous_retired: that meeting is gone (or noted as left behind): a partial state need not list it.
    undo: (organizer, meeting id, PATCH body) that put back what this delivery's PATCHes changed, in order.
    left_behind: (organizer, meeting id) of meetings Graph refused to remove now, for a later delivery to retire
        (events, for a calendar booking).
    undo_events: as undo, for a calendar booking's event PATCHes (shared.calendar_lifecycle).
    event_id: a calendar booking's event under the booking's organizer, once found or created.
    incarnation: the incarnation a calendar booking's event POST used (its transactionId), or found it used."""

    changed: bool = False
    created: bool = False
    meeting_existed: bool | None = None
    meeting: Meeting | None = None
    previous_settled: bool = True
    previous_retired: bool = False
    undo: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    left_behind: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[ResultWarning] = field(default_factory=list)
    undo_events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    event_id: str | None = None
    incarnation: int | None = None


class NewerBookingApplied(Exception):
    """A newer booking of the record was applied while this one was under way (its session lock was lost)."""


class MeetingLifecycle:
    """The Graph side of a booking, one at a time (thread-safe, stateless)."""

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
        language = booking.language
        if booking.action == "cancel":
            self._retire_previous(state, booking.organizer_id, progress, deadline, newer_applied, language)
            if state is not None and state.cancelled and state.organizer_id == booking.organizer_id:
                # Cancelled before and nothing applied since: no meeting to look for.
                return Outcome(ResultStatus.CANCELLED, None, meeting_existed=False)
            return self._cancel(booking.organizer_id, external_id, progress, deadline, newer_applied, language)
        _keep_channel(booking, state)
        outcome = self._upsert(booking, external_id, progress, deadline)
        self._retire_previous(state, booking.organizer_id, progress, deadline, newer_applied, language)
        return outcome

    def retire_unknown(
        self, organizer_id: str, external_id: str, progress: GraphProgress, deadline: float, *, language: str | None = None
    ) -> bool:
        """Retire the record's meeting under an organizer whose id the bridge never learned (looked up by externalId)."""
        return self.retire(
            organizer_id,
            self._look_up(organizer_id, external_id, progress, deadline, language),
            progress,
            deadline,
            language=language,
        )

    def retire(
        self, organizer_id: str, meeting_id: str, progress: GraphProgress, deadline: float, *, language: str | None = None
    ) -> bool:
        """Lock a meeting people may hold the link to, then delete it; False if it was already gone.

        Graph keeps a deleted meeting's join link working, so everyone but the organizer is first sent to a
        lobby nobody will open, with no chat."""
        if not self._lock(organizer_id, meeting_id, progress, deadline, language):
            return False
        deleted = self._graph.delete_meeting(organizer_id, meeting_id, deadline, language=language)
        progress.changed = True
        return deleted

    def reapply(self, booking: Booking, state: RecordState, progress: GraphProgress, deadline: float) -> Meeting:
        """Bring the record's meeting in line with an already applied booking again (createOrGet, then what differs)."""
        outcome = self._upsert(booking, state.external_id, progress, deadline)
        assert outcome.meeting is not None  # an upsert always ends with the meeting
        return outcome.meeting

    def undo(self, progress: GraphProgress, deadline: float, *, language: str | None = None) -> None:
        """Put back what this delivery's PATCHes changed, newest first (a meeting gone meanwhile is skipped)."""
        put_back(
            progress.undo,
            lambda organizer_id, meeting_id, body: self._graph.update_meeting(
                organizer_id, meeting_id, body, deadline, language=language
            ),
        )

    def _lock(self, organizer_id: str, meeting_id: str, progress: GraphProgress, deadline: float, language: str | None) -> bool:
        """The lobby locked to the organizer, chat off; False if the meeting is gone. A courtesy: any other
        refusal is logged and the caller deletes anyway."""
        try:
            self._graph.update_meeting(organizer_id, meeting_id, encoded(LOCK_BEFORE_DELETE), deadline, language=language)
            progress.changed = True
        except GraphError as error:
            if isinstance(error, GraphRefused) and error.info.http_status == 404:
                return False
            _log_refusal("could not lock the meeting before deleting it", error)
        return True

    def _upsert(self, booking: Booking, external_id: str, progress: GraphProgress, deadline: float) -> Outcome:
        """createOrGet, then PATCH whatever differs (and the options, which createOrGet does not take).

        A booking into a channel whose meeting already exists in another chat is refused before any PATCH:
        createOrGet returned that meeting unchanged and chatInfo cannot be PATCHed, so nothing changed in Graph.
        The check reads the chat from the meeting Graph returns, so it needs no record state of its own."""
        organizer, language, channel = booking.organizer_id, booking.language, booking.channel
        body = build_create_or_get_body(booking, external_id)
        try:
            response = self._graph.create_or_get(organizer, body, deadline, language=language)
        except GraphAccessDenied as error:
            if channel is None:
                raise
            # Teams refuses a thread the organizer is not a member of with 403 (the create onlineMeeting
            # example's note: "should be a member of the channel represented by threadId"; Teams' thread ACL
            # answers 403 Forbidden, microsoftgraph/microsoft-graph-docs-contrib#9129). Redelivering cannot fix
            # that, and a missing access policy fails this organizer's other bookings too, so it is answered.
            raise GraphRefused(error.info) from error
        progress.created = response.status == 201
        progress.changed |= progress.created
        meeting = progress.meeting = _meeting(response, progress)
        current = meeting.chat_thread_id
        if channel is not None and not progress.created and current and current.lower() != channel.thread_id.lower():
            raise ChannelCannotChange(channel.thread_id, current)
        status = ResultStatus.CREATED if response.status == 201 else ResultStatus.EXISTING
        update = meeting_update(booking, response.payload)
        if not update:
            return Outcome(status, response.request_id, meeting)
        try:
            patched = self._graph.update_meeting(organizer, meeting.id, update.encoded(), deadline, language=language)
        except GraphRefused as error:
            if error.info.http_status == 404:
                # Deleted between our two calls: the next delivery's createOrGet makes a new one.
                raise GraphUnavailable(error.info, 1) from error
            raise
        progress.changed = True
        progress.undo.append((organizer, meeting.id, undoing(update, response.payload)))
        meeting = progress.meeting = _meeting(patched, progress)
        if status is ResultStatus.EXISTING:
            status = ResultStatus.UPDATED
        return Outcome(status, patched.request_id, meeting, update.changed_fields)

    def _cancel(
        self,
        organizer_id: str,
        external_id: str,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool],
        language: str | None,
    ) -> Outcome:
        """Find the meeting by externalId (createOrGet is Graph's only lookup by it), lock it, delete it.

        If none existed, createOrGet has just made one, empty and known to nobody, which is deleted straight
        away: no meeting is left either way, and the result says whether there had been one. Just before the
        DELETE, which nothing can undo, the record state is read again: if a newer booking was applied
        meanwhile (this delivery's session lock was lost), the lock is undone and the meeting kept."""
        response = self._graph.create_or_get(organizer_id, lookup_body(external_id), deadline, language=language)
        existed = progress.meeting_existed = response.status == 200
        progress.changed |= not existed
        meeting = progress.meeting = _meeting(response, progress)
        if existed:
            if not self._lock(organizer_id, meeting.id, progress, deadline, language):
                progress.meeting = None
                return Outcome(ResultStatus.CANCELLED, response.request_id, meeting_existed=existed)
            progress.undo.append((organizer_id, meeting.id, _unlocking(response.payload)))
        if newer_applied():
            raise NewerBookingApplied
        self._graph.delete_meeting(organizer_id, meeting.id, deadline, language=language)
        progress.changed = True
        progress.undo.clear()
        progress.meeting = None
        return Outcome(ResultStatus.CANCELLED, response.request_id, meeting_existed=existed)

    def _retire_previous(
        self,
        state: RecordState | None,
        organizer_id: str,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool],
        language: str | None,
    ) -> None:
        """A booking moved to another organizer leaves a meeting under the old one: lock and delete it.

        If Graph will not let the bridge touch the old organizer's meetings any more (403, or another
        refusal), the move still goes ahead: the result carries a warning naming the meeting to remove by
        hand, rather than the record failing on every revision to come."""
        previous = state.organizer_id if state is not None else None
        if state is None or previous is None or previous == organizer_id:
            return
        if state.meeting_id is None and not state.meeting_unknown:
            return
        progress.previous_settled = False
        if newer_applied():  # the old organizer's meeting may be a newer booking's again: touch nothing
            raise NewerBookingApplied
        meeting_id = state.meeting_id
        try:
            if meeting_id is None:  # created once, its id never learned: createOrGet finds it (or makes one, to delete)
                meeting_id = self._look_up(previous, state.external_id, progress, deadline, language)
            if self._lock(previous, meeting_id, progress, deadline, language):
                if newer_applied():
                    raise NewerBookingApplied
                self._graph.delete_meeting(previous, meeting_id, deadline, language=language)
                progress.changed = True
            progress.previous_retired = True
        except (GraphAccessDenied, GraphRefused) as error:
            progress.warnings.append(_not_removed(error.info, meeting_id or "(its id not known)"))
            progress.left_behind.append((previous, meeting_id or UNKNOWN_MEETING))
            progress.previous_retired = True
            _log_refusal("could not remove the moved booking's previous meeting", error)
        except GraphError:
            # Graph may answer later: the booking is retried, and meanwhile the state knows the old meeting.
            progress.left_behind.append((previous, meeting_id or UNKNOWN_MEETING))
            progress.previous_settled = progress.previous_retired = True
            raise
        progress.previous_settled = True

    def _look_up(
        self, organizer_id: str, external_id: str, progress: GraphProgress, deadline: float, language: str | None
    ) -> str:
        """The id of the record's meeting under an organizer, found by externalId (createOrGet makes one if none
        existed: it is empty, and the caller retires it)."""
        response = self._graph.create_or_get(organizer_id, lookup_body(external_id), deadline, language=language)
        progress.changed |= response.status == 201
        return _meeting(response, progress).id


def put_back(undo: list[tuple[str, str, dict[str, Any]]], patch: Callable[[str, str, bytes], object]) -> None:
    """PATCH each recorded undo body, newest first, then forget them; what is gone meanwhile (404) is skipped."""
    for organizer_id, item_id, body in reversed(undo):
        if not body:
            continue
        try:
            patch(organizer_id, item_id, encoded(body))
        except GraphRefused as error:
            if error.info.http_status != 404:
                raise
    undo.clear()


def _keep_channel(booking: Booking, state: RecordState | None) -> None:
    """A booking naming a channel other than the one the record's meeting is in is refused before any Graph call,
    under any organizer (a move must not become a way around it)."""
    channel, live = booking.channel, state is not None and not state.cancelled
    known = state.channel_thread_id if state is not None and live else None
    if channel is not None and known is not None and channel.thread_id.lower() != known.lower():
        raise ChannelCannotChange(channel.thread_id, known or "its own meeting chat (it was booked into no channel)")


def _unlocking(meeting: Any) -> dict[str, Any]:
    """The lobby and chat settings the lock before a delete replaces, as the meeting had them."""
    document = meeting if isinstance(meeting, dict) else {}
    return {name: document[name] for name in LOCK_BEFORE_DELETE if document.get(name) is not None}


def _log_refusal(what: str, error: GraphError) -> None:
    logger.warning(
        "%s status=%s code=%s graphRequestId=%s",
        what,
        error.info.http_status,
        escaped(error.info.code),
        escaped(error.info.request_id),
    )


def _not_removed(info: GraphErrorInfo, meeting_id: str) -> ResultWarning:
    return ResultWarning(
        code=PREVIOUS_MEETING_NOT_REMOVED,
        message=f"the booking moved to another organizer, but Graph refused to remove the previous organizer's "
        f"meeting {meeting_id} ({info.http_status} {info.code}); its join link still works until the bridge may remove "
        f"it (the record's next booking tries again), or until it is deleted in Teams (for 403: {GraphAccessDenied.fix})",
        http_status=info.http_status,
        request_id=info.request_id,
    )


def _meeting(response: GraphResponse, progress: GraphProgress) -> Meeting:
    try:
        meeting = meeting_from_graph(response.payload)
    except MalformedMeeting as error:
        info = GraphErrorInfo(response.status, "InvalidResponse", str(error), response.request_id)
        raise GraphUnavailable(info, 1) from error
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
