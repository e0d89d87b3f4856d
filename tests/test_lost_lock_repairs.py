"""Lost session locks: two deliveries of one record overlap, and the newer booking must win in Graph too.

Each test pins a case an attack on the repair proved.

Two deliveries of one record overlap (the session lock was lost). The interleavings are forced with the
simulator's `delay_seconds` (Graph answers late and still applies the request after the delay), the same
way tests/test_answers_after_failures.py does it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.errors import PublishError
from shared.external_id import derive_external_id
from shared.result import ResultStatus
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking
from tests.conftest import HostInvoker
from tests.simulator_client import fetch_token

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


def in_background(host: HostInvoker, document: dict[str, Any], message_id: str) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            host.deliver(document, message_id=message_id)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def by_message(host: HostInvoker) -> dict[str, Any]:
    return {result.booking_message_id: result for result in host.sent.results()}


# 1. An older move that loses its lock must not delete the newer booking's live meeting: it looks at the state
#    again before touching the old organizer's meeting, and the repair applies the newer booking again.


def test_an_older_move_that_loses_its_lock_keeps_the_newer_bookings_meeting(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    graph.inject(Fault(delay_seconds=1.5))  # revision 2's first Graph call (the lock of the old meeting) is slow
    mover, errors = in_background(host, booking(revision=2, organizerId=SECOND_ORGANIZER), "move-2")
    time.sleep(0.4)  # lock lost: revision 3 (stays with the first organizer) runs on another invocation
    host.deliver(booking(revision=3, subject="Moved to the big room"), message_id="upsert-3")
    mover.join()

    results = by_message(host)
    assert errors == []
    assert results["move-2"].status is ResultStatus.SUPERSEDED
    newest = results["upsert-3"]
    assert newest.status is ResultStatus.UPDATED and newest.meeting is not None
    # Revision 3, the newest, was answered with a live meeting under the first organizer: Graph must hold it.
    assert [meeting["id"] for meeting in graph.meetings()] == [newest.meeting.id], graph.meetings()


# 2. The repair must leave the newest revision's values, not the ones the older delivery read before both:
#    the winner's kept booking is applied again after the undo.


def test_the_repair_leaves_the_newer_bookings_values_not_those_read_before_both(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1, subject="Revision one"), message_id="upsert-1")
    graph.inject(Fault())  # revision 2's createOrGet: normal (it reads subject "Revision one")
    graph.inject(Fault(delay_seconds=1.5))  # revision 2's PATCH is slow; Graph applies it after revision 3's
    loser, errors = in_background(host, booking(revision=2, subject="Revision two"), "upsert-2")
    time.sleep(0.4)
    host.deliver(booking(revision=3, subject="Revision three"), message_id="upsert-3")
    loser.join()

    assert errors == []
    results = by_message(host)
    assert results["upsert-2"].status is ResultStatus.SUPERSEDED
    assert results["upsert-3"].status is ResultStatus.UPDATED
    [meeting] = graph.meetings()
    assert meeting["subject"] == "Revision three", meeting["subject"]


# 3. The same for a cancel that loses to an upsert which changed the meeting options: the newer booking's
#    options must stand after the cancel's lock is undone.


def test_a_losing_cancels_unlock_keeps_the_newer_upserts_options(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1, options={"allowMeetingChat": "enabled"}), message_id="upsert-1")
    graph.inject(Fault())  # the cancel's lookup createOrGet: normal (chat enabled)
    graph.inject(Fault(delay_seconds=1.5))  # the cancel's lock PATCH is slow; Graph applies it after revision 3's
    canceller, errors = in_background(host, _cancel(revision=2), "cancel-2")
    time.sleep(0.4)
    host.deliver(booking(revision=3, options={"allowMeetingChat": "limited"}), message_id="upsert-3")
    canceller.join()

    assert errors == []
    results = by_message(host)
    assert results["cancel-2"].status is ResultStatus.SUPERSEDED
    assert results["upsert-3"].status is ResultStatus.UPDATED
    [meeting] = graph.meetings()
    assert meeting["allowMeetingChat"] == "limited", meeting["allowMeetingChat"]


# 4. A repair that fails is not lost: the state says it is due, and the record's next delivery does it.


def test_a_repair_that_graph_throttles_is_done_by_the_records_next_delivery(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1, subject="Revision one"), message_id="upsert-1")
    # Revision 2's createOrGet is slow and answered after revision 3 was applied (it reads "Revision three").
    graph.inject(Fault(delay_seconds=1.5))
    loser, errors = in_background(host, booking(revision=2, subject="Revision two"), "upsert-2")
    time.sleep(0.4)
    host.deliver(booking(revision=3, subject="Revision three"), message_id="upsert-3")
    graph.inject(Fault())  # revision 2's PATCH ("Revision two") goes through
    graph.inject(Fault(status=429, retry_after="600"))  # the undo PATCH is throttled for ten minutes
    loser.join()
    assert errors == []  # answered `superseded`; the state says the repair is still due

    host.wait_out_retry_after()
    host.deliver(booking(revision=2, subject="Revision two"), message_id="upsert-2", delivery_count=2)  # any delivery

    assert host.last_result().status is ResultStatus.SUPERSEDED
    [meeting] = graph.meetings()
    assert meeting["subject"] == "Revision three", meeting["subject"]


# 5. A meeting left behind that is the record's live meeting again must never be retired: move away from
#    organizer A (Graph refuses to remove the old meeting: left behind), move back to A (createOrGet under A
#    returns that same meeting, now live), then a stale re-send arrives.


def test_a_leftover_that_became_the_live_meeting_again_is_never_retired(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    first_meeting = host.last_result().meeting.id

    graph.inject(Fault())  # the new organizer's createOrGet goes through (a move creates first)...
    graph.inject(Fault(status=403))  # ...the old meeting's read (before its lock) is refused: left behind
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER), message_id="move-2")
    assert host.last_result().status is ResultStatus.CREATED

    graph.inject(Fault(status=403))  # the leftover retire is refused again (kept in the state)
    host.deliver(booking(revision=3, subject="Back with the first organizer"), message_id="back-3")
    back = host.last_result()
    assert back.status is ResultStatus.UPDATED and back.meeting.id == first_meeting  # createOrGet found it live

    host.deliver(booking(revision=1), message_id="stale-resend-1")  # a producer re-sends an old revision
    assert host.last_result().status is ResultStatus.SUPERSEDED

    # The record state says revision 3 is live with `first_meeting`; Graph must still hold it.
    assert [meeting["id"] for meeting in graph.meetings()] == [first_meeting], graph.deleted_meetings()[-1:]


def _cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


# 6. The record's own work (retiring a meeting left behind) is not the booking's: when a stale re-send that does
#    it is answered `superseded` and its publish fails, the state must not take the stale revision. (Found by the
#    stateful property test.)


def test_a_stale_resend_that_retires_a_leftover_and_fails_to_publish_leaves_the_state_alone(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    graph.deny_organizer(ORGANIZER_ID)
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER), message_id="move-2")  # old meeting left behind
    graph.allow_organizer(ORGANIZER_ID)

    host.sent.failures_to_inject = 1
    with pytest.raises(PublishError):
        host.deliver(booking(revision=1), message_id="stale-1")  # retires the leftover, then cannot publish
    host.deliver(booking(revision=1), message_id="stale-1", delivery_count=2)

    assert host.last_result().status is ResultStatus.SUPERSEDED
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER), message_id="move-2-again")
    assert host.last_result().status is ResultStatus.EXISTING
    assert [meeting["participants"]["organizer"]["identity"]["user"]["id"] for meeting in graph.meetings()] == [SECOND_ORGANIZER]


# 7. An older delivery that fails, not only one that succeeds, must not leave what it may have made: its createOrGet,
#    applied after a newer cancel and answered to nobody, made a meeting with its attendees.


def test_an_older_upsert_whose_lost_answer_made_a_meeting_after_a_cancel_leaves_no_meeting(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(Fault(delay_seconds=1.5, drop_after_processing=True))  # revision 1's createOrGet: applied late, unanswered
    graph.inject(Fault(times=2))  # revision 2's cancel: its lookup (none existed, so an empty one is made) and DELETE
    graph.inject(Fault(status=429, retry_after="600"))  # revision 1's retry of its createOrGet: gives up for now
    upsert, errors = in_background(host, booking(revision=1), "upsert-1")
    time.sleep(0.4)  # lock lost: revision 2 runs on another invocation
    host.deliver(_cancel(revision=2), message_id="cancel-2")
    upsert.join()
    host.wait_out_retry_after()
    if errors:  # redelivered: its next delivery is superseded
        host.deliver(booking(revision=1), message_id="upsert-1", delivery_count=2)
    host.deliver(_cancel(revision=3), message_id="cancel-3")

    assert by_message(host)["upsert-1"].status is ResultStatus.SUPERSEDED
    assert graph.meetings() == [], "a meeting with revision 1's attendees outlives the record's cancels"


# 8. A request Graph applies after the bridge gave up on it can make the record's meeting again after its cancel: the
#    record's next booking repairs it, a newer cancel too (only a repeat of the same cancel calls no Graph).


def test_a_newer_cancel_removes_a_meeting_a_late_request_made_after_the_records_cancel(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    host.deliver(_cancel(revision=2), message_id="cancel-2")
    token = fetch_token(graph).json()["access_token"]
    late = requests.post(  # revision 1's createOrGet, applied by Graph long after the bridge gave up on it
        f"{graph.graph_base_url}/users/{ORGANIZER_ID}/onlineMeetings/createOrGet",
        json={"externalId": EXTERNAL_ID, "subject": "Intro call with Contoso"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert late.status_code == 201

    host.deliver(_cancel(revision=3), message_id="cancel-3")

    assert host.last_result().status is ResultStatus.CANCELLED and host.last_result().meeting_existed is True
    assert graph.meetings() == []
