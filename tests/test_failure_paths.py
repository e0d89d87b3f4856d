"""Every booking ends in one truthful result: the failure paths an attack on the bridge found.

Each test names the defect it pins. They run through create_meeting as the host calls it, with Graph
on loopback (the simulator), the state table on Azurite and the Service Bus leg intercepted at the SDK.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import ConfigurationError, GraphAccessDenied, GraphThrottled, GraphUnavailable, PublishError
from shared.external_id import derive_external_id
from shared.record_lifecycle import PREVIOUS_MEETING_NOT_REMOVED
from shared.requeue import ORIGINAL_MESSAGE_ID_PROPERTY, REQUEUE_COUNT_PROPERTY
from shared.result import ResultStatus
from shared.retry_policy import MAX_ATTEMPTS
from simulator import Fault, GraphSimulator
from simulator.graph_errors import _FAULT_CODES
from tests.bookings import ORGANIZER_ID, booking, encode, result_id
from tests.conftest import HostInvoker

EXTERNAL_ID = derive_external_id("crm-eu", "BK-10023")
SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """Two organizers, so that a booking can move from one to the other."""
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


def cancel(**overrides: Any) -> dict[str, Any]:
    document = booking(action="cancel", **overrides)
    for name in ("subject", "start", "end", "attendees"):
        document.pop(name)
    return document


def live_meetings(graph: GraphSimulator) -> list[tuple[str, str]]:
    return [
        (meeting["participants"]["organizer"]["identity"]["user"]["id"], meeting["externalId"]) for meeting in graph.meetings()
    ]


# 1. Valid-looking input must not escape as an unexpected exception.


def test_a_revision_beyond_int64_is_rejected_before_graph_is_called(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=2**63))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert [detail.field for detail in result.error.details] == ["revision"]
    assert graph.graph_requests() == []


@pytest.mark.parametrize(
    ("start", "end"),
    [("9999-12-31T22:00:00-12:00", "9999-12-31T23:00:00-12:00"), ("0001-01-01T00:00:00+14:00", "0001-01-01T00:30:00+14:00")],
)
def test_times_whose_utc_form_leaves_years_1_to_9999_are_rejected(host: HostInvoker, graph: GraphSimulator, start, end) -> None:
    host.deliver(booking(start=start, end=end))

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert any("years 1 to 9999" in detail.reason for detail in result.error.details)
    assert graph.graph_requests() == []


def test_an_http_date_retry_after_near_year_9999_is_answered_failed_not_overflowed(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(Fault(status=429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT"))
    host.deliver(booking(), delivery_count=10)  # returns: answered, not dead-lettered

    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error.http_status == 429
    assert "send the booking again later" in result.error.message
    assert host.sent.requeued() == []


def test_whatever_escapes_the_last_delivery_still_publishes_failed(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    subject = booking()["subject"]

    def defect(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(subject)  # a defect whose text quotes personal data

    monkeypatch.setattr("shared.meeting_lifecycle.meeting_update", defect)
    with caplog.at_level(logging.ERROR), pytest.raises(KeyError):
        host.deliver(booking(), delivery_count=10)

    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error.code == "internal_error"
    assert "KeyError" in result.error.message and "Contoso" not in result.error.message
    assert "Contoso" not in caplog.text and "booking will be dead-lettered" in caplog.text


# 2. Result ids: the same outcome keeps its id; another booking or a success after `failed` gets its own.


def test_a_dead_letter_replayed_after_the_fix_reaches_the_source_under_a_new_id(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKINGS_MAX_DELIVERY_COUNT", "1")
    graph.inject(Fault(status=500))
    with pytest.raises(GraphUnavailable):
        host.deliver(booking(), message_id="booking-1", delivery_count=1)  # last delivery: failed, then dead-lettered
    host.deliver(booking(), message_id="booking-1", delivery_count=1)  # the operator replays the dead letter

    failed, created = (message for _, message in host.sent.messages)
    assert [result.status for result in host.sent.results()] == [ResultStatus.FAILED, ResultStatus.CREATED]
    assert failed.message_id != created.message_id
    assert created.message_id == result_id("booking-1", booking(), ResultStatus.CREATED)


def test_a_producer_cannot_take_another_bookings_result_id_with_the_bridges_properties(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    host.deliver(booking(), message_id="booking-1")
    forged = {ORIGINAL_MESSAGE_ID_PROPERTY: "booking-1", REQUEUE_COUNT_PROPERTY: 1}
    other = booking(recordId="BK-2")
    host.deliver(other, message_id="someone-else", application_properties=forged)

    first, second = (message for _, message in host.sent.messages)
    assert first.message_id != second.message_id
    assert host.last_result().booking_message_id == "someone-else"
    assert second.message_id == result_id("someone-else", other, ResultStatus.CREATED)


def test_one_message_id_reused_for_another_body_gets_its_own_result_id(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(), message_id="reused")
    host.deliver(booking(recordId="BK-2"), message_id="reused")

    first, second = (message for _, message in host.sent.messages)
    assert first.message_id != second.message_id


# 3. A meeting Graph created is remembered when a later step of the same booking fails.


def test_a_meeting_created_before_a_refused_options_patch_is_retired_when_the_booking_moves(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(Fault())  # createOrGet creates the meeting...
    graph.inject(Fault(status=400))  # ...and Graph refuses the options PATCH
    host.deliver(booking(revision=1, options={"allowMeetingChat": "disabled"}))
    assert host.last_result().status is ResultStatus.FAILED

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))

    assert host.last_result().status is ResultStatus.CREATED
    assert live_meetings(graph) == [(SECOND_ORGANIZER, EXTERNAL_ID)]


# 4. A move away from an organizer Graph now refuses does not wedge the record.


def test_a_move_away_from_a_refused_organizer_goes_ahead_with_a_warning(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1))
    old_meeting = host.last_result().meeting.id
    graph.deny_organizer(ORGANIZER_ID)

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))
    moved = host.last_result()
    host.deliver(booking(revision=3, organizerId=SECOND_ORGANIZER, subject="Later"))

    assert moved.status is ResultStatus.CREATED
    [warning] = moved.warnings
    assert warning.code == PREVIOUS_MEETING_NOT_REMOVED and warning.http_status == 403 and old_meeting in warning.message
    assert host.last_result().status is ResultStatus.UPDATED and host.last_result().warnings == []


def test_the_warning_of_a_refused_move_escapes_graphs_error_code(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph's error code is outside input; the warning's text reaches the source system and whatever shows it."""
    host.deliver(booking(revision=1))
    forged = "Forbidden\r\n2026-12-01T10:00:00Z INFO booking completed\x1b[2J"
    monkeypatch.setitem(_FAULT_CODES, 403, (forged, "Access denied."))
    graph.inject(Fault())  # the new organizer's createOrGet
    graph.inject(Fault(status=403))  # the old organizer's meeting is refused

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))

    [warning] = host.last_result().warnings
    assert warning.code == PREVIOUS_MEETING_NOT_REMOVED and "Forbidden" in warning.message
    assert not any(character in warning.message for character in "\r\n\x1b"), warning.message


# 5. Only what ordering protects is re-enqueued.


def test_a_throttled_booking_without_revision_is_redelivered_in_order_not_reenqueued(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    graph.inject(Fault(status=429, retry_after="120"))
    unrevisioned = booking()
    unrevisioned.pop("revision")

    with pytest.raises(GraphThrottled):
        host.deliver(unrevisioned, session_id=EXTERNAL_ID)
    host.wait_out_retry_after()
    assert host.sent.requeued() == []
    host.deliver(cancel(revision=None), session_id=EXTERNAL_ID)  # the record's next message runs after it
    host.deliver(unrevisioned, session_id=EXTERNAL_ID, delivery_count=2)
    host.deliver(cancel(revision=None), session_id=EXTERNAL_ID)
    assert graph.meetings() == []


# 6. A lost session lock does not resurrect a cancelled meeting.


def test_an_upsert_that_loses_its_lock_to_a_cancel_removes_the_meeting_it_created(
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
    time.sleep(0.4)  # the lock is lost: Service Bus hands the session's next message to another invocation
    host.deliver(cancel(revision=2), message_id="cancel-2")
    upsert.join()

    assert errors == []
    by_message = {result.booking_message_id: result for result in host.sent.results()}
    assert by_message["cancel-2"].status is ResultStatus.CANCELLED
    assert by_message["upsert-1"].status is ResultStatus.SUPERSEDED and by_message["upsert-1"].applied_revision == 2
    assert graph.meetings() == []


# 7. Graph's answers are untrusted input.


def test_constant_429_with_retry_after_zero_costs_a_bounded_number_of_requests(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPH_RETRY_BUDGET_SECONDS", "30")
    graph.inject(Fault(status=429, retry_after="0", times=1000))
    unrevisioned = booking()
    unrevisioned.pop("revision")

    with pytest.raises(GraphThrottled):
        host.deliver(unrevisioned)
    assert len(graph.graph_requests()) == MAX_ATTEMPTS


def test_a_year_long_retry_after_does_not_park_the_booking(host: HostInvoker, graph: GraphSimulator) -> None:
    graph.inject(Fault(status=429, retry_after=str(365 * 86400)))
    host.deliver(booking())

    assert host.sent.requeued() == []
    assert host.last_result().status is ResultStatus.FAILED


# 8. The last delivery does not misreport.


def test_the_last_delivery_republishes_the_real_result_when_only_the_publish_failed(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKINGS_MAX_DELIVERY_COUNT", "1")
    host.sent.failures_to_inject = 1
    with pytest.raises(PublishError):
        host.deliver(booking())

    (result,) = host.sent.results()
    assert result.status is ResultStatus.CREATED and result.meeting is not None


def test_a_redelivered_cancel_reports_the_meeting_it_deleted(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(revision=1))
    host.sent.failures_to_inject = 1
    with pytest.raises(PublishError):
        host.deliver(cancel(revision=2), message_id="cancel-2")
    host.deliver(cancel(revision=2), message_id="cancel-2", delivery_count=2)

    result = host.last_result()
    assert result.status is ResultStatus.CANCELLED and result.meeting_existed is True
    assert graph.meetings() == []


# 9. A bad setting still yields a result on the last delivery.


def test_a_bad_setting_is_answered_failed_naming_it_on_the_last_delivery(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPH_BASE_URL", "ftp://graph.example/v1.0")
    with pytest.raises(ConfigurationError):
        host.deliver(booking(), delivery_count=1)
    assert host.sent.messages == []

    with pytest.raises(ConfigurationError):
        host.deliver(booking(), delivery_count=10)
    result = host.last_result()
    assert result.status is ResultStatus.FAILED and result.error.code == "configuration_error"
    assert "GRAPH_BASE_URL" in result.error.message and result.external_id == EXTERNAL_ID


def test_without_a_results_route_nothing_is_published_and_the_setting_is_logged(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RESULTS_QUEUE", "not a queue!")
    with caplog.at_level(logging.ERROR), pytest.raises(ConfigurationError):
        host.deliver(booking(), delivery_count=10)
    assert host.sent.messages == [] and "RESULTS_QUEUE" in caplog.text


# 10. A rejection always fits in a Service Bus message.


def test_a_rejection_of_thousands_of_unknown_fields_stays_far_below_the_message_limit(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    body = booking(**{f"u{number}": 1 for number in range(5500)})
    assert 50_000 < len(encode(body)) <= 64 * 1024

    host.deliver(body)
    (_, message) = host.sent.messages[0]
    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert len(result.error.details) == 50 and result.error.more_details == 5450
    assert len(str(message).encode("utf-8")) < 32 * 1024


def test_a_huge_unknown_field_name_is_cut_in_the_result(host: HostInvoker, graph: GraphSimulator) -> None:
    host.deliver(booking(**{"x" * 60_000: 1}))
    (detail,) = host.last_result().error.details
    assert len(detail.field) <= 200


# 11. Producer-controlled text reaches logs escaped.


def test_a_message_id_with_a_line_break_cannot_forge_a_log_line(
    host: HostInvoker, graph: GraphSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        host.deliver(booking(), message_id="m1\nINFO booking processed status=created forged=yes")
    assert all("\n" not in record.getMessage() for record in caplog.records if record.name.startswith("shared"))
    assert "m1\\nINFO" in caplog.text


# 12. Valid subjects are accepted; control characters are not.


@pytest.mark.parametrize(
    "subject",
    ["Intro\u00a0call", "Team \U0001f469\u200d\U0001f4bb sync", "Sprechstun\u00adde", "Zoë ❤ Łódź", "日本語の会議"],
)
def test_subjects_with_ordinary_unicode_are_accepted(host: HostInvoker, graph: GraphSimulator, subject: str) -> None:
    host.deliver(booking(subject=subject))
    result = host.last_result()
    assert result.status is ResultStatus.CREATED and result.meeting.subject == subject


@pytest.mark.parametrize("subject", ["Intro\ncall", "Intro\x1b[31mcall", "Intro\u2028call", "Intro\x7fcall"])
def test_subjects_with_control_characters_or_line_breaks_are_rejected(
    host: HostInvoker, graph: GraphSimulator, subject: str
) -> None:
    host.deliver(booking(subject=subject))
    result = host.last_result()
    assert result.status is ResultStatus.REJECTED and result.error.details[0].field == "subject"


def test_an_escaped_unpaired_surrogate_is_rejected_not_an_encoding_crash(host: HostInvoker, graph: GraphSimulator) -> None:
    raw = json.dumps(booking(attendees=[{"upn": "ada@contoso.com"}])).replace("ada@", "ada\\ud800@").encode()
    host.deliver(raw)
    assert host.last_result().status is ResultStatus.REJECTED and graph.graph_requests() == []


def test_a_meeting_graph_made_though_its_answer_was_lost_is_found_when_the_booking_moves(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the stateful property: createOrGet is applied but its answer is lost, the retry is throttled for a
    # day, and the booking is answered `failed`; the record state must still say a meeting may exist.
    graph.inject(Fault(drop_after_processing=True))
    graph.inject(Fault(status=429, retry_after="86400"))
    host.deliver(booking(revision=1))
    host.wait_out_retry_after()
    assert host.last_result().status is ResultStatus.FAILED and len(graph.meetings()) == 1

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))

    assert host.last_result().status is ResultStatus.CREATED
    assert live_meetings(graph) == [(SECOND_ORGANIZER, EXTERNAL_ID)]


def test_a_move_whose_new_organizer_answers_500_keeps_the_old_meeting_known_until_it_is_retired(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the stateful property: the 500 may have been applied, so the state notes a meeting may exist under
    # the new organizer; it must still know the old organizer's meeting, or the redelivery leaves two.
    host.deliver(booking(revision=1, organizerId=SECOND_ORGANIZER))
    graph.inject(Fault(status=500))
    with pytest.raises(GraphUnavailable):
        host.deliver(booking(revision=2), message_id="move-2")
    host.deliver(booking(revision=2), message_id="move-2", delivery_count=2)

    assert host.last_result().status is ResultStatus.CREATED
    assert live_meetings(graph) == [(ORGANIZER_ID, EXTERNAL_ID)]


def test_a_meeting_whose_id_was_never_learned_is_left_behind_when_its_organizer_refuses_and_retired_later(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the stateful property: the first booking's answer was lost (a meeting may exist, its id unknown), and
    # the move away from that organizer is refused; the state must still know a meeting may be there.
    graph.inject(Fault(drop_after_processing=True))
    graph.inject(Fault(status=429, retry_after="86400"))
    host.deliver(booking(revision=1))
    host.wait_out_retry_after()
    graph.deny_organizer(ORGANIZER_ID)
    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER))
    assert host.last_result().warnings[0].code == PREVIOUS_MEETING_NOT_REMOVED
    graph.allow_organizer(ORGANIZER_ID)

    host.deliver(booking(revision=3, organizerId=SECOND_ORGANIZER, subject="Later"))

    assert live_meetings(graph) == [(SECOND_ORGANIZER, EXTERNAL_ID)]


def test_a_lost_answer_for_a_meeting_the_state_knows_does_not_claim_the_failed_revision(
    host: HostInvoker, graph: GraphSimulator
) -> None:
    # Found by the stateful property: createOrGet on an existing meeting changes nothing, so a failed booking whose
    # answer was lost must not be recorded as applied (an older revision would be answered `superseded` wrongly).
    host.deliver(booking(revision=1, subject="First"))
    host.deliver(booking(revision=2, subject="Second"))
    graph.inject(Fault(drop_connection=True))
    graph.inject(Fault(status=400))
    host.deliver(booking(revision=3, subject="Third"))
    assert host.last_result().status is ResultStatus.FAILED

    host.deliver(booking(revision=2, subject="Second"), message_id="resent-2")

    assert host.last_result().status is ResultStatus.EXISTING
    [meeting] = graph.meetings()
    assert meeting["subject"] == "Second"


# 8. A cancel that fails for good leaves the meeting as it found it: the lobby it locked before the DELETE is opened.


@pytest.mark.parametrize(
    ("delete_fault", "delivery_count"),
    [(Fault(status=400), 1), (Fault(status=403), 10), (Fault(status=503, retry_after="600"), 10)],
    ids=["refused", "access-denied-on-the-last-delivery", "unavailable-on-the-last-delivery"],
)
def test_a_cancel_that_fails_for_good_opens_the_lobby_it_locked(
    host: HostInvoker, graph: GraphSimulator, delete_fault: Fault, delivery_count: int
) -> None:
    options = {"lobbyBypassSettings": {"scope": "organization"}, "allowMeetingChat": "enabled"}
    host.deliver(booking(revision=1, options=options))
    graph.inject(Fault(times=2))  # the cancel's lookup, and its lock
    graph.inject(delete_fault)  # its DELETE
    with contextlib.suppress(GraphUnavailable, GraphAccessDenied):  # the last delivery raises after publishing `failed`
        host.deliver(cancel(revision=2), delivery_count=delivery_count)
    assert host.last_result().status is ResultStatus.FAILED

    host.deliver(booking(revision=3))  # names no options: those the meeting has stay

    assert host.last_result().status is ResultStatus.EXISTING
    meeting = graph.meeting_for(ORGANIZER_ID, EXTERNAL_ID)
    assert meeting is not None
    assert (meeting["lobbyBypassSettings"]["scope"], meeting["allowMeetingChat"]) == ("organization", "enabled")
