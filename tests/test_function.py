"""The function as the host runs it: one booking message in, one result message out, or a redelivery."""

from __future__ import annotations

import json
import logging

import pytest

from shared.errors import GraphAccessDenied, PublishError, TokenError
from shared.external_id import derive_external_id
from shared.result import ResultStatus
from simulator import Fault
from tests.bookings import ORGANIZER_ID, booking, result_id
from tests.conftest import TEST_NAMESPACE, indexed_functions


def test_bindings_are_what_the_host_and_infra_expect() -> None:
    functions = indexed_functions()
    assert list(functions) == ["create_meeting"]
    (binding,) = json.loads(functions["create_meeting"].get_function_json())["bindings"]
    assert binding["type"] == "serviceBusTrigger"
    assert binding["direction"] == "IN"
    assert binding["queueName"] == "%BOOKINGS_QUEUE%"
    assert binding["connection"] == "ServiceBusConnection"


def test_new_booking_creates_a_meeting_and_publishes_created(host, graph) -> None:
    host.deliver(booking(), message_id="booking-msg-1", correlation_id="crm-corr-7")

    ((queue, message),) = host.sent.messages
    result = host.last_result()
    assert queue == "meeting-results"
    assert result.status is ResultStatus.CREATED
    assert (result.source, result.record_id, result.revision) == ("crm-eu", "BK-10023", 3)
    assert result.external_id == derive_external_id("crm-eu", "BK-10023")
    assert result.organizer_id == ORGANIZER_ID
    assert result.error is None
    assert result.booking_message_id == "booking-msg-1"
    assert result.graph_request_id

    stored = graph.meeting_for(ORGANIZER_ID, result.external_id)
    assert result.meeting.id == stored["id"]
    assert result.meeting.join_web_url == stored["joinWebUrl"]
    assert result.meeting.join_meeting_id == stored["joinMeetingIdSettings"]["joinMeetingId"]
    assert result.meeting.passcode == stored["joinMeetingIdSettings"]["passcode"]
    assert result.meeting.dial_in.conference_id == stored["audioConferencing"]["conferenceId"]
    assert result.meeting.subject == "Intro call with Contoso"
    assert result.meeting.start.isoformat() == "2026-12-01T09:00:00+00:00"
    assert result.meeting.end.isoformat() == "2026-12-01T09:30:00+00:00"

    assert message.message_id == result_id("booking-msg-1", booking(), ResultStatus.CREATED)
    assert message.correlation_id == "crm-corr-7"
    assert message.content_type == "application/json"
    assert message.application_properties == {"status": "created", "source": "crm-eu"}


def test_graph_receives_utc_times_and_the_derived_external_id(host, graph) -> None:
    host.deliver(
        booking(attendees=[{"upn": "ada@contoso.com", "userId": "1F35F2E6-9CAB-44AD-8D5A-B74C14720000", "role": "presenter"}])
    )

    (request,) = graph.graph_requests()
    assert request.path == f"/v1.0/users/{ORGANIZER_ID}/onlineMeetings/createOrGet"
    assert request.json == {
        "externalId": derive_external_id("crm-eu", "BK-10023"),
        "startDateTime": "2026-12-01T09:00:00Z",
        "endDateTime": "2026-12-01T09:30:00Z",
        "subject": "Intro call with Contoso",
        "participants": {
            "attendees": [
                {
                    "upn": "ada@contoso.com",
                    "role": "presenter",
                    "identity": {"user": {"id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000"}},
                }
            ]
        },
    }
    assert request.headers["client-request-id"]


def test_redelivery_creates_no_second_meeting_and_repeats_the_result_and_its_id(host, graph) -> None:
    host.deliver(booking(), message_id="booking-msg-2", delivery_count=1)
    host.deliver(booking(), message_id="booking-msg-2", delivery_count=2)

    first, second = host.sent.messages
    assert first[1].message_id == second[1].message_id == result_id("booking-msg-2", booking(), ResultStatus.CREATED)
    # The redelivery reports what the booking did (it created the meeting), not what it found the second time.
    assert [result.status for result in host.sent.results()] == [ResultStatus.CREATED, ResultStatus.CREATED]
    assert len(graph.meetings()) == 1


def test_reschedule_reaches_the_same_meeting(host, graph) -> None:
    host.deliver(booking(revision=1))
    host.deliver(booking(revision=2, start="2026-12-02T10:00:00+01:00", end="2026-12-02T11:00:00+01:00", subject="Moved"))

    created, again = host.sent.results()
    assert again.status is ResultStatus.UPDATED and again.changed_fields == ["subject", "start", "end"]
    assert again.revision == 2 and again.meeting.subject == "Moved"
    assert again.meeting.id == created.meeting.id
    assert len(graph.meetings()) == 1


def test_invalid_booking_is_rejected_with_every_field_problem_and_completes(host, graph) -> None:
    host.deliver(booking(start="2026-12-01T10:00:00", extra="x", revision=-1), message_id="bad-1")

    result = host.last_result()
    assert result.status is ResultStatus.REJECTED
    assert result.meeting is None
    assert result.error.code == "invalid_booking"
    problems = {detail.field: detail.reason for detail in result.error.details}
    assert set(problems) == {"start", "extra", "revision"}
    assert "naive times are refused" in problems["start"]
    # The identifying fields that were valid are echoed, so the source can match the answer.
    assert (result.source, result.record_id, result.revision) == ("crm-eu", "BK-10023", None)
    assert result.external_id == derive_external_id("crm-eu", "BK-10023")
    assert graph.graph_requests() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\xff\xfe{}", "invalid_encoding"),
        (b"not json", "invalid_json"),
        (b"[]", "invalid_booking"),
        (b"{" + b" " * (64 * 1024) + b"}", "body_too_large"),
    ],
)
def test_unreadable_bodies_are_rejected_without_identity(host, body, code) -> None:
    host.deliver(body, message_id="unreadable")

    result = host.last_result()
    assert (result.status, result.error.code) == (ResultStatus.REJECTED, code)
    assert (result.source, result.record_id, result.external_id) == (None, None, None)
    assert result.booking_message_id == "unreadable"
    assert host.sent.messages[-1][1].application_properties == {"status": "rejected"}


def test_cancel_needs_no_subject_or_times(host, graph) -> None:
    host.deliver({"schemaVersion": 1, "source": "crm-eu", "recordId": "BK-1", "action": "cancel", "organizerId": ORGANIZER_ID})

    result = host.last_result()
    assert (result.status, result.error, result.meeting_existed) == (ResultStatus.CANCELLED, None, False)
    assert result.external_id == derive_external_id("crm-eu", "BK-1")
    assert graph.meetings() == []


def test_unknown_organizer_is_a_failed_result_with_graphs_error(host, graph) -> None:
    host.deliver(booking(organizerId="00000000-0000-0000-0000-000000000404"))

    result = host.last_result()
    assert result.status is ResultStatus.FAILED
    assert result.error.http_status == 404
    assert result.error.code == "NotFound"
    assert result.error.request_id
    assert result.graph_request_id == result.error.request_id
    assert graph.meetings() == []


def test_bad_request_from_graph_is_failed_not_retried(host, graph) -> None:
    graph.inject(Fault(status=400))
    host.deliver(booking())

    result = host.last_result()
    assert (result.status, result.error.http_status, result.error.code) == (ResultStatus.FAILED, 400, "BadRequest")
    assert len(graph.graph_requests()) == 1


def test_access_denied_raises_for_redelivery_and_says_how_to_fix_it(host, graph, caplog) -> None:
    graph.deny_organizer(ORGANIZER_ID)

    with caplog.at_level(logging.ERROR), pytest.raises(GraphAccessDenied) as raised:
        host.deliver(booking(), delivery_count=1)

    assert "OnlineMeetings.ReadWrite.All" in str(raised.value)
    assert "30 minutes" in str(raised.value)
    assert host.sent.messages == []
    assert "booking will be redelivered" in caplog.text
    assert "New-CsApplicationAccessPolicy" in caplog.text


def test_publish_failure_raises_so_the_booking_is_redelivered_and_then_lands_once(host, graph) -> None:
    host.sent.failures_to_inject = 1
    with pytest.raises(PublishError):
        host.deliver(booking(), message_id="booking-msg-3", delivery_count=1)
    host.deliver(booking(), message_id="booking-msg-3", delivery_count=2)

    (only,) = host.sent.results()
    assert only.status is ResultStatus.CREATED  # the first delivery created it; the redelivery says so
    assert host.sent.messages[0][1].message_id == result_id("booking-msg-3", booking(), ResultStatus.CREATED)
    assert len(graph.meetings()) == 1


def test_token_endpoint_failure_raises_for_redelivery(host, graph) -> None:
    graph.inject(Fault(target="token", status=500, times=10))
    with pytest.raises(TokenError) as raised:
        host.deliver(booking())
    assert "managed identity" in str(raised.value)
    assert graph.graph_requests() == []
    assert host.sent.messages == []


def test_one_token_serves_many_messages(host, graph) -> None:
    for number in range(5):
        host.deliver(booking(recordId=f"BK-{number}"))
    assert graph.stats.token_requests == 1
    assert len(graph.meetings()) == 5


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
def test_logs_carry_no_subject_attendee_or_token(host, graph, caplog, level) -> None:
    secret_subject = "Therapy session for Jane Doe"
    with caplog.at_level(level):
        host.deliver(booking(subject=secret_subject, attendees=[{"upn": "jane.doe@patients.example", "role": "attendee"}]))
        graph.inject(Fault(status=429, retry_after="0"))
        host.deliver(booking(recordId="BK-2", subject=secret_subject, attendees=[{"upn": "jane.doe@patients.example"}]))
        host.deliver(booking(recordId="BK-3", start="naive", subject=secret_subject))

    assert "booking processed status=created source=crm-eu" in caplog.text
    assert "graph retry method=POST attempt=1 status=429" in caplog.text
    issued = {request.headers["Authorization"].removeprefix("Bearer ") for request in graph.graph_requests()}
    forbidden = [secret_subject, "jane.doe", "patients.example", graph.identity_header, *issued]
    if level >= logging.INFO:
        # At the level host.json emits, not even the organizer's object id appears (DEBUG has urllib3's URLs).
        forbidden.append(ORGANIZER_ID)
    for text in forbidden:
        assert text not in caplog.text, text


def test_settings_error_names_the_setting(host, monkeypatch) -> None:
    from shared.errors import ConfigurationError
    from shared.runtime import reset_pipeline

    monkeypatch.delenv("ServiceBusConnection__fullyQualifiedNamespace")
    reset_pipeline()
    with pytest.raises(ConfigurationError, match="ServiceBusConnection__fullyQualifiedNamespace"):
        host.deliver(booking())
    assert TEST_NAMESPACE not in str(host.sent.messages)
