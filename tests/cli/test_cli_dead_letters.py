"""`dlq list`, `show` and `replay`: nothing leaves the dead-letter queue before its copy is on the bookings queue."""

from __future__ import annotations

import json

import pytest
from azure.servicebus.exceptions import (
    ServiceBusError,
    ServiceBusServerBusyError,
)

from bridgectl.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bridgectl.queues.dead_letters import replay_copy
from shared.settings import (
    DEFAULT_BOOKINGS_QUEUE,
)
from tests.cli.fakes import (
    DLQ,
    NAMESPACE,
    Broker,
    ReceivedStandIn,
    dead_letter,
    run,
)


def test_dlq_list_shows_why_and_how_often(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "dlq", "list")
    assert code == EXIT_OK
    header, first, *_ = out.splitlines()
    assert header.split()[:3] == ["SEQ", "MESSAGE", "ID"]
    assert first.split()[:5] == ["11", "booking-11", "2026-11-30T08:00:11+00:00", "10", "crm-eu/BK-11"]
    assert "MaxDeliveryCountExceeded  Message could not be consumed after 10 delivery attempts." in first
    assert dead_letters.settlements() == [] and "3 dead-lettered message(s)" in err


def test_dlq_list_filters_and_reads_the_record_from_properties_when_the_body_is_not_json(broker: Broker, capsys) -> None:
    unreadable = ReceivedStandIn(
        b"<xml/>",
        sequence_number=5,
        message_id="m5",
        dead_letter_reason="invalid",
        application_properties={"source": "erp", "recordId": "R-5"},
    )
    broker.queues[DLQ] = [dead_letter(4), unreadable]
    _, out, _ = run(capsys, "dlq", "list", "--format", "jsonl", "--reason", "INVALID")
    [line] = [json.loads(line) for line in out.splitlines()]
    assert (line["sequenceNumber"], line["source"], line["recordId"], line["deadLetterReason"]) == (5, "erp", "R-5", "invalid")


def test_dlq_show_by_sequence_number_or_message_id(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dlq", "show", "12")
    shown = json.loads(out)
    assert code == EXIT_OK
    assert shown["body"]["recordId"] == "BK-12" and shown["applicationProperties"]["replayCount"] == 1
    assert shown["deadLetterReason"] == "TTLExpiredException" and shown["correlationId"] == "corr-12"
    code, out, _ = run(capsys, "dlq", "show", "booking-13")
    assert json.loads(out)["sessionId"] == "session-13"
    code, _, err = run(capsys, "dlq", "show", "404")
    assert code == EXIT_FAILED and "no dead-lettered message with sequence number or message id '404'" in err


def test_replay_sends_each_copy_before_completing_its_original(dead_letters: Broker, capsys) -> None:
    code, out, err = run(capsys, "dlq", "replay", "--all")
    assert code == EXIT_OK
    assert dead_letters.settlements() == [
        ("send", DEFAULT_BOOKINGS_QUEUE, "booking-11"),
        ("complete", DLQ, "booking-11"),
        ("send", DEFAULT_BOOKINGS_QUEUE, "booking-12"),
        ("complete", DLQ, "booking-12"),
        ("send", DEFAULT_BOOKINGS_QUEUE, "booking-13"),
        ("complete", DLQ, "booking-13"),
    ]
    assert dead_letters.queues[DLQ] == []
    assert len(out.splitlines()) == 3 and f"replayed 3 message(s) from {DLQ} to bookings" in err


def test_the_sender_is_opened_before_anything_is_received(dead_letters: Broker, capsys) -> None:
    run(capsys, "dlq", "replay", "--all")
    operations = [operation for operation, _, _ in dead_letters.calls]
    assert operations.index("open sender") < operations.index("receive")


def test_replay_keeps_the_ids_and_counts_replays(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "dlq", "replay", "--source", "lms")
    [copy] = dead_letters.sent[DEFAULT_BOOKINGS_QUEUE]
    original = dead_letter(12, source="lms", reason="TTLExpiredException", properties={"replayCount": 1})
    assert (copy.message_id, copy.correlation_id, copy.content_type, copy.subject) == (
        "booking-12",
        "corr-12",
        "application/json",
        "booking",
    )
    assert b"".join(copy.body) == b"".join(original.body)
    assert copy.application_properties == {"source": "lms", "recordId": "BK-12", "replayCount": 2, "replayedFrom": 12}


def test_the_copy_keeps_the_session_and_starts_counting_at_one() -> None:
    copy = replay_copy(dead_letter(13, session_id="session-13"))
    assert copy.session_id == "session-13"
    assert copy.application_properties["replayCount"] == 1
    assert "DeadLetterReason" not in copy.application_properties


def test_replaying_by_id_stops_once_every_id_was_found(dead_letters: Broker, capsys) -> None:
    dead_letters.queues[DLQ] += [dead_letter(sequence) for sequence in range(14, 80)]
    run(capsys, "dlq", "replay", "--message-id", "booking-11")
    assert [call for call in dead_letters.calls if call[0] == "receive"] == [("receive", DLQ, 50)]
    assert [operation for operation, _, _ in dead_letters.settlements()] == ["send", "complete"] + ["abandon"] * 49


def test_messages_not_chosen_are_abandoned_and_stay(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dlq", "replay", "--message-id", "booking-12")
    assert code == EXIT_OK
    assert [(operation, detail) for operation, _, detail in dead_letters.settlements()] == [
        ("send", "booking-12"),
        ("complete", "booking-12"),
        ("abandon", "booking-11"),
        ("abandon", "booking-13"),
    ]
    assert [message.message_id for message in dead_letters.queues[DLQ]] == ["booking-11", "booking-13"]
    assert f"2 message(s) not chosen were abandoned: they stay in {DLQ}" in err


def test_a_failed_send_abandons_the_original_and_completes_nothing(dead_letters: Broker, capsys) -> None:
    dead_letters.failures[("send", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusServerBusyError(message="server busy")
    code, out, err = run(capsys, "dlq", "replay", "--all")
    assert code == EXIT_FAILED
    assert not [call for call in dead_letters.calls if call[0] == "complete"]
    assert {detail for operation, _, detail in dead_letters.settlements() if operation == "abandon"} == {
        "booking-11",
        "booking-12",
        "booking-13",
    }
    assert len(dead_letters.queues[DLQ]) == 3 and out == ""
    assert f"{NAMESPACE} is throttling or bookings is full" in err
    assert "message booking-11 (dead-letter sequence number 11) was not replayed and stays in the dead-letter queue" in err


def test_an_original_that_cannot_be_removed_after_its_copy_went_is_reported(dead_letters: Broker, capsys) -> None:
    dead_letters.failures[("complete", DLQ)] = ServiceBusError("The lock on the message lock has expired.")
    code, _, err = run(capsys, "dlq", "replay", "--message-id", "booking-11")
    assert code == EXIT_FAILED
    assert dead_letters.sent[DEFAULT_BOOKINGS_QUEUE][0].message_id == "booking-11"
    assert "the copy of message booking-11 was sent to bookings, but the original could not be removed" in err
    assert "do not replay it again" in err
    assert {detail for operation, _, detail in dead_letters.settlements() if operation == "abandon"} == {
        "booking-12",
        "booking-13",
    }


def test_replay_dry_run_only_peeks(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "dlq", "replay", "--reason", "maxdeliverycountexceeded", "--dry-run")
    assert code == EXIT_OK
    assert {operation for operation, _, _ in dead_letters.calls} <= {"open receiver", "peek", "close receiver", "close client"}
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["messageId"] for line in lines] == ["booking-11", "booking-13"]
    assert lines[0]["replayAs"]["replayedFrom"] == 11 and lines[0]["replayAs"]["replayCount"] == 1
    assert "would replay 2 message(s)" in err and len(dead_letters.queues[DLQ]) == 3


def test_replay_needs_a_choice(dead_letters: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dlq", "replay")
    assert code == EXIT_USAGE and "choose what to replay" in err
    assert dead_letters.calls == []
