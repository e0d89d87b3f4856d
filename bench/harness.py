"""Invokes create_meeting as the Functions host does, with results captured where they would leave for Service Bus.

Everything the bridge does runs for real: the indexed function, the pipeline, azure-identity's
managed-identity path, requests to the simulator, the real ServiceBusClient, sender and
ServiceBusMessage. Only ServiceBusSender.send_messages (the AMQP transfer) is replaced, as in
tests/conftest.py. Logging is set up as the Python worker sets it up: the root logger at INFO,
with a handler that formats every record (the worker then forwards it to the host over gRPC).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
from azure.servicebus import ServiceBusMessage, ServiceBusSender

from devtools.invocation import HostContext


class HostLogHandler(logging.Handler):
    """Like the worker's gRPC log handler: every record at INFO and above is formatted and handed on."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


class PublishedResults:
    """What reached ServiceBusSender.send_messages: counts by status, not messages, so long runs do not grow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def record(self, message: ServiceBusMessage) -> None:
        with self._lock:
            self.by_status[str((message.application_properties or {})["status"])] += 1

    def install(self) -> None:
        """Replace the AMQP transfer, for every sender in this process, with recording here."""
        sink = self

        def send_messages(sender: ServiceBusSender, message: ServiceBusMessage, *args: Any, **kwargs: Any) -> None:
            sink.record(message)

        ServiceBusSender.send_messages = send_messages  # type: ignore[method-assign,assignment]


class FunctionHost:
    """The function app as the worker loads it: indexed once per process, invoked with trigger messages."""

    def __init__(self) -> None:
        self.results = PublishedResults()
        self.results.install()
        self.log_handler = HostLogHandler()
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.log_handler)

        import function_app

        functions = {function.get_function_name(): function for function in function_app.app.get_functions()}
        self._function = functions["create_meeting"].get_user_function()

    @staticmethod
    def trigger_message(message_id: str, body: bytes, delivery_count: int = 1) -> TriggerMessage:
        """The message object the worker builds from the host's gRPC invocation request."""
        return TriggerMessage(
            body=body,
            message_id=message_id,
            delivery_count=delivery_count,
            content_type="application/json",
            application_properties={},
            user_properties={},
        )

    def invoke(self, message: TriggerMessage) -> None:
        """One invocation; raises whatever the function raises (the host then abandons the message)."""
        self._function(message, HostContext())
