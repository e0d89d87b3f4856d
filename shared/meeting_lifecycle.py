"""Bring Teams in line with one booking: create, update or cancel its meeting through Graph.

Every step is safe to repeat, which is what makes redelivery harmless: createOrGet is
idempotent per externalId, a PATCH sets absolute values, and deleting a meeting that is
already gone is reported as such, not as an error.

A long throttle normally re-enqueues the booking for later (shared.requeue). Once this
booking has already changed something in Graph, that would let the record's next revision
overtake a half-applied one (a locked but undeleted meeting, a moved meeting whose old copy
is still live), so a throttle after a write is raised as an ordinary transient error
instead: Service Bus redelivers it first in its session, before anything newer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from shared.booking import Booking
from shared.errors import GraphErrorInfo, GraphPermanentError, GraphThrottled, GraphTransientError
from shared.graph_client import GraphClient, GraphResponse
from shared.meeting import MalformedMeeting, Meeting, meeting_from_graph
from shared.meeting_changes import meeting_update
from shared.meeting_request import build_create_or_get_body
from shared.result import ResultStatus

logger = logging.getLogger(__name__)

# Before a cancelled meeting is deleted: Graph keeps a deleted meeting's join link working,
# so first send everyone but the organizer to a lobby nobody will open, with no chat.
LOCK_BEFORE_DELETE = {
    "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
    "allowMeetingChat": "disabled",
}


@dataclass(frozen=True)
class Outcome:
    """What Graph now holds for the record, in the result's terms."""

    status: ResultStatus
    graph_request_id: str | None
    meeting: Meeting | None = None
    changed_fields: tuple[str, ...] = ()
    meeting_existed: bool | None = None
    error: GraphErrorInfo | None = None


class MeetingLifecycle:
    """The Graph side of upsert and cancel, for one booking at a time (thread-safe, stateless)."""

    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    def upsert(self, booking: Booking, external_id: str, deadline: float) -> Outcome:
        """createOrGet, then PATCH whatever differs (and the options, which createOrGet does not take)."""
        organizer = booking.organizer_id
        try:
            response = self._graph.create_or_get(organizer, build_create_or_get_body(booking, external_id), deadline)
        except GraphPermanentError as error:
            return Outcome(ResultStatus.FAILED, error.info.request_id, error=error.info)
        meeting = _meeting(response)
        update = meeting_update(booking, response.payload)
        status = ResultStatus.CREATED if response.status == 201 else ResultStatus.EXISTING
        if not update:
            return Outcome(status, response.request_id, meeting)
        try:
            patched = self._graph.update_meeting(organizer, meeting.id, update.encoded(), deadline)
        except GraphThrottled as error:
            if response.status == 201:
                raise _in_order(error) from error
            raise
        except GraphPermanentError as error:
            if error.info.http_status == 404:
                # Deleted between our two calls: the next delivery's createOrGet makes a new one.
                raise GraphTransientError(error.info, 1) from error
            return Outcome(ResultStatus.FAILED, error.info.request_id, meeting, error=error.info)
        if status is ResultStatus.EXISTING:
            status = ResultStatus.UPDATED
        return Outcome(status, patched.request_id, _meeting(patched), update.changed_fields)

    def cancel(self, organizer_id: str, external_id: str, deadline: float) -> Outcome:
        """Find the meeting by externalId (createOrGet is Graph's only lookup by it), lock it, delete it.

        If none existed, createOrGet has just made one, which is deleted straight away: no meeting is left
        either way, and the result says whether there had been one."""
        try:
            response = self._graph.create_or_get(organizer_id, _lookup_body(external_id), deadline)
        except GraphPermanentError as error:
            return Outcome(ResultStatus.FAILED, error.info.request_id, error=error.info)
        meeting = _meeting(response)
        existed = response.status == 200
        if existed:
            self.retire(organizer_id, meeting.id, deadline)
        else:
            try:
                self._delete(organizer_id, meeting.id, deadline)
            except GraphThrottled as error:
                raise _in_order(error) from error
        return Outcome(ResultStatus.CANCELLED, response.request_id, meeting_existed=existed)

    def retire(self, organizer_id: str, meeting_id: str, deadline: float, *, after_write: bool = False) -> bool:
        """Lock a meeting people may hold the link to, then delete it; False if it was already gone.

        after_write: this booking has already changed Graph (a move to another organizer)."""
        try:
            self._graph.update_meeting(organizer_id, meeting_id, _encoded(LOCK_BEFORE_DELETE), deadline)
        except GraphThrottled as error:
            if after_write:
                raise _in_order(error) from error
            raise
        except GraphPermanentError as error:
            if error.info.http_status == 404:
                return False
            # Locking is a courtesy; deleting is the requirement. Go on, and say so.
            logger.warning(
                "could not lock the meeting before deleting it status=%s code=%s graphRequestId=%s",
                error.info.http_status,
                error.info.code,
                error.info.request_id,
            )
        try:
            return self._delete(organizer_id, meeting_id, deadline)
        except GraphThrottled as error:
            raise _in_order(error) from error

    def _delete(self, organizer_id: str, meeting_id: str, deadline: float) -> bool:
        try:
            return self._graph.delete_meeting(organizer_id, meeting_id, deadline)
        except GraphPermanentError as error:
            # A refused delete leaves a meeting that should not exist: keep the booking for redelivery.
            raise GraphTransientError(error.info, 1) from error


def _in_order(error: GraphThrottled) -> GraphTransientError:
    """The same throttle, as an error Service Bus redelivers in session order rather than one re-enqueued."""
    return GraphTransientError(error.info, error.attempts)


def _meeting(response: GraphResponse) -> Meeting:
    try:
        return meeting_from_graph(response.payload)
    except MalformedMeeting as error:
        info = GraphErrorInfo(response.status, "InvalidResponse", str(error), response.request_id)
        raise GraphTransientError(info, 1) from error


def _lookup_body(external_id: str) -> bytes:
    return _encoded({"externalId": external_id})


def _encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
