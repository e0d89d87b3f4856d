"""Publishes result messages to the results queue with the azure-servicebus SDK.

One client and one sender per process. The SDK does not promise that a sender is
thread-safe (azure-servicebus README, "Thread safety"), and the worker runs invocations on
several threads, so sends are serialised by a lock; a send is one AMQP transfer on an open link.
"""

from __future__ import annotations

import threading
from typing import Protocol

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender

from shared.errors import PublishError
from shared.result import ResultMessage, result_message_id
from shared.settings import ServiceBusTarget

CONTENT_TYPE = "application/json"


class ResultSink(Protocol):
    """Where the pipeline hands results: the results queue in Azure, the terminal in `simulate`."""

    def publish_result(self, result: ResultMessage, correlation_id: str) -> None: ...

    def close(self) -> None: ...


def build_service_bus_client(target: ServiceBusTarget, credential: TokenCredential) -> ServiceBusClient:
    """The identity-based client for a namespace, or the emulator's connection string locally."""
    if target.emulator_connection_string:
        return ServiceBusClient.from_connection_string(target.emulator_connection_string)
    return ServiceBusClient(fully_qualified_namespace=target.fully_qualified_namespace, credential=credential)


def to_service_bus_message(result: ResultMessage, correlation_id: str) -> ServiceBusMessage:
    """The wire form of a result: deterministic message id, filterable properties, JSON body."""
    properties = {"status": result.status.value}
    if result.source:
        properties["source"] = result.source
    return ServiceBusMessage(
        result.model_dump_json(by_alias=True),
        message_id=result_message_id(result.booking_message_id),
        correlation_id=correlation_id,
        content_type=CONTENT_TYPE,
        application_properties=properties,
    )


class ResultPublisher:
    """Sends results to one queue over one sender, shared by every invocation thread."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self._queue_name = queue_name
        self._sender: ServiceBusSender | None = None
        self._lock = threading.Lock()

    def publish_result(self, result: ResultMessage, correlation_id: str) -> None:
        """Send one result; raise PublishError so that the booking is redelivered if it did not go."""
        message = to_service_bus_message(result, correlation_id)
        with self._lock:
            try:
                if self._sender is None:
                    self._sender = self._client.get_queue_sender(self._queue_name)
                self._sender.send_messages(message)
            except (AzureError, OSError) as error:
                raise PublishError(
                    f"could not send the result to queue {self._queue_name!r}: {type(error).__name__}: {error}"
                ) from error

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None
            self._client.close()
