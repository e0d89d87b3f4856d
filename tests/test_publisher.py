"""The results publisher under concurrent invocations, at the azure-servicebus sender boundary."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import ServiceBusConnectionError

from shared.errors import PublishError
from shared.publisher import ResultPublisher
from shared.result import ResultMessage, ResultStatus, result_message_id


def result(number: int) -> ResultMessage:
    return ResultMessage(
        status=ResultStatus.REJECTED,
        source="crm-eu",
        record_id=f"BK-{number}",
        revision=None,
        external_id=None,
        organizer_id=None,
        meeting=None,
        error=None,
        graph_request_id=None,
        booking_message_id=f"booking-{number}",
        processed_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


class SenderBoundary:
    """Records each send with the sender that made it, and how many sends overlapped on one sender."""

    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[tuple[int, ServiceBusMessage]] = []
        self.failures_left = fail_first
        self._in_flight: dict[int, int] = {}
        self.most_in_flight_on_one_sender = 0
        self._lock = threading.Lock()

    def send(self, sender: ServiceBusSender, message: ServiceBusMessage) -> None:
        with self._lock:
            if self.failures_left:
                self.failures_left -= 1
                raise ServiceBusConnectionError(message="injected: link detached")
            self._in_flight[id(sender)] = self._in_flight.get(id(sender), 0) + 1
            self.most_in_flight_on_one_sender = max(self.most_in_flight_on_one_sender, self._in_flight[id(sender)])
        time.sleep(0.005)  # a network round trip, so that sends overlap
        with self._lock:
            self._in_flight[id(sender)] -= 1
            self.sent.append((id(sender), message))


@pytest.fixture
def publisher() -> ResultPublisher:
    client = ServiceBusClient(
        fully_qualified_namespace="bridge-tests.servicebus.windows.net", credential=ManagedIdentityCredential()
    )
    publisher = ResultPublisher(client, "meeting-results")
    yield publisher
    publisher.close()


def intercept(monkeypatch: pytest.MonkeyPatch, boundary: SenderBoundary) -> None:
    def send_messages(sender: ServiceBusSender, message: ServiceBusMessage, *args: Any, **kwargs: Any) -> None:
        boundary.send(sender, message)

    monkeypatch.setattr(ServiceBusSender, "send_messages", send_messages)
    monkeypatch.setattr(ServiceBusSender, "close", lambda sender: None)


def test_concurrent_invocations_send_in_parallel_never_sharing_a_sender(publisher, monkeypatch) -> None:
    boundary = SenderBoundary()
    intercept(monkeypatch, boundary)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: publisher.publish_result(result(n), f"corr-{n}", f"key-{n}"), range(400)))

    assert sorted(message.message_id for _, message in boundary.sent) == sorted(
        result_message_id(f"key-{n}", ResultStatus.REJECTED) for n in range(400)
    )
    assert boundary.most_in_flight_on_one_sender == 1
    senders = {sender for sender, _ in boundary.sent}
    assert 1 < len(senders) <= 16


def test_a_failed_send_raises_and_its_sender_is_replaced(publisher, monkeypatch) -> None:
    boundary = SenderBoundary(fail_first=1)
    intercept(monkeypatch, boundary)

    with pytest.raises(PublishError, match="could not send the result to queue 'meeting-results'"):
        publisher.publish_result(result(1), "corr-1", "key-1")
    publisher.publish_result(result(1), "corr-1", "key-1")
    publisher.publish_result(result(2), "corr-2", "key-2")

    (first_sender, first), (second_sender, _) = boundary.sent
    assert first.message_id == result_message_id("key-1", ResultStatus.REJECTED)
    assert first_sender == second_sender  # the replacement is reused once it works
