"""`send`: validate every input first, then send the original bytes under deterministic message ids."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from bridgectl.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bridgectl.queues.send import BOOKING_MESSAGE_NAMESPACE, ValidBooking, booking_message_id, to_booking_message
from shared.booking import parse_booking
from shared.external_id import derive_external_id
from shared.settings import (
    DEFAULT_BOOKINGS_QUEUE,
)
from tests.bookings import booking
from tests.cli.fakes import (
    NAMESPACE,
    SAMPLES,
    Broker,
    run,
)


def test_one_invalid_input_means_nothing_is_sent(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", str(SAMPLES))
    assert code == EXIT_FAILED
    assert broker.clients_built == 0 and broker.calls == []
    assert out == ""
    invalid = SAMPLES / "04-invalid.json"
    assert f"{invalid}: start: must be an ISO 8601 date-time" in err
    assert f"{invalid}: room: is not a field of schema version 1" in err
    assert f"nothing sent: 1 of {len(list(SAMPLES.glob('*.json')))} message(s) are invalid" in err


def test_a_body_that_is_not_json_is_named_too(broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.jsonl").write_text(json.dumps(booking()) + "\n{not json\n")
    code, _, err = run(capsys, "send", str(tmp_path / "broken.jsonl"))
    assert code == EXIT_FAILED and broker.calls == []
    assert f"{tmp_path / 'broken.jsonl'}:2: invalid_json: the message body is not JSON" in err


def test_skip_invalid_sends_the_original_bytes_of_the_valid_ones(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", str(SAMPLES), "--skip-invalid")
    assert code == EXIT_OK
    sent = broker.sent[DEFAULT_BOOKINGS_QUEUE]
    files = [path for path in sorted(SAMPLES.glob("*.json")) if path.name != "04-invalid.json"]
    assert [b"".join(message.body) for message in sent] == [path.read_bytes() for path in files]
    first = sent[0]
    assert first.subject == "booking" and first.content_type == "application/json"
    assert first.application_properties == {"source": "crm-eu", "recordId": "BK-10023"}
    assert first.correlation_id == first.message_id
    assert first.session_id == derive_external_id("crm-eu", "BK-10023")  # sessions keep one record's bookings in order
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["messageId"] for line in lines] == [message.message_id for message in sent]
    assert lines[0]["externalId"] == derive_external_id("crm-eu", "BK-10023")
    assert "invalid: " in err and f"sent {len(list(SAMPLES.glob('*.json'))) - 1} message(s) to bookings in {NAMESPACE}" in err


def test_correlation_id_on_request_and_session_id_always_the_external_id(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "send", str(SAMPLES / "05-unknown-organizer.json"), "--correlation-id", "import-7")
    assert code == EXIT_OK
    [message] = broker.sent[DEFAULT_BOOKINGS_QUEUE]
    assert message.correlation_id == "import-7"
    assert message.session_id == derive_external_id("lms", "course-42-session-7")


def test_dry_run_prints_and_sends_nothing(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", str(SAMPLES / "01-new-booking.json"), "--dry-run")
    assert code == EXIT_OK
    assert broker.clients_built == 0 and broker.calls == []
    [line] = [json.loads(line) for line in out.splitlines()]
    assert line["body"] == (SAMPLES / "01-new-booking.json").read_text()
    assert line["messageId"] == booking_message_id(parse_booking(line["body"].encode()), line["body"].encode())
    assert "nothing was sent" in err


PINNED_BODY = (
    b'{"schemaVersion": 1, "source": "crm-eu", "recordId": "BK-1", '
    b'"organizerId": "6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e", "action": "cancel"}'
)
PINNED_MESSAGE_ID = "cd28e586-4052-5d26-b905-eda8da481bd7"


def _message_id(document: dict[str, Any], body: bytes | None = None) -> str:
    raw = body if body is not None else json.dumps(document).encode()
    return booking_message_id(parse_booking(raw), raw)


def test_message_ids_are_deterministic_and_change_with_the_booking() -> None:
    body = json.dumps(booking()).encode()
    assert _message_id(booking()) == _message_id(booking(), body)
    # Pinned, with the documented recipe: re-sends are recognised only while this stays the same.
    assert _message_id({}, PINNED_BODY) == PINNED_MESSAGE_ID
    recipe = f"crm-eu\nBK-1\n\n{hashlib.sha256(PINNED_BODY).hexdigest()}"
    assert str(uuid.uuid5(BOOKING_MESSAGE_NAMESPACE, recipe)) == PINNED_MESSAGE_ID
    assert len({_message_id(booking(revision=revision)) for revision in (None, 0, 1)}) == 3
    assert _message_id(booking()) != _message_id(booking(subject="Moved"))
    assert _message_id(booking()) != _message_id(booking(), json.dumps(booking(), indent=2).encode())
    assert (SAMPLES / "01-new-booking.json").read_bytes() == (SAMPLES / "02-repeat-of-new-booking.json").read_bytes()


def test_the_same_file_sent_twice_has_the_same_message_id(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "send", str(SAMPLES / "01-new-booking.json"))
    run(capsys, "send", str(SAMPLES / "02-repeat-of-new-booking.json"))
    first, repeat = broker.sent[DEFAULT_BOOKINGS_QUEUE]
    assert first.message_id == repeat.message_id


def test_large_inputs_go_in_batches_within_the_size_limit(broker: Broker, tmp_path: Path, capsys) -> None:
    lines = [json.dumps(booking(recordId=f"BK-{n}", subject="x" * 200)) for n in range(12)]
    (tmp_path / "many.jsonl").write_text("\n".join(lines))
    broker.batch_limit = 2500
    code, out, _ = run(capsys, "send", str(tmp_path / "many.jsonl"))
    assert code == EXIT_OK
    assert len(broker.batches) > 1 and sum(broker.batches) == 12
    sent = broker.sent[DEFAULT_BOOKINGS_QUEUE]
    assert [message.application_properties["recordId"] for message in sent] == [f"BK-{n}" for n in range(12)]
    assert len(out.splitlines()) == 12


def test_a_failed_batch_says_what_went_and_that_sending_again_is_safe(broker: Broker, tmp_path: Path, capsys) -> None:
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps(booking(recordId=f"BK-{n}", subject="x" * 200)) for n in range(6)))
    broker.batch_limit = 2500
    broker.failing_batch = 2
    code, out, err = run(capsys, "send", str(tmp_path / "many.jsonl"))
    assert code == EXIT_FAILED
    [first_batch] = broker.batches
    assert f"error: cannot reach {NAMESPACE}: connection reset by peer" in err
    assert f"{first_batch} of 6 message(s) were sent before the failure" in err and "again is safe" in err
    assert len(out.splitlines()) == first_batch


def test_send_message_for_a_valid_booking() -> None:
    body = json.dumps(booking(revision=None)).encode()
    message = to_booking_message(ValidBooking("x.json", body, parse_booking(body)))
    assert message.message_id == booking_message_id(parse_booking(body), body)
    assert str(message) == body.decode()


def test_paths_without_bookings_are_a_usage_error(broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text(json.dumps(booking()))
    (tmp_path / "blank.json").write_text("\n")
    code, out, err = run(capsys, "send", str(tmp_path), "--dry-run")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("error: no booking messages found in the given paths")
    assert broker.clients_built == 0
