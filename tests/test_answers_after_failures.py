"""What a booking is answered after a failure part-way: a lost session lock, a Graph hiccup, an odd Graph body, a bad setting.

- A meeting a lost lock's repair could not remove stays in the record state and is retired by the record's next
  delivery; an older cancel that lost its lock never deletes the newer upsert's meeting (the cancel looks at the
  state again before its DELETE).
- A redelivered booking is answered as what it did: a cancel of a record that never had a meeting reports
  meetingExisted false, and a booking whose first delivery created the meeting is reported `created`.
- A wrong type in Graph's `participants` fails no booking whose meeting Graph created.
- A secret in a setting (a SAS signature, a password in a URL) is never quoted in the `failed` result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import shared.graph_client as graph_client_module
from shared.errors import ConfigurationError, GraphUnavailable
from shared.result import ResultStatus
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking, cancel_booking
from tests.conftest import HostInvoker


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with GraphSimulator(known_organizers=[ORGANIZER_ID]) as simulator:
        yield simulator


# A. Lost session lock + a failed undo: the repair's retire fails; the meeting must not stay live for good
#    (it is left in the record state, and the record's next delivery retires it).


def test_a_meeting_a_failed_repair_could_not_remove_is_retired_by_the_records_next_delivery(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(Fault(delay_seconds=1.5))  # revision 1's createOrGet is slow; Graph still applies it afterwards
    errors: list[BaseException] = []

    def slow_upsert() -> None:
        try:
            host.deliver(booking(revision=1), message_id="upsert-1")
        except BaseException as error:
            errors.append(error)

    upsert = threading.Thread(target=slow_upsert)
    upsert.start()
    time.sleep(0.4)  # lock lost: the session's next message runs on another invocation
    host.deliver(cancel_booking(revision=2), message_id="cancel-2")
    graph.inject(Fault(status=500))  # the repair's read of the meeting (before its lock) meets a Graph hiccup
    upsert.join()
    assert errors == []  # the meeting it could not remove is noted in the record state; the booking is answered
    by_message = {result.booking_message_id: result for result in host.sent.results()}
    assert by_message["upsert-1"].status is ResultStatus.SUPERSEDED
    assert len(graph.meetings()) == 1  # still there, for now

    host.deliver(cancel_booking(revision=2), message_id="cancel-2", delivery_count=2)  # the record's next delivery, any

    assert graph.meetings() == []


# B. Lost session lock the other way round: an older cancel's DELETE must not land after a newer upsert was
#    applied (the newer revision's meeting would be gone while the state and its result say it is live).


def test_an_older_cancel_that_loses_its_lock_leaves_the_newer_upserts_meeting(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1), message_id="upsert-1")
    assert len(graph.meetings()) == 1
    graph.inject(Fault())  # the cancel's lookup createOrGet: normal
    graph.inject(Fault(delay_seconds=1.5))  # the cancel's lock PATCH is slow (Graph applies it afterwards)
    errors: list[BaseException] = []

    def slow_cancel() -> None:
        try:
            host.deliver(cancel_booking(revision=2), message_id="cancel-2")
        except BaseException as error:
            errors.append(error)

    canceller = threading.Thread(target=slow_cancel)
    canceller.start()
    time.sleep(0.4)  # lock lost: revision 3 runs concurrently
    host.deliver(booking(revision=3, subject="Moved to the big room"), message_id="upsert-3")
    canceller.join()

    by_message = {result.booking_message_id: result for result in host.sent.results()}
    assert by_message["cancel-2"].status is ResultStatus.SUPERSEDED
    newest = by_message["upsert-3"]
    assert newest.status is not ResultStatus.FAILED and newest.meeting is not None
    # Revision 3 (the newest, an upsert) was answered with a live meeting; Graph holds none.
    assert [meeting["id"] for meeting in graph.meetings()] == [newest.meeting.id]


# C. A cancel of a record that never had a meeting: the lookup creates an empty one and its DELETE fails; the
#    redelivery must still report meetingExisted=false (the meeting it deletes is the bridge's own lookup's).


def test_a_redelivered_cancel_reports_a_meeting_that_never_existed(host: HostInvoker, graph: GraphSimulator) -> None:
    graph.inject(Fault())  # lookup createOrGet: normal (creates an empty meeting: none existed)
    graph.inject(Fault(status=500))  # its DELETE fails once
    with pytest.raises(GraphUnavailable):
        host.deliver(cancel_booking(revision=1), message_id="cancel-1")

    host.deliver(cancel_booking(revision=1), message_id="cancel-1", delivery_count=2)

    result = host.last_result()
    assert result.status is ResultStatus.CANCELLED
    assert result.meeting_existed is False  # no meeting existed for the record before this booking
    assert graph.meetings() == []


# D. A booking that created the meeting, then failed on the options PATCH, must be reported `created` on
#    redelivery, not `updated`.


def test_a_booking_that_created_the_meeting_is_reported_created_on_redelivery(host: HostInvoker, graph: GraphSimulator) -> None:
    document = booking(revision=1, options={"allowMeetingChat": "disabled"})
    graph.inject(Fault())  # createOrGet: 201, the meeting is created
    graph.inject(Fault(status=500))  # the options PATCH fails once
    with pytest.raises(GraphUnavailable):
        host.deliver(document, message_id="upsert-1")
    assert host.sent.results() == []

    host.deliver(document, message_id="upsert-1", delivery_count=2)

    (result,) = host.sent.results()
    assert result.status is ResultStatus.CREATED, result.status


# E. A wrong type in Graph's `participants` must not crash the change detection and dead-letter a booking whose
#    meeting Graph created.


def test_a_wrong_type_in_graphs_participants_still_answers_a_booking_whose_meeting_exists(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = graph_client_module._success

    def graph_responses_oddly(response, client_request_id, attempt):  # type: ignore[no-untyped-def]
        answer = original(response, client_request_id, attempt)
        if isinstance(answer.payload, dict):
            answer.payload["participants"] = {"attendees": ["ada@contoso.com"]}  # strings, not objects
        return answer

    monkeypatch.setattr(graph_client_module, "_success", graph_responses_oddly)

    host.deliver(booking(revision=1), message_id="upsert-1", delivery_count=10)  # must not raise a defect

    result = host.last_result()
    assert result.status in (ResultStatus.CREATED, ResultStatus.UPDATED), result.error
    assert len(graph.meetings()) == 1


# F. A secret in a setting (a table URI's SAS signature, a password in the Graph URL) must never be quoted in the
#    ConfigurationError, which reaches the log and the `failed` result.


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("RecordStateTableServiceUri", "https://contoso.table.core.windows.net/?sv=2022-11-02&sig=S3cr3tSig%3D", "S3cr3tSig"),
        ("GRAPH_BASE_URL", "https://bridge:Pa55w0rd@graph.microsoft.com/v1.0", "Pa55w0rd"),
    ],
)
def test_a_secret_in_a_bad_setting_is_never_quoted_in_the_failed_result(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch, name: str, value: str, secret: str
) -> None:
    if name == "RecordStateTableServiceUri":
        from shared.settings import RECORD_STATE_CONNECTION, RECORD_STATE_TABLE_SERVICE_URI

        monkeypatch.delenv(RECORD_STATE_CONNECTION, raising=False)
        name = RECORD_STATE_TABLE_SERVICE_URI
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError):
        host.deliver(booking(), delivery_count=10)

    result = host.last_result()
    assert result.status is ResultStatus.FAILED
    assert secret not in result.model_dump_json(by_alias=True)
