"""The queue CLI (send, results, dlq): what an operator types, sees, and what happens to each message.

No namespace is reachable here, so the Service Bus leg is intercepted at the SDK boundary: the
client the CLI builds is a fake whose senders and receivers keep the queues in memory and log
every call in order. Outgoing messages are the SDK's real ServiceBusMessage, batches its real
ServiceBusMessageBatch (with its real size limit). Received messages are ReceivedStandIn: a real
ServiceBusMessage plus the attributes the SDK's ServiceBusReceivedMessage adds, with application
properties as bytes, as the SDK delivers them.
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageBatch,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus._pyamqp.error import TokenAuthFailure  # what pyamqp raises when CBS refuses a token
from azure.servicebus.exceptions import (
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusServerBusyError,
)

from bridgectl import cli
from bridgectl.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bridgectl.queues import connection, settlement
from bridgectl.queues.connection import explain_service_bus_error, resolve_endpoint
from bridgectl.queues.dead_letters import replay_copy
from bridgectl.queues.messages import render_table
from bridgectl.queues.results import ResultFilter, read_result
from bridgectl.queues.send import BOOKING_MESSAGE_NAMESPACE, ValidBooking, booking_message_id, to_booking_message
from shared.booking import parse_booking
from shared.external_id import derive_external_id
from shared.settings import (
    APP_SETTINGS,
    BOOKINGS_QUEUE,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_RESULTS_QUEUE,
    RESULTS_QUEUE,
    SERVICE_BUS_CONNECTION,
    SERVICE_BUS_NAMESPACE,
    load_settings,
)
from tests.bookings import REPO_ROOT, booking

NAMESPACE = "contoso-bookings.servicebus.windows.net"
EMULATOR = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
SAMPLES = REPO_ROOT / "samples"
DLQ = f"{DEFAULT_BOOKINGS_QUEUE}/$DeadLetterQueue"
_SETTINGS = (SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE, BOOKINGS_QUEUE, RESULTS_QUEUE)


# --- the SDK boundary ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_real_credential_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DefaultAzureCredential is built but never asked for a token; make sure of it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test asked for a real token")

    monkeypatch.setattr("azure.identity.DefaultAzureCredential.get_token", refuse)
    yield


class ReceivedStandIn(ServiceBusMessage):
    """A received message: the SDK's ServiceBusReceivedMessage cannot be built without a live receiver."""

    def __init__(
        self,
        body: bytes,
        *,
        sequence_number: int,
        delivery_count: int = 1,
        dead_letter_reason: str | None = None,
        dead_letter_error_description: str | None = None,
        application_properties: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        properties = dict(application_properties or {})
        if dead_letter_reason:
            properties |= {"DeadLetterReason": dead_letter_reason, "DeadLetterErrorDescription": dead_letter_error_description}
        wire = {key.encode(): value.encode() if isinstance(value, str) else value for key, value in properties.items()}
        super().__init__(body, application_properties=wire or None, **kwargs)
        self.sequence_number = sequence_number
        self.delivery_count = delivery_count
        self.enqueued_time_utc = datetime(2026, 11, 30, 8, 0, sequence_number % 60, tzinfo=UTC)

    @property
    def dead_letter_reason(self) -> str | None:
        return _decoded(self, b"DeadLetterReason")

    @property
    def dead_letter_error_description(self) -> str | None:
        return _decoded(self, b"DeadLetterErrorDescription")


def _decoded(message: ServiceBusMessage, key: bytes) -> str | None:
    value = (message.application_properties or {}).get(key)
    return value.decode() if isinstance(value, bytes) else None


class RecordingBatch(ServiceBusMessageBatch):
    """The SDK's batch, size limit and all, remembering what was added."""

    def __init__(self, max_size_in_bytes: int) -> None:
        super().__init__(max_size_in_bytes=max_size_in_bytes)
        self.added: list[ServiceBusMessage] = []

    def add_message(self, message: Any) -> None:
        super().add_message(message)
        self.added.append(message)


class Broker:
    """The queues behind the fake client, every call in order, and failures to inject."""

    def __init__(self) -> None:
        self.queues: dict[str, list[ReceivedStandIn]] = {DEFAULT_BOOKINGS_QUEUE: [], DEFAULT_RESULTS_QUEUE: [], DLQ: []}
        self.sent: dict[str, list[ServiceBusMessage]] = {}
        self.batches: list[int] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.failures: dict[tuple[str, str], BaseException] = {}
        self.batch_limit = 256 * 1024
        self.failing_batch: int | None = None
        self.clients_built = 0

    def call(self, operation: str, entity: str, detail: Any = None) -> None:
        self.calls.append((operation, entity, detail))
        failure = self.failures.get((operation, entity))
        if failure is not None:
            raise failure

    def settlements(self) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] in ("send", "complete", "abandon")]


class FakeSender:
    def __init__(self, broker: Broker, entity: str) -> None:
        self.broker = broker
        self.entity = entity

    def __enter__(self) -> FakeSender:
        self.broker.call("open sender", self.entity)
        return self

    def __exit__(self, *args: object) -> None:
        self.broker.calls.append(("close sender", self.entity, None))

    def create_message_batch(self) -> RecordingBatch:
        return RecordingBatch(self.broker.batch_limit)

    def send_messages(self, message: ServiceBusMessage | RecordingBatch) -> None:
        messages = message.added if isinstance(message, RecordingBatch) else [message]
        if self.broker.failing_batch == len(self.broker.batches) + 1:
            raise ServiceBusConnectionError(message="connection reset by peer")
        for each in messages:
            self.broker.call("send", self.entity, each.message_id)
        self.broker.batches.append(len(messages))
        self.broker.sent.setdefault(self.entity, []).extend(messages)


class FakeReceiver:
    """Peek sees everything; receive takes unlocked messages in order and locks them until settled."""

    def __init__(self, broker: Broker, entity: str) -> None:
        self.broker = broker
        self.entity = entity
        self.locked: set[int] = set()

    def __enter__(self) -> FakeReceiver:
        self.broker.call("open receiver", self.entity)
        return self

    def __exit__(self, *args: object) -> None:
        self.broker.calls.append(("close receiver", self.entity, None))

    def peek_messages(self, max_message_count: int = 1, *, sequence_number: int = 0) -> list[ReceivedStandIn]:
        self.broker.call("peek", self.entity, sequence_number)
        queue = self.broker.queues[self.entity]
        return [message for message in queue if message.sequence_number >= sequence_number][:max_message_count]

    def receive_messages(self, max_message_count: int = 1, max_wait_time: float | None = None) -> list[ReceivedStandIn]:
        self.broker.call("receive", self.entity, max_message_count)
        available = [message for message in self.broker.queues[self.entity] if message.sequence_number not in self.locked]
        batch = available[:max_message_count]
        self.locked |= {message.sequence_number for message in batch}
        return batch

    def complete_message(self, message: ReceivedStandIn) -> None:
        self._settle("complete", message)
        self.broker.queues[self.entity].remove(message)

    def abandon_message(self, message: ReceivedStandIn) -> None:
        self._settle("abandon", message)

    def _settle(self, operation: str, message: ReceivedStandIn) -> None:
        assert message.sequence_number in self.locked, f"{operation} of a message this receiver does not hold"
        self.broker.call(operation, self.entity, message.message_id)
        self.locked.discard(message.sequence_number)


class FakeClient:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *args: object) -> None:
        self.broker.calls.append(("close client", "", None))

    def get_queue_sender(self, queue_name: str) -> FakeSender:
        return FakeSender(self.broker, queue_name)

    def get_queue_receiver(self, queue_name: str, *, sub_queue: ServiceBusSubQueue | None = None) -> FakeReceiver:
        entity = f"{queue_name}/$DeadLetterQueue" if sub_queue == ServiceBusSubQueue.DEAD_LETTER else queue_name
        return FakeReceiver(self.broker, entity)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    """The namespace the CLI reaches, from settings as an operator's shell has them."""
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(SERVICE_BUS_NAMESPACE, NAMESPACE)
    fake = Broker()

    def build(target: Any, credential: Any) -> FakeClient:
        assert target.fully_qualified_namespace == NAMESPACE
        fake.clients_built += 1
        return FakeClient(fake)

    monkeypatch.setattr(connection, "build_service_bus_client", build)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def result_message(sequence_number: int, status: str, source: str, record_id: str, **extra: Any) -> ReceivedStandIn:
    document = {
        "schemaVersion": 1,
        "status": status,
        "source": source,
        "recordId": record_id,
        "revision": 1,
        "externalId": derive_external_id(source, record_id),
        "meeting": None,
        "error": None,
        **extra,
    }
    return ReceivedStandIn(
        json.dumps(document).encode(),
        sequence_number=sequence_number,
        message_id=f"result-{sequence_number}",
        application_properties={"status": status, "source": source},
    )


def dead_letter(
    sequence_number: int, *, source: str = "crm-eu", reason: str = "MaxDeliveryCountExceeded", **kwargs: Any
) -> ReceivedStandIn:
    body = json.dumps(booking(source=source, recordId=f"BK-{sequence_number}")).encode()
    return ReceivedStandIn(
        body,
        sequence_number=sequence_number,
        delivery_count=10,
        message_id=f"booking-{sequence_number}",
        correlation_id=f"corr-{sequence_number}",
        content_type="application/json",
        subject="booking",
        dead_letter_reason=reason,
        dead_letter_error_description="Message could not be consumed after 10 delivery attempts.",
        application_properties={"source": source, "recordId": f"BK-{sequence_number}", **kwargs.pop("properties", {})},
        **kwargs,
    )


def test_the_stand_in_only_adds_attributes_the_sdk_received_message_has() -> None:
    added = {"sequence_number", "delivery_count", "enqueued_time_utc", "dead_letter_reason", "dead_letter_error_description"}
    assert all(hasattr(ServiceBusReceivedMessage, name) for name in added)


# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["send", "--help"], "nothing at all is sent"),
        (["results", "--help"], "--receive completes each matching result after printing it"),
        (["dlq", "list", "--help"], "nothing is removed or locked"),
        (["dlq", "show", "--help"], "SEQUENCE_OR_MESSAGE_ID"),
        (["dlq", "replay", "--help"], "only after that send succeeded"),
    ],
)
def test_every_command_explains_itself(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    help_text = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == EXIT_OK
    assert expected in help_text
    assert "--namespace FQDN" in help_text and "--connection-string" in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["send"],
        ["results", "--status", "done"],
        ["results", "--peek", "--receive"],
        ["results", "--max", "0"],
        ["results", "--wait", "-1"],
        ["results", "--namespace", NAMESPACE, "--connection-string", EMULATOR],
        ["dlq"],
        ["dlq", "show"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_options_parse_into_what_the_commands_use() -> None:
    args = cli.build_parser().parse_args(
        ["results", "--receive", "--status", "failed", "--status", "rejected", "--external-id", "ABC", "--format", "table"]
    )
    assert (args.receive, args.status, args.external_id, args.format, args.max, args.wait) == (
        True,
        ["failed", "rejected"],
        ["ABC"],
        "table",
        10,
        None,
    )
    replay = cli.build_parser().parse_args(["dlq", "replay", "--message-id", "a", "--message-id", "b", "--dry-run"])
    assert (replay.message_id, replay.all, replay.dry_run, replay.max) == (["a", "b"], False, True, 100)


def test_no_namespace_is_a_usage_error_naming_the_setting(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "results")
    assert code == EXIT_USAGE
    assert "ServiceBusConnection__fullyQualifiedNamespace: is not set" in err and "--namespace" in err


def test_a_connection_string_is_only_for_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dlq", "list", "--connection-string", "Endpoint=sb://x.servicebus.windows.net;SharedAccessKey=k")
    assert code == EXIT_USAGE
    assert "UseDevelopmentEmulator=true" in err


def test_options_win_over_the_environment_and_the_settings_rules_apply() -> None:
    args = cli.build_parser().parse_args(["results", "--namespace", NAMESPACE.upper(), "--results-queue", "results-b"])
    endpoint = resolve_endpoint(args, {"ServiceBusConnection": EMULATOR, "RESULTS_QUEUE": "results-a", "BOOKINGS_QUEUE": "b2"})
    assert (endpoint.target.fully_qualified_namespace, endpoint.results_queue, endpoint.bookings_queue) == (
        NAMESPACE,
        "results-b",
        "b2",
    )
    from_environment = resolve_endpoint(cli.build_parser().parse_args(["results"]), {"ServiceBusConnection": EMULATOR})
    assert from_environment.target.emulator_connection_string == EMULATOR
    assert (from_environment.namespace, from_environment.results_queue) == ("emulator at localhost", DEFAULT_RESULTS_QUEUE)


def test_the_emulator_gets_a_real_client_without_connecting() -> None:
    endpoint = resolve_endpoint(cli.build_parser().parse_args(["results", "--connection-string", EMULATOR]), {})
    client = connection.open_client(endpoint)
    assert isinstance(client, ServiceBusClient)
    assert client.fully_qualified_namespace == "localhost"


# --- send ----------------------------------------------------------------------------------


def test_one_invalid_input_means_nothing_is_sent(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", str(SAMPLES))
    assert code == EXIT_FAILED
    assert broker.clients_built == 0 and broker.calls == []
    assert out == ""
    invalid = SAMPLES / "04-invalid.json"
    assert f"{invalid}: start: must be an ISO 8601 date-time" in err
    assert f"{invalid}: room: is not a field of schema version 1" in err
    assert "nothing sent: 1 of 8 message(s) are invalid" in err


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
    assert "invalid: " in err and f"sent 7 message(s) to bookings in {NAMESPACE}" in err


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


# --- results -------------------------------------------------------------------------------


@pytest.fixture
def results(broker: Broker) -> Broker:
    broker.queues[DEFAULT_RESULTS_QUEUE] = [
        result_message(1, "created", "crm-eu", "BK-1", meeting={"id": "m1", "joinWebUrl": "https://teams.example/l/1"}),
        result_message(2, "failed", "lms", "C-7", error={"code": "NotFound", "message": "no such user"}),
        result_message(3, "rejected", "crm-eu", "BK-3", error={"code": "invalid_booking", "message": "bad"}),
        result_message(4, "failed", "crm-eu", "BK-4", error={"code": "BadRequest", "message": "bad"}),
    ]
    return broker


def test_peek_filters_and_touches_nothing(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "results", "--status", "failed", "--source", "crm-eu")
    assert code == EXIT_OK
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["BK-4"]
    assert results.settlements() == [] and len(results.queues[DEFAULT_RESULTS_QUEUE]) == 4
    assert "nothing was removed" in err


def test_the_table_shows_status_record_revision_external_id_and_outcome(results: Broker, capsys) -> None:
    code, out, _ = run(capsys, "results", "--format", "table", "--max", "2")
    assert code == EXIT_OK
    header, created, failed = out.splitlines()
    assert header.split() == ["STATUS", "SOURCE/RECORD", "REV", "EXTERNAL", "ID", "JOIN", "URL", "OR", "ERROR"]
    assert created.split() == ["created", "crm-eu/BK-1", "1", derive_external_id("crm-eu", "BK-1"), "https://teams.example/l/1"]
    assert failed.split()[::4] == ["failed", "NotFound"]


def test_external_id_filter_ignores_case(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "results", "--external-id", derive_external_id("lms", "C-7").upper())
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["C-7"]


def test_receive_completes_matches_and_abandons_the_rest(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "results", "--receive", "--status", "failed")
    assert code == EXIT_OK
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["C-7", "BK-4"]
    settled = {(operation, detail) for operation, _, detail in results.settlements()}
    assert settled == {("complete", "result-2"), ("complete", "result-4"), ("abandon", "result-1"), ("abandon", "result-3")}
    assert [message.message_id for message in results.queues[DEFAULT_RESULTS_QUEUE]] == ["result-1", "result-3"]
    assert "2 message(s) not chosen were abandoned" in err


def test_receive_never_completes_a_message_that_did_not_match(results: Broker, capsys) -> None:
    run(capsys, "results", "--receive", "--source", "nobody")
    assert {operation for operation, _, _ in results.settlements()} == {"abandon"}
    assert len(results.queues[DEFAULT_RESULTS_QUEUE]) == 4


def test_receive_stops_at_max_without_locking_more(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "results", "--receive", "--max", "1")
    assert [call for call in results.calls if call[0] == "receive"] == [("receive", DEFAULT_RESULTS_QUEUE, 1)]
    assert results.settlements() == [("complete", DEFAULT_RESULTS_QUEUE, "result-1")]


def test_a_body_that_is_not_a_result_still_gets_a_row() -> None:
    row = read_result(ReceivedStandIn(b"\xff not json", sequence_number=9, message_id="odd"))
    assert (row.status, row.outcome) == (None, "(not a result message)")
    assert not ResultFilter(statuses=frozenset({"failed"})).matches(row)
    assert ResultFilter().matches(row)


# --- dead letters --------------------------------------------------------------------------


@pytest.fixture
def dead_letters(broker: Broker) -> Broker:
    broker.queues[DLQ] = [
        dead_letter(11),
        dead_letter(12, source="lms", reason="TTLExpiredException", properties={"replayCount": 1}),
        dead_letter(13, session_id="session-13"),
    ]
    return broker


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


class LapsingReceiver:
    """Gives the same messages again, as Service Bus does once a held message's lock has lapsed."""

    def __init__(self, messages: list[ReceivedStandIn]) -> None:
        self.messages = messages
        self.receives = 0
        self.abandoned: list[str] = []

    def receive_messages(self, max_message_count: int = 1, max_wait_time: float | None = None) -> list[ReceivedStandIn]:
        self.receives += 1
        return self.messages[:max_message_count]

    def abandon_message(self, message: ReceivedStandIn) -> None:
        self.abandoned.append(message.message_id)


def test_a_scan_that_comes_round_again_stops_and_gives_everything_back() -> None:
    receiver = LapsingReceiver([dead_letter(1), dead_letter(2)])
    outcome = settlement.receive_and_settle(receiver, lambda message: False, pytest.fail, limit=10, wait=1, selective=True)  # type: ignore[arg-type]
    assert receiver.receives == 2
    assert receiver.abandoned == ["booking-1", "booking-2", "booking-1", "booking-2"]
    assert (outcome.handled, outcome.abandoned) == (0, 4)


def test_peek_pages_through_the_queue_by_sequence_number(results: Broker, monkeypatch, capsys) -> None:
    monkeypatch.setattr(settlement, "PEEK_PAGE", 2)
    _, out, _ = run(capsys, "results", "--source", "crm-eu", "--max", "5")
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["BK-1", "BK-3", "BK-4"]
    assert [detail for operation, _, detail in results.calls if operation == "peek"] == [1, 3, 5]


def test_peek_with_wait_looks_again_for_new_results_until_the_time_is_up() -> None:
    arrivals = [[], [result_message(7, "created", "crm-eu", "BK-7")]]
    now = [0.0]

    class Receiver:
        def peek_messages(self, max_message_count: int, *, sequence_number: int) -> list[ReceivedStandIn]:
            page = arrivals.pop(0) if arrivals else []
            return [message for message in page if message.sequence_number >= sequence_number]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    found = settlement.peek_all(Receiver(), lambda message: True, limit=2, wait=3, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert [message.message_id for message in found] == ["result-7"]
    assert now[0] == 3


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


# --- errors a person can act on ------------------------------------------------------------


def test_missing_queue(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    results.failures[("open receiver", DEFAULT_RESULTS_QUEUE)] = MessagingEntityNotFoundError(message="entity not found")
    code, _, err = run(capsys, "results")
    assert code == EXIT_FAILED
    assert f"error: queue not found: meeting-results in {NAMESPACE}" in err


def test_missing_sender_role_stops_replay_before_anything_is_locked(dead_letters: Broker, capsys) -> None:
    dead_letters.failures[("open sender", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusAuthorizationError(message="Unauthorized access")
    code, _, err = run(capsys, "dlq", "replay", "--all")
    assert code == EXIT_FAILED
    assert f"error: permission denied: you need Azure Service Bus Data Sender on bookings in {NAMESPACE}" in err
    assert not [call for call in dead_letters.calls if call[0] == "receive"]


def test_not_logged_in(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    unavailable = CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token. Please run 'az login'")
    broker.failures[("open sender", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusError("Handler failed.", error=unavailable)
    code, _, err = run(capsys, "send", str(SAMPLES / "01-new-booking.json"))
    assert code == EXIT_FAILED
    assert "error: not logged in: run az login" in err


def _explain(error: BaseException, role: str = "Receiver") -> str:
    return explain_service_bus_error(error, namespace=NAMESPACE, queue="meeting-results", role=role)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MessagingEntityNotFoundError(message="gone"), f"queue not found: meeting-results in {NAMESPACE}"),
        (ServiceBusAuthorizationError(message="Unauthorized"), "permission denied: you need Azure Service Bus Data Receiver on"),
        (
            ServiceBusAuthenticationError(
                error=TokenAuthFailure(401, b"Unauthorized access. 'Listen' claim(s) are required to perform this operation.")
            ),
            "permission denied: you need Azure Service Bus Data Receiver on meeting-results",
        ),
        (ServiceBusError("Handler failed.", error=CredentialUnavailableError("no credential")), "not logged in: run az login"),
        (ServiceBusAuthenticationError(message="token expired"), "not logged in: run az login"),
        (ServiceBusConnectionError(message="Name or service not known"), f"cannot reach {NAMESPACE}: Name or service not known"),
        (ServiceBusError("Handler failed.", error=OSError("Network is unreachable")), f"cannot reach {NAMESPACE}"),
        (ServiceBusServerBusyError(message="busy"), f"{NAMESPACE} is throttling"),
        (AzureError("something new"), "Service Bus failed on meeting-results"),
    ],
)
def test_errors_say_what_to_do(error: BaseException, expected: str) -> None:
    assert expected in _explain(error)


def test_a_sign_in_refusal_is_not_mistaken_for_a_missing_role() -> None:
    refused = ClientAuthenticationError("AADSTS700016: application not found")
    refused.status_code = 401
    assert _explain(ServiceBusError("Handler failed.", error=refused)).startswith("not logged in")


def test_tables_pad_columns_to_their_widest_cell() -> None:
    assert render_table(["A", "BB", "C"], [["1", "2", "3"], ["long", "x", "last"]]).splitlines() == [
        "A     BB  C",
        "1     2   3",
        "long  x   last",
    ]


def test_send_message_for_a_valid_booking() -> None:
    body = json.dumps(booking(revision=None)).encode()
    message = to_booking_message(ValidBooking("x.json", body, parse_booking(body)))
    assert message.message_id == booking_message_id(parse_booking(body), body)
    assert str(message) == body.decode()


# --- the local emulator --------------------------------------------------------------------


def _emulator_queues() -> dict[str, dict[str, Any]]:
    config = json.loads((REPO_ROOT / "local" / "servicebus-emulator" / "Config.json").read_text())
    [namespace] = config["UserConfig"]["Namespaces"]
    assert namespace["Name"] == "sbemulatorns"  # the only name the emulator accepts
    return {queue["Name"]: queue["Properties"] for queue in namespace["Queues"]}


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_emulator_declares_both_default_queues() -> None:
    queues = _emulator_queues()
    assert set(queues) == {DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE}
    bookings = queues[DEFAULT_BOOKINGS_QUEUE]
    assert (bookings["MaxDeliveryCount"], bookings["LockDuration"], bookings["DeadLetteringOnMessageExpiration"]) == (
        10,
        "PT1M",
        True,
    )


def test_the_emulator_drops_duplicate_results_within_its_limits() -> None:
    results = _emulator_queues()[DEFAULT_RESULTS_QUEUE]
    assert results["RequiresDuplicateDetection"] is True
    # The emulator's Config-schema.json documents 5 s to 5 min for this window (Azure allows up to 7 days).
    assert 5 <= _seconds(results["DuplicateDetectionHistoryTimeWindow"]) <= 300


def test_compose_mounts_that_config_and_documents_the_secrets() -> None:
    compose = (REPO_ROOT / "local" / "docker-compose.yml").read_text()
    assert "./servicebus-emulator/Config.json}:/ServiceBus_Emulator/ConfigFiles/Config.json" in compose
    for image in (
        "mcr.microsoft.com/azure-messaging/servicebus-emulator:latest",
        "mcr.microsoft.com/azure-sql-edge:latest",
        "mcr.microsoft.com/azure-storage/azurite",
    ):
        assert f"image: {image}" in compose
    example = (REPO_ROOT / "local" / ".env.example").read_text()
    assert re.search(r"^MSSQL_SA_PASSWORD=<.+>$", example, re.MULTILINE) and "ACCEPT_EULA=N" in example


def test_the_fully_local_settings_in_the_readme_are_ones_the_bridge_reads() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    [block] = [found for found in re.findall(r"```json\n(.*?)```", readme, re.DOTALL) if "UseDevelopmentEmulator" in found]
    values = json.loads(textwrap.dedent(block))["Values"]
    host_and_identity = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    assert set(values) <= {*APP_SETTINGS, SERVICE_BUS_CONNECTION, *host_and_identity}
    settings = load_settings(values)
    assert settings.service_bus.emulator_connection_string == EMULATOR
    assert (settings.bookings_queue, settings.results_queue) == (DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE)
    assert settings.graph_base_url == "http://127.0.0.1:8010/v1.0"
