"""Bring the organizer's Outlook calendar in line with one calendar booking: its event, and the event's Teams meeting.

The calendar mode of shared.record_lifecycle, which holds the life both modes share (cancel, move, retire, undo), so
the pipeline runs either mode the same way. Every step is safe to repeat:
- the record's event is found again by its id, else by the extended property holding the externalId
  (shared.event_request), before anything is created: a POST whose answer was lost is found, not repeated;
- the POST carries a transactionId per incarnation of the record's event, so Graph makes no second event for a
  retried POST; a POST that follows a lookup that found no live event (a record cancelled, moved away and back,
  its event deleted in Outlook) is a new incarnation, so it never repeats the transactionId of a dead event;
- a PATCH sets absolute values; cancel and DELETE of an event that is gone report it as such.

The event's Teams meeting (the result's join details, and the options) is the onlineMeeting whose JoinWebUrl is the
event's join URL. Graph may refuse options on a calendar-backed meeting: the result then warns which ones were not
applied, rather than failing a booking whose event exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from shared.booking import ROLES_NEEDING_USER_ID, Booking
from shared.errors import GraphErrorInfo, GraphRefused, GraphUnavailable
from shared.event_request import (
    another_incarnation,
    build_event_body,
    cancel_body,
    event_instant,
    event_update,
    external_id_filter,
    first_incarnation,
    has_attendees,
    invited,
    join_url,
    join_url_filter,
    transaction_id,
)
from shared.graph_client import GraphClient, GraphResponse
from shared.meeting import MAX_GRAPH_TEXT_LENGTH, Meeting, addressable
from shared.meeting_changes import options_update, undoing
from shared.meeting_lifecycle import MeetingLifecycle
from shared.record_lifecycle import (
    Found,
    GraphProgress,
    Held,
    Outcome,
    RecordLifecycle,
    kept_booking,
    live_under,
    log_refusal,
    patched_found,
    read_meeting,
    unusable_response,
)
from shared.record_state import UNKNOWN_MEETING, RecordState
from shared.result import ResultStatus, ResultWarning

# Rejection codes (the result's error.code) and a warning code, defined once.
CALENDAR_NOT_ENABLED = "calendar_not_enabled"
CALENDAR_MODE_CHANGED = "calendar_mode_changed"
OPTIONS_NOT_APPLIED = "options_not_applied"


def uses_calendar(booking: Booking, state: RecordState | None) -> bool:
    """Whether the booking is handled as a calendar booking: a cancel follows the record's live meeting."""
    if booking.action == "cancel" and state is not None and not state.cancelled:
        return state.calendar
    return booking.calendar is not None


def changes_mode(booking: Booking, state: RecordState | None) -> bool:
    """An upsert that adds or drops `calendar` while the record has (or may have) a meeting in the other mode, or
    that turns `sendInvitations` off while Exchange has invited attendees to the record's event.

    Refused rather than converted: converting would cancel a meeting people hold and send them a new one, and taking
    invited attendees off the event (or cancelling it, for a move) mails each of them a cancellation while the meeting
    and its join link stay; the source should decide that by cancelling and booking again (a cancelled record may
    change mode). Turning invitations on is no change of mode: Exchange invites the attendees from then on."""
    if booking.action != "upsert" or state is None or (state.cancelled and not state.leftovers):
        return False
    if state.calendar != (booking.calendar is not None):
        return True
    return not invited(booking) and invitations_sent(state)


def invitations_sent(state: RecordState) -> bool:
    """Whether Exchange invited attendees to the record's live event. A state stored before the bridge kept
    `Invitations` leaves it out; the booking it keeps, the upsert applied last, whose invitations the event carries,
    says it then (a state without that booking, too large to keep, does not say, and is taken as not invited)."""
    if state.cancelled or not state.calendar:
        return False
    if state.invitations:
        return True
    kept = kept_booking(state)
    return kept is not None and bool(invited(kept))


def cancels_in_both_modes(booking: Booking, state: RecordState | None) -> bool:
    """A cancel the record state cannot place: no state (never booked, or the table was lost), or a cancelled one under
    another organizer. The record may have a meeting in either mode there, and a cancel names no mode: look for both.
    (A repeat of a cancel under the same organizer still costs no Graph call: shared.record_lifecycle.repeats_cancel.)"""
    if booking.action != "cancel":
        return False
    return state is None or (state.cancelled and state.organizer_id != booking.organizer_id)


def next_incarnation(state: RecordState | None, booking: Booking, external_id: str) -> int:
    """The incarnation of a new event: one more than the last the record state knows of, else the booking's first one
    (without a state, or with one from before incarnations were counted, which did not say which were used)."""
    return state.incarnation + 1 if state is not None and state.incarnation else first_incarnation(external_id, booking)


def with_mode(stored: RecordState, booking: Booking, previous: RecordState | None, progress: GraphProgress) -> RecordState:
    """The state to store, with the record's mode, its event and its incarnation.

    The event is the one this delivery found or created, else (its answer lost) the one the state knew under the
    organizer. A leftover that is that event is the record's live event again, never a leftover to retire. Whether
    Exchange invited the event's attendees is kept, for changes_mode."""
    calendar = uses_calendar(booking, previous)
    held = progress.held.item_id if progress.held is not None and progress.held.calendar and progress.held.known else None
    live = live_under(previous, booking.organizer_id)
    event_id = None if stored.cancelled or not calendar else held or (live.event_id if live is not None else None)
    # A failed cancel leaves the event as it was, invitations and all.
    invitations = bool(invited(booking)) if booking.action == "upsert" else previous is not None and invitations_sent(previous)
    return replace(
        stored,
        calendar=calendar,
        event_id=event_id,
        invitations=calendar and not stored.cancelled and invitations,
        incarnation=max(progress.incarnation or 0, previous.incarnation if previous is not None else 0),
        leftovers=tuple(leftover for leftover in stored.leftovers if leftover[:2] != (booking.organizer_id, event_id)),
    )


def mode_change_refusal(booking: Booking, state: RecordState) -> str:
    if state.calendar == (booking.calendar is not None):
        return (
            "this revision has `calendar.sendInvitations` false, but Exchange invited the attendees to the record's "
            "event: turning invitations off would mail each of them a cancellation while the meeting stays; a record "
            "keeps its mode: cancel the record and book it again (a newer revision) to change it"
        )
    now, before = ("with", "without") if booking.calendar is not None else ("without", "with")
    return (
        f"this revision is {now} `calendar`, but the record's meeting was made {before} it; a record keeps its mode: "
        "cancel the record and book it again (a newer revision) to change it"
    )


class CalendarLifecycle(RecordLifecycle):
    """The Graph side of a calendar booking, one at a time (thread-safe, stateless).

    A cancel the record state cannot place (cancels_in_both_modes) cancels the record's standalone meeting too, if it
    has one."""

    calendar = True
    item = "event"
    removed_by_hand = "Outlook"
    access_fix = "grant the identity Calendars.ReadWrite for the organizer's mailbox (docs/infrastructure.md)"
    lookup_creates = False

    def __init__(self, graph: GraphClient) -> None:
        super().__init__(graph)
        self._meetings = MeetingLifecycle(graph)

    def _upsert(
        self, booking: Booking, external_id: str, state: RecordState | None, progress: GraphProgress, deadline: float
    ) -> Outcome:
        """Find the record's event (or create it), PATCH what differs, then the options on its Teams meeting."""
        organizer, language = booking.organizer_id, booking.language
        found, request_id = self._find(organizer, external_id, self._known_under(state, organizer), deadline, language)
        status = ResultStatus.EXISTING
        changed: tuple[str, ...] = ()
        if found is None:
            # No live event: a new incarnation, whose transactionId no dead event of the record holds. A retry of this
            # POST (its answer lost) repeats the body, and a later delivery's lookup finds what it made.
            response = self._create(booking, external_id, next_incarnation(state, booking, external_id), progress, deadline)
            event, request_id, status = _event(response), response.request_id, ResultStatus.CREATED
            progress.held = Held(event["id"], calendar=True)
        else:
            event = found.document
            progress.held = Held(event["id"], calendar=True)
            if state is not None and event.get("transactionId") == transaction_id(external_id, state.incarnation + 1):
                # Made by a delivery whose state write was lost: its incarnation is used.
                progress.incarnation = state.incarnation + 1
            update = event_update(booking, event)
            if update:
                progress.patching = update.changed_fields
                patched = patched_found(
                    lambda: self._graph.update_event(organizer, event["id"], update.encoded(), deadline, language=language)
                )
                progress.applied()
                event, request_id, status = _event(patched), patched.request_id, ResultStatus.UPDATED
                changed = update.changed_fields
        online = self._online_meeting(organizer, event, deadline, language)
        meeting = progress.meeting = _meeting(online, event, progress)
        applied = self._apply_options(booking, organizer, online.payload, progress, deadline)
        if applied and status is ResultStatus.EXISTING:
            status = ResultStatus.UPDATED
        return Outcome(status, request_id, meeting, (*changed, *applied))

    def _create(
        self, booking: Booking, external_id: str, incarnation: int, progress: GraphProgress, deadline: float
    ) -> GraphResponse:
        """POST the record's event with this incarnation's transactionId.

        Graph may keep a transactionId after its event was cancelled, and answer a POST that repeats it with that dead
        event: the record booked this revision before its state was lost. Another incarnation then makes a new event."""
        organizer, language = booking.organizer_id, booking.language
        progress.held = Held(UNKNOWN_MEETING, calendar=True)
        for attempt in (incarnation, another_incarnation()):
            progress.incarnation = attempt
            body = build_event_body(booking, external_id, attempt)
            response = self._graph.create_event(organizer, body, deadline, language=language)
            progress.created = progress.changed = True
            if not (isinstance(response.payload, dict) and response.payload.get("isCancelled") is True):
                break
        return response

    def _cancel(
        self,
        booking: Booking,
        external_id: str,
        state: RecordState | None,
        progress: GraphProgress,
        deadline: float,
        newer_applied: Callable[[], bool],
    ) -> Outcome:
        """Lock the event's meeting, then cancel the event (attendees are told) or delete it (nobody was invited).

        A cancel the state cannot place cancels the record's standalone meeting and its event, whichever it has."""
        if not cancels_in_both_modes(booking, state):
            return super()._cancel(booking, external_id, state, progress, deadline, newer_applied)
        standalone = self._meetings.apply(booking, external_id, state, progress, deadline, newer_applied)
        calendar = super()._cancel(booking, external_id, state, progress, deadline, newer_applied)
        existed = progress.meeting_existed = bool(standalone.meeting_existed or calendar.meeting_existed)
        found = calendar if calendar.meeting_existed or not standalone.meeting_existed else standalone
        return Outcome(ResultStatus.CANCELLED, found.graph_request_id, meeting_existed=existed)

    def _retire_unknown(
        self,
        organizer_id: str,
        external_id: str,
        progress: GraphProgress,
        deadline: float,
        language: str | None,
        keep: str | None,
    ) -> bool:
        """Retire the record's events under an organizer, found by the externalId property, but `keep`: two deliveries
        at once may each have made one."""
        ended = False
        for event in self._live_events(organizer_id, external_id, deadline, language)[0]:
            if event.id != keep:
                ended |= self._retire_found(organizer_id, event, progress, deadline, language)
        return ended

    def _find(
        self, organizer_id: str, external_id: str, known: str | None, deadline: float, language: str | None
    ) -> tuple[Found | None, str | None]:
        """The record's live event under the organizer: by its known id, else by the externalId property."""
        if known is not None:
            found = self._find_by_id(organizer_id, known, deadline, language)
            if found is not None:
                return found, found.request_id
        live, request_id = self._live_events(organizer_id, external_id, deadline, language)
        return (live[0] if live else None), request_id

    def _live_events(
        self, organizer_id: str, external_id: str, deadline: float, language: str | None
    ) -> tuple[list[Found], str | None]:
        """The record's live events under the organizer, found by the externalId property."""
        response = self._graph.find_events(organizer_id, external_id_filter(external_id), deadline, language=language)
        values = response.payload.get("value") if isinstance(response.payload, dict) else None
        live = [event for event in values if _live(event)] if isinstance(values, list) else []
        return [Found(event["id"], event, request_id=response.request_id) for event in live], response.request_id

    def _find_by_id(self, organizer_id: str, item_id: str, deadline: float, language: str | None) -> Found | None:
        response = self._graph.get_event(organizer_id, item_id, deadline, language=language)
        if response is None or not _live(response.payload):
            return None
        return Found(response.payload["id"], response.payload, request_id=response.request_id)

    def _teams_meeting(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> dict[str, Any]:
        return self._online_meeting(organizer_id, found.document, deadline, language).payload

    def _end(self, organizer_id: str, found: Found, deadline: float, language: str | None) -> bool:
        """Cancel an event with attendees (Exchange sends them the cancellation), delete one without."""
        event = found.document
        if not has_attendees(event):
            return self._graph.delete_event(organizer_id, event["id"], deadline, language=language)
        try:
            return self._graph.cancel_event(organizer_id, event["id"], cancel_body(), deadline, language=language)
        except GraphRefused:
            # A cancel retried after its answer was lost may be refused as already done: look before failing.
            again = self._graph.get_event(organizer_id, event["id"], deadline, language=language)
            if again is not None and _live(again.payload):
                raise
            return True

    def _known(self, state: RecordState) -> str | None:
        return state.event_id

    def _online_meeting(self, organizer_id: str, event: dict[str, Any], deadline: float, language: str | None) -> GraphResponse:
        """The event's Teams meeting, found by its join URL (the lookup's response, with the meeting as its payload);
        GraphUnavailable while Exchange has not made it yet.

        Every use of the event's meeting (the result, the options, the lock before a cancel) takes it from here: the
        listed onlineMeeting whose joinWebUrl is the event's join URL and whose id the bridge can address. The lookup's
        answer is outside input: a meeting listed that is not the event's (another record's), or one without a usable
        id, is not the event's meeting; if none is, the meeting is not found (yet)."""
        url = join_url(event)
        if url is None:
            raise GraphUnavailable(GraphErrorInfo(None, "OnlineMeetingNotReady", "the event has no Teams join URL yet"), 1)
        response = self._graph.find_online_meetings(organizer_id, join_url_filter(url), deadline, language=language)
        values = response.payload.get("value") if isinstance(response.payload, dict) else None
        listed = values if isinstance(values, list) else []
        own = next((meeting for meeting in listed if addressable(meeting) and _same_link(meeting["joinWebUrl"], url)), None)
        if own is None:
            problem = "no onlineMeeting with a usable id has the event's join URL yet"
            info = GraphErrorInfo(response.status, "OnlineMeetingNotFound", problem, response.request_id)
            raise GraphUnavailable(info, 1)
        return replace(response, payload=own)

    def _apply_options(
        self, booking: Booking, organizer_id: str, online: dict[str, Any], progress: GraphProgress, deadline: float
    ) -> tuple[str, ...]:
        """PATCH the options that differ on the event's meeting; if Graph refuses, warn instead of failing."""
        roles = sorted({attendee.role for attendee in booking.attendees if attendee.role in ROLES_NEEDING_USER_ID})
        if roles:
            progress.warnings.append(
                ResultWarning(
                    code=OPTIONS_NOT_APPLIED,
                    message=f"attendees' roles ({', '.join(roles)}) are not applied to a calendar booking: an Outlook "
                    "event has no roles; options.allowedPresenters decides who presents",
                )
            )
        options = options_update(booking, online)
        if not options:
            return ()
        fields = progress.patching = options.changed_fields
        try:
            self._graph.update_meeting(organizer_id, online["id"], options.encoded(), deadline, language=booking.language)
        except GraphRefused as error:
            progress.patching = ()
            log_refusal("Graph refused options on a calendar booking's meeting", error)
            progress.warnings.append(
                ResultWarning(
                    code=OPTIONS_NOT_APPLIED,
                    message=f"Graph refused the options {', '.join(fields)} on the event's Teams meeting "
                    f"({error.info.http_status} {error.info.code}); the event and its meeting exist without them",
                    http_status=error.info.http_status,
                    request_id=error.info.request_id,
                )
            )
            return ()
        progress.applied()
        progress.undo.append((organizer_id, online["id"], undoing(options, online)))
        return fields


def _live(event: Any) -> bool:
    """An event Graph returned that is the record's and not cancelled (a cancelled one waits in Deleted Items)."""
    if not isinstance(event, dict):
        return False
    event_id = event.get("id")
    return isinstance(event_id, str) and 0 < len(event_id) <= MAX_GRAPH_TEXT_LENGTH and event.get("isCancelled") is not True


def _same_link(listed: str, event_url: str) -> bool:
    """Whether an onlineMeeting's joinWebUrl is an event's join URL: compared percent-decoded, as one link's escapes
    (the thread id's `%3a`, `%40`) may be written with hex digits in either case."""
    return listed == event_url or unquote(listed) == unquote(event_url)


def _event(response: GraphResponse) -> dict[str, Any]:
    if not _live(response.payload):
        raise unusable_response(response, "the success response is not a live event")
    return response.payload


def _meeting(online: GraphResponse, event: dict[str, Any], progress: GraphProgress) -> Meeting:
    """The result's meeting: join details from the Teams meeting; subject and times from the event, which owns them."""
    meeting = read_meeting(online, progress)
    subject = event.get("subject")
    return meeting.model_copy(
        update={
            "event_id": event["id"],
            "subject": subject if isinstance(subject, str) and len(subject) <= MAX_GRAPH_TEXT_LENGTH else None,
            "start": event_instant(event, "start"),
            "end": event_instant(event, "end"),
        }
    )
