"""A record's life through the function: create, update, options, cancel, ordering, policy, throttling.

Each test delivers bookings the way the host does (tests.conftest.HostInvoker), against the Graph
simulator over loopback, azure-identity's real managed-identity path and the state table in Azurite;
only ServiceBusSender.send_messages is intercepted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.errors import GraphThrottled, GraphUnavailable
from shared.external_id import derive_external_id
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY, requeued_copy
from shared.result import ResultStatus
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking, result_id
from tests.conftest import HostInvoker

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """This module's tenant has two organizers, so a booking can move from one to the other."""
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


def methods(graph: GraphSimulator) -> list[str]:
    return [request.method for request in graph.graph_requests()]


def test_a_reschedule_patches_both_times_and_reports_what_changed(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(booking(revision=4, start="2026-12-01T14:00:00+01:00", end="2026-12-01T14:45:00+01:00"))

    result = host.last_result()
    assert result.status is ResultStatus.UPDATED and result.changed_fields == ["start", "end"]
    patch = graph.graph_requests()[-1]
    assert patch.method == "PATCH" and patch.json == {
        "startDateTime": "2026-12-01T13:00:00Z",
        "endDateTime": "2026-12-01T13:45:00Z",
    }
    meeting = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)
    assert meeting is not None and meeting["startDateTime"].startswith("2026-12-01T13:00:00")
    assert result.meeting is not None and result.meeting.start == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert len(graph.meetings()) == 1


def test_an_unchanged_booking_is_existing_and_sends_no_patch(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(booking(revision=4))

    assert host.last_result().status is ResultStatus.EXISTING and host.last_result().changed_fields == []
    assert methods(graph) == ["POST", "POST"]


def test_an_attendee_change_sends_the_full_list(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3, attendees=[{"upn": "ada@contoso.com"}, {"upn": "bob@contoso.com"}]))
    host.deliver(booking(revision=4, attendees=[{"upn": "bob@contoso.com"}, {"upn": "eve@fabrikam.com"}]))

    assert host.last_result().changed_fields == ["attendees"]
    sent = graph.graph_requests()[-1].json["participants"]["attendees"]
    assert [attendee["upn"] for attendee in sent] == ["bob@contoso.com", "eve@fabrikam.com"]
    meeting = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)
    assert meeting is not None
    assert [attendee["upn"] for attendee in meeting["participants"]["attendees"]] == ["bob@contoso.com", "eve@fabrikam.com"]


def test_options_are_applied_after_creation(host: HostInvoker, graph: GraphSimulator) -> None:
    options = {"lobbyBypassSettings": {"scope": "invited"}, "allowMeetingChat": "limited", "recordAutomatically": True}
    host.deliver(booking(options=options))

    result = host.last_result()
    assert result.status is ResultStatus.CREATED
    assert result.changed_fields == ["options.lobbyBypassSettings", "options.allowMeetingChat", "options.recordAutomatically"]
    meeting = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)
    assert meeting is not None
    assert (meeting["lobbyBypassSettings"]["scope"], meeting["allowMeetingChat"], meeting["recordAutomatically"]) == (
        "invited",
        "limited",
        True,
    )
    host.deliver(booking(options=options))
    assert host.last_result().status is ResultStatus.EXISTING and methods(graph) == ["POST", "PATCH", "POST"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"allowMeetingChat": "sometimes"}, "options.allowMeetingChat"),
        ({"lobbyBypassSettings": {"scope": "unknownFutureValue"}}, "options.lobbyBypassSettings.scope"),
        ({"recordAutomatically": "yes"}, "options.recordAutomatically"),
        ({"allowedPresenter": "everyone"}, "options.allowedPresenter"),
    ],
)
def test_an_invalid_option_is_rejected_before_graph_is_called(
    host: HostInvoker, graph: GraphSimulator, options: dict[str, Any], field: str
) -> None:
    host.deliver(booking(options=options))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None
    assert [detail.field for detail in result.error.details] == [field]
    assert graph.graph_requests() == []


def test_cancel_locks_the_meeting_then_deletes_it(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(cancel(revision=4))

    result = host.last_result()
    assert result.status is ResultStatus.CANCELLED and result.meeting_existed is True and result.meeting is None
    assert methods(graph) == ["POST", "POST", "PATCH", "DELETE"]
    assert graph.graph_requests()[2].json["lobbyBypassSettings"]["scope"] == "organizer"
    assert graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID) is None
    [deleted] = graph.deleted_meetings()
    assert deleted["lobbyBypassSettings"]["scope"] == "organizer" and deleted["allowMeetingChat"] == "disabled"


def test_cancelling_a_record_that_never_had_a_meeting_leaves_none(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(cancel(revision=1))

    assert host.last_result().status is ResultStatus.CANCELLED and host.last_result().meeting_existed is False
    assert methods(graph) == ["POST", "DELETE"] and graph.meetings() == []


def test_cancelling_twice_is_a_success_without_calling_graph_again(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(cancel(revision=4))
    calls = len(graph.graph_requests())
    host.deliver(cancel(revision=4))

    assert host.last_result().status is ResultStatus.CANCELLED and host.last_result().meeting_existed is False
    assert len(graph.graph_requests()) == calls and graph.meetings() == []


def test_a_stale_revision_changes_nothing(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=5, subject="Newest"))
    host.deliver(booking(revision=4, subject="Older"))

    result = host.last_result()
    assert result.status is ResultStatus.SUPERSEDED and result.applied_revision == 5 and result.revision == 4
    assert methods(graph) == ["POST"]
    assert graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)["subject"] == "Newest"  # type: ignore[index]


def test_a_late_upsert_never_resurrects_a_cancelled_record(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(cancel(revision=4))
    host.deliver(booking(revision=3))
    host.deliver(booking(revision=4))

    assert [r.status for r in host.sent.results()][-2:] == [ResultStatus.SUPERSEDED, ResultStatus.SUPERSEDED]
    assert graph.meetings() == []
    host.deliver(booking(revision=5))
    assert host.last_result().status is ResultStatus.CREATED and len(graph.meetings()) == 1


def test_a_booking_moved_to_another_organizer_retires_the_old_meeting(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=3))
    host.deliver(booking(revision=4, organizerId=ORGANIZER_ID.upper()))  # the same organizer, spelt otherwise: no move
    assert graph.deleted_meetings() == []
    old = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)

    host.deliver(booking(revision=5, organizerId=SECOND_ORGANIZER))

    assert host.last_result().status is ResultStatus.CREATED
    assert graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID) is None and graph.meeting_for(SECOND_ORGANIZER, EXTERNAL_ID) is not None
    [retired] = graph.deleted_meetings()
    assert old is not None and retired["id"] == old["id"] and retired["lobbyBypassSettings"]["scope"] == "organizer"


def test_an_organizer_outside_the_allow_list_is_rejected_without_calling_graph(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORGANIZERS", f"lms={ORGANIZER_ID}, {SECOND_ORGANIZER}")
    host.deliver(booking())

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None and result.error.code == "organizer_not_allowed"
    assert graph.graph_requests() == [] and graph.token_requests() == []
    host.deliver(booking(source="lms"))
    assert host.last_result().status is ResultStatus.CREATED


def test_a_session_id_other_than_the_external_id_is_rejected(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(), session_id="BK-10023")

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error is not None and result.error.code == "invalid_session_id"
    assert EXTERNAL_ID in result.error.message and graph.graph_requests() == []
    host.deliver(booking(), session_id=EXTERNAL_ID)
    assert host.last_result().status is ResultStatus.CREATED


def test_a_long_throttle_reenqueues_a_scheduled_copy_and_completes_the_original(host: HostInvoker, graph: GraphSimulator) -> None:
    graph.inject(Fault(status=429, retry_after="120"))
    before = datetime.now(UTC)
    host.deliver(booking(), message_id="booking-1", session_id=EXTERNAL_ID, correlation_id="corr-1")  # returns: completed
    host.wait_out_retry_after()

    assert host.sent.results() == []
    [copy] = host.sent.requeued()
    assert copy.session_id == EXTERNAL_ID and copy.correlation_id == "corr-1" and copy.message_id != "booking-1"
    assert copy.application_properties == {ORIGINAL_MESSAGE_ID_PROPERTY: "booking-1", REQUEUE_COUNT_PROPERTY: 1}
    assert copy.scheduled_enqueue_time_utc is not None and (copy.scheduled_enqueue_time_utc - before).total_seconds() >= 120
    assert b"".join(copy.body) == booking_bytes()

    host.deliver(
        booking_bytes(),
        message_id=copy.message_id,
        session_id=EXTERNAL_ID,
        application_properties=dict(copy.application_properties),
    )
    result = host.last_result()
    assert result.status is ResultStatus.CREATED and result.booking_message_id == "booking-1"
    [(_, sent)] = [(entity, message) for entity, message in host.sent.messages if entity == "meeting-results"]
    assert sent.message_id == result_id("booking-1", booking(), ResultStatus.CREATED)


def test_reenqueueing_is_bounded(host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_THROTTLE_REQUEUES", "2")
    graph.inject(Fault(status=429, retry_after="120"))
    second_copy = requeued_copy(
        booking_bytes(), original_id="booking-1", count=2, session_id=None, correlation_id=None, delay_seconds=0
    )

    with pytest.raises(GraphThrottled):
        host.deliver(
            booking(), message_id=str(second_copy.message_id), application_properties=dict(second_copy.application_properties)
        )
    assert host.sent.requeued() == [] and host.sent.results() == []


def test_the_last_delivery_publishes_failed_before_the_message_is_dead_lettered(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKINGS_MAX_DELIVERY_COUNT", "3")
    graph.inject(Fault(status=500, times=2))

    with pytest.raises(GraphUnavailable):
        host.deliver(booking(), message_id="booking-1", delivery_count=2)
    assert host.sent.results() == []
    with pytest.raises(GraphUnavailable):
        host.deliver(booking(), message_id="booking-1", delivery_count=3)

    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error is not None and result.error.http_status == 500
    assert "gave up after 3 deliveries" in result.error.message and result.external_id == EXTERNAL_ID


def test_the_same_booking_on_many_threads_yields_one_meeting_and_one_result_id(host: HostInvoker, graph: GraphSimulator) -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            host.deliver(booking(), message_id="booking-1", session_id=EXTERNAL_ID)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(graph.meetings()) == 1
    assert {message.message_id for message in host.sent.to("meeting-results")} == {
        result_id("booking-1", booking(), ResultStatus.CREATED)
    }
    assert {result.status for result in host.sent.results()} <= {ResultStatus.CREATED, ResultStatus.EXISTING}


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def booking_bytes() -> bytes:
    return json.dumps(booking()).encode("utf-8")


def test_a_throttle_after_the_booking_changed_graph_is_redelivered_in_order_not_reenqueued(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the fault run: a re-enqueued cancel whose lock had landed let the next revision re-book a locked meeting.
    host.deliver(booking(revision=3))
    graph.inject(Fault(times=2))  # createOrGet and the lock go through...
    graph.inject(Fault(status=429, retry_after="120"))  # ...the DELETE is throttled for longer than the budget

    with pytest.raises(GraphThrottled):  # raised: Service Bus redelivers it first in its session
        host.deliver(cancel(revision=4), session_id=EXTERNAL_ID)
    host.wait_out_retry_after()

    assert host.sent.requeued() == [] and len(host.sent.results()) == 1  # revision 3's, nothing yet for the cancel
    host.deliver(cancel(revision=4), session_id=EXTERNAL_ID, delivery_count=2)  # the redelivery, first in its session
    assert host.last_result().status is ResultStatus.CANCELLED and graph.meetings() == []


def test_a_move_whose_old_meeting_cannot_be_retired_yet_is_redelivered_and_then_retires_it(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the fault run: a re-enqueued move let the next revision answer `existing` and orphan a meeting.
    host.deliver(booking(revision=3))
    graph.inject(Fault())  # the createOrGet under the new organizer goes through...
    # ...locking the old one is throttled, and this instance sends nothing more to Graph until the Retry-After is out.
    graph.inject(Fault(status=429, retry_after="120"))

    with pytest.raises(GraphUnavailable):  # redelivered in order: the booking already changed Graph
        host.deliver(booking(revision=4, organizerId=SECOND_ORGANIZER))
    host.wait_out_retry_after()
    assert host.sent.requeued() == [] and graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID) is not None

    host.deliver(booking(revision=4, organizerId=SECOND_ORGANIZER), delivery_count=2)
    assert graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID) is None and len(graph.meetings()) == 1
