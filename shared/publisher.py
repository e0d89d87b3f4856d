"""Publishes result messages to the results queue with the azure-servicebus SDK.

One client per process and a small pool of senders. The SDK does not promise that a sender
is thread-safe (azure-servicebus README, "Thread safety"), and the worker runs invocations on
several threads. One sender behind a lock capped throughput at 1 / send time whatever the
concurrency (bench: 88 msg/s at 16 threads with a 10 ms send); instead each invocation borrows
an idle sender, so at most one sender per concurrent invocation is ever opened (each is one
AMQP connection: azure-servicebus 7 does not share connections between senders).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender

from shared.errors import PublishError
from shared.result import ResultMessage, result_message_id
from shared.settings import ServiceBusTarget
from shared.telemetry import DIAGNOSTIC_ID_PROPERTY, diagnostic_id

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"


class ResultSink(Protocol):
    """Where the pipeline hands results: the results queue in Azure, the terminal in `simulate`."""

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None: ...

    def close(self) -> None: ...


def build_service_bus_client(target: ServiceBusTarget, credential: TokenCredential) -> ServiceBusClient:
    """The identity-based client for a namespace, or the emulator's connection string locally."""
    if target.emulator_connection_string:
        return ServiceBusClient.from_connection_string(target.emulator_connection_string)
    assert target.fully_qualified_namespace is not None  # settings give one form or the other
    return ServiceBusClient(fully_qualified_namespace=target.fully_qualified_namespace, credential=credential)


def to_service_bus_message(result: ResultMessage, correlation_id: str, booking_key: str) -> ServiceBusMessage:
    """The wire form of a result: a message id derived from the booking and the outcome, filterable properties, JSON body.

    Diagnostic-Id carries the current (the booking's) trace context, so the consumer's work joins its trace."""
    properties: dict[str | bytes, Any] = {"status": result.status.value}
    if result.source:
        properties["source"] = result.source
    trace_parent = diagnostic_id()
    if trace_parent:
        properties[DIAGNOSTIC_ID_PROPERTY] = trace_parent
    return ServiceBusMessage(
        result.model_dump_json(by_alias=True),
        message_id=result_message_id(booking_key, result.status),
        correlation_id=correlation_id,
        content_type=CONTENT_TYPE,
        application_properties=properties,
    )


class SenderPool:
    """Senders for one queue, lending each invocation thread a sender of its own."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self.queue_name = queue_name
        self._idle: queue.SimpleQueue[ServiceBusSender] = queue.SimpleQueue()
        self._opened: list[ServiceBusSender] = []
        self._lock = threading.Lock()

    def send(self, message: ServiceBusMessage, what: str) -> None:
        """Send one message; raise PublishError (retryable) if it did not go."""
        sender = self._borrow()
        try:
            sender.send_messages(message)
        except (AzureError, OSError) as error:
            self._discard(sender)
            raise PublishError(f"could not send {what} to queue {self.queue_name!r}: {type(error).__name__}: {error}") from error
        self._idle.put(sender)

    def close(self) -> None:
        """Close the senders (not the client, which the pools of one process share)."""
        with self._lock:
            senders, self._opened = self._opened, []
        for sender in senders:
            sender.close()

    def _borrow(self) -> ServiceBusSender:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            # The client keeps a registry of its handlers, so creation is serialised; the sender
            # itself connects on its first send, outside the lock.
            with self._lock:
                sender = self._client.get_queue_sender(self.queue_name)
                self._opened.append(sender)
            return sender

    def _discard(self, sender: ServiceBusSender) -> None:
        # A sender whose send failed may hold a broken link: close it and let the next send open a fresh one.
        with self._lock:
            self._opened.remove(sender)
        try:
            sender.close()
        except (AzureError, OSError) as error:
            logger.warning("closing a failed sender also failed: %s", type(error).__name__)


class ResultPublisher:
    """Sends results to the results queue; closing it closes the process's Service Bus client."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self._senders = SenderPool(client, queue_name)

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None:
        """Send one result; raise PublishError so that the booking is redelivered if it did not go."""
        self._senders.send(to_service_bus_message(result, correlation_id, booking_key), "the result")

    def close(self) -> None:
        self._senders.close()
        self._client.close()
