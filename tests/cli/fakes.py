"""The Service Bus leg of the queue CLI, faked at the SDK boundary, and the messages the tests put on it.

No namespace is reachable here, so the client the CLI builds is a fake whose senders and receivers keep
the queues in memory and log every call in order. Outgoing messages are the SDK's real ServiceBusMessage,
batches its real ServiceBusMessageBatch (with its real size limit). Received messages are ReceivedStandIn:
a real ServiceBusMessage plus the attributes the SDK's ServiceBusReceivedMessage adds, with application
properties as bytes, as the SDK delivers them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.servicebus import (
    ServiceBusMessage,
    ServiceBusMessageBatch,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    ServiceBusConnectionError,
)

from bridgectl import cli
from shared.external_id import derive_external_id
from shared.settings import (
    BOOKINGS_QUEUE,
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_RESULTS_QUEUE,
    RESULTS_QUEUE,
    SERVICE_BUS_CONNECTION,
    SERVICE_BUS_NAMESPACE,
)
from tests.bookings import REPO_ROOT, booking

NAMESPACE = "contoso-bookings.servicebus.windows.net"
EMULATOR = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
SAMPLES = REPO_ROOT / "samples"
DLQ = f"{DEFAULT_BOOKINGS_QUEUE}/$DeadLetterQueue"
QUEUE_SETTINGS = (SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE, BOOKINGS_QUEUE, RESULTS_QUEUE)


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
