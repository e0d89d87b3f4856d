"""Per-record ordering: a booking older than the newest one applied must change nothing.

Sessions (session id = externalId) make Service Bus hand one record's messages to one
invocation at a time, in the order they were enqueued. That is not enough on its own: a
producer may re-send an old revision, a dead-lettered message may be replayed, and a
throttled booking comes back later as a scheduled copy. So the bridge also keeps, per
record, the last revision it applied and whether it was a cancel (shared.record_state),
and compares each booking with it before touching Graph.
"""

from __future__ import annotations

from shared.booking import Booking
from shared.record_state import RecordState, RecordStateStore, StateConflict


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


def applied_state(previous: RecordState | None, booking: Booking, external_id: str, meeting_id: str | None) -> RecordState:
    """The state to store once `booking` has been applied (a booking without a revision keeps the last one)."""
    revision = booking.revision if booking.revision is not None else (previous.revision if previous else None)
    return RecordState(
        external_id=external_id,
        revision=revision,
        cancelled=booking.action == "cancel",
        organizer_id=booking.organizer_id,
        meeting_id=None if booking.action == "cancel" else meeting_id,
    )


def commit(store: RecordStateStore, state: RecordState, expected: RecordState | None) -> None:
    """Store `state` if nobody wrote since `expected` was read.

    A conflict from a concurrent delivery of the same booking (same revision, same action) is not
    an error: both applied the same thing. Any other conflict is raised, so the booking is
    redelivered and compared again with what the other writer stored."""
    try:
        store.write(state, expected)
    except StateConflict:
        current = store.read(state.external_id)
        if current is not None and (current.revision, current.cancelled) == (state.revision, state.cancelled):
            return
        raise
