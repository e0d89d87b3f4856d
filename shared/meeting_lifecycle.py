"""A standalone meeting through Graph: createOrGet finds or creates the record's meeting, a PATCH brings it in line.

The standalone mode of shared.record_lifecycle, which holds the life both modes share (cancel, move, retire, undo).
createOrGet is idempotent per externalId and Graph's only lookup of a meeting by it; it never changes an existing
meeting, so the booking is compared with the meeting it returns and only what differs is PATCHed.
"""

from __future__ import annotations

from typing import Any

from shared.booking import Booking, Channel
from shared.errors import (
    ChannelCannotChange,
    GraphAccessDenied,
    GraphRefused,
)
from shared.meeting_changes import meeting_update, undoing
from shared.meeting_request import build_create_or_get_body
from shared.record_lifecycle import Found, GraphProgress, Held, Outcome, RecordLifecycle, meeting_in, patched_found, read_meeting
from shared.record_state import UNKNOWN_MEETING, RecordState
from shared.result import ResultStatus
from shared.wire_format import lookup_body


class MeetingLifecycle(RecordLifecycle):
    """The Graph side of a standalone booking, one at a time (thread-safe, stateless)."""

    calendar = False
    item = "meeting"
    removed_by_hand = "Teams"
    access_fix = GraphAccessDenied.fix
    lookup_creates = True

    def _upsert(
        self, booking: Booking, external_id: str, state: RecordState | None, progress: GraphProgress, deadline: float
    ) -> Outcome:
        """createOrGet, then PATCH whatever differs (and the options, which createOrGet does not take).

        The meeting goes into the booking's channel, else the one the record's meeting is in (the record state's). A
        booking into a channel whose meeting already exists in another chat is refused before any PATCH:
        createOrGet returned that meeting unchanged and chatInfo cannot be PATCHed, so nothing changed in Graph.
        The check reads the chat from the meeting Graph returns, so it needs no record state of its own."""
        _keep_channel(booking, state)
        organizer, language, channel = booking.organizer_id, booking.language, booking.channel
        placed = _in_records_channel(booking, state)
        body = build_create_or_get_body(placed, external_id)
        progress.held = Held(UNKNOWN_MEETING, calendar=False)
        try:
            response = self._graph.create_or_get(organizer, body, deadline, language=language)
        except GraphAccessDenied as error:
            if placed.channel is None:
                raise
            # Teams refuses a thread the organizer is not a member of with 403 (the create onlineMeeting
            # example's note: "should be a member of the channel represented by threadId"; Teams' thread ACL
            # answers 403 Forbidden, microsoftgraph/microsoft-graph-docs-contrib#9129). Redelivering cannot fix
            # that, and a missing access policy fails this organizer's other bookings too, so it is answered.
            raise GraphRefused(error.info) from error
        # A 200 after an attempt whose answer was lost is that attempt's meeting where the record had none before.
        progress.created = response.status == 201 or (response.repeated and not self._may_hold(state, organizer))
        progress.changed |= progress.created
        meeting = progress.meeting = read_meeting(response, progress)
        progress.held = Held(meeting.id, calendar=False)
        current = meeting.chat_thread_id
        if channel is not None and not progress.created and current and current.lower() != channel.thread_id.lower():
            raise ChannelCannotChange(channel.thread_id, current)
        status = ResultStatus.CREATED if progress.created else ResultStatus.EXISTING
        update = meeting_update(booking, response.payload)
        if not update:
            return Outcome(status, response.request_id, meeting)
        progress.patching = update.changed_fields
        patched = patched_found(
            lambda: self._graph.update_meeting(organizer, meeting.id, update.encoded(), deadline, language=language)
        )
        progress.applied()
        progress.undo.append((organizer, meeting.id, undoing(update, response.payload)))
        meeting = progress.meeting = read_meeting(patched, progress)
        if status is ResultStatus.EXISTING:
            status = ResultStatus.UPDATED
        return Outcome(status, patched.request_id, meeting, update.changed_fields)

    def _find(
        self, organizer_id: str, external_id: str, known: str | None, deadline: float, language: str | None
    ) -> tuple[Found | None, str | None]:
        """createOrGet with only the externalId, whatever the state knows: Graph's one lookup of a meeting by it. If
        none existed it makes one, empty and known to nobody (Found.existed False), which the caller removes."""
        response = self._graph.create_or_get(organizer_id, lookup_body(external_id), deadline, language=language)
        meeting = meeting_in(response)
        payload = response.payload if isinstance(response.payload, dict) else {}
        found = Found(meeting.id, payload, response.status == 200, response.request_id, response.repeated)
        return found, response.request_id

    def _find_by_id(self, organizer_id: str, item_id: str, deadline: float, language: str | None) -> Found | None:
        """The meeting the record state names, read (lobby and chat included) before it is locked: what the lock puts
        back, if a newer booking turns out to hold the meeting, is what the meeting had."""
        response = self._graph.get_meeting(organizer_id, item_id, deadline, language=language)
        if response is None:
            return None
        payload = response.payload if isinstance(response.payload, dict) else {}
        return Found(meeting_in(response).id, payload, request_id=response.request_id)

    def _teams_meeting(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> dict[str, Any]:
        return found.document or {"id": found.id}

    def _end(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> bool:
        return self._graph.delete_meeting(organizer_id, found.id, deadline, language=language)

    def _known(self, state: RecordState) -> str | None:
        return state.meeting_id


def _keep_channel(booking: Booking, state: RecordState | None) -> None:
    """A booking naming a channel other than the one the record's meeting is in is refused before any Graph call,
    under any organizer (a move must not become a way around it)."""
    channel, live = booking.channel, state is not None and not state.cancelled
    known = state.channel_thread_id if state is not None and live else None
    if channel is not None and known is not None and channel.thread_id.lower() != known.lower():
        raise ChannelCannotChange(channel.thread_id, known or "its own meeting chat (it was booked into no channel)")


def _in_records_channel(booking: Booking, state: RecordState | None) -> Booking:
    """The booking with the channel the record's meeting is in: a revision that names none leaves the meeting where
    it is, also when createOrGet makes it anew (under a new organizer, or after it was deleted)."""
    if booking.channel is not None or state is None or state.cancelled or not state.channel_thread_id:
        return booking
    return booking.model_copy(update={"channel": Channel.model_validate({"threadId": state.channel_thread_id})})
