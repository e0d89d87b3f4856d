"""Invokes create_meeting as the Functions host does, with results captured where they would leave for Service Bus.

Everything the bridge does runs for real: the indexed function, the pipeline, azure-identity's
managed-identity path, requests to the simulator, the real ServiceBusClient, sender and
ServiceBusMessage. Only ServiceBusSender.send_messages (the AMQP transfer) is replaced, as in
tests/conftest.py. Logging is set up as the Python worker sets it up: the root logger at INFO,
with a handler that formats every record (the worker then forwards it to the host over gRPC).
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
from azure.servicebus import ServiceBusMessage, ServiceBusSender
from urllib3.connectionpool import HTTPConnectionPool

from devtools.invocation import HostContext

# Service Bus's default maxDeliveryCount, as infra sets it for the bookings queue.
MAX_DELIVERIES = 10


class HostLogHandler(logging.Handler):
    """Like the worker's gRPC log handler: every record at INFO and above is formatted and handed on."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.forwarded = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.forwarded += 1


class PublishedResults:
    """What reached ServiceBusSender.send_messages. Holds counts, not messages, so long runs do not grow.

    send_latency_seconds stands in for the AMQP transfer's round trip to the namespace (a sleep in
    send_messages, so wherever the real send would hold a lock, this holds it as long).
    """

    def __init__(self, *, keep_ids: bool = False, send_latency_seconds: float = 0.0) -> None:
        self.send_latency_seconds = send_latency_seconds
        self._lock = threading.Lock()
        self.by_status: Counter[str] = Counter()
        self.answered: set[str] | None = set() if keep_ids else None
        self.last: ServiceBusMessage | None = None

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def record(self, message: ServiceBusMessage) -> None:
        with self._lock:
            self.by_status[str((message.application_properties or {})["status"])] += 1
            if self.answered is not None:
                self.answered.add(str(message.correlation_id))
            self.last = message

    def install(self) -> None:
        """Replace the AMQP transfer, for every sender in this process, with recording here."""
        sink = self

        def send_messages(sender: ServiceBusSender, message: ServiceBusMessage, *args: Any, **kwargs: Any) -> None:
            if sink.send_latency_seconds:
                time.sleep(sink.send_latency_seconds)
            sink.record(message)

        ServiceBusSender.send_messages = send_messages  # type: ignore[method-assign,assignment]


class TableCalls:
    """Requests that reached the state table, by kind, counted at urllib3's connection pool (below any client)."""

    def __init__(self, table_endpoint: str) -> None:
        endpoint = urlsplit(table_endpoint.rstrip("/"))
        self._address = (endpoint.hostname, endpoint.port)
        self._base_path = endpoint.path
        self._lock = threading.Lock()
        self.by_kind: Counter[str] = Counter()

    def install(self) -> None:
        calls, urlopen = self, HTTPConnectionPool.urlopen

        def counted(pool: HTTPConnectionPool, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if (pool.host, pool.port) == calls._address and url.startswith(calls._base_path):
                calls.record(method, url[len(calls._base_path) :])
            return urlopen(pool, method, url, *args, **kwargs)

        HTTPConnectionPool.urlopen = counted  # type: ignore[method-assign,assignment]

    def record(self, method: str, path: str) -> None:
        if method == "POST":
            kind = "create table" if path.split("?")[0] == "/Tables" else "insert"
        else:
            kind = {"GET": "read", "PUT": "replace", "MERGE": "merge", "DELETE": "delete"}.get(method, method)
        with self._lock:
            self.by_kind[kind] += 1


@dataclass
class Delivery:
    """One booking message's fate: how many times it was delivered and whether it ended dead-lettered."""

    deliveries: int
    dead_lettered: bool


class FunctionHost:
    """The function app as the worker loads it: indexed once per process, invoked with trigger messages."""

    def __init__(self, *, keep_ids: bool = False, send_latency_seconds: float = 0.0) -> None:
        self.results = PublishedResults(keep_ids=keep_ids, send_latency_seconds=send_latency_seconds)
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

    def deliver(self, message_id: str, body: bytes) -> Delivery:
        """Deliver until the function completes the message, redelivering on a raise as Service Bus does."""
        for count in range(1, MAX_DELIVERIES + 1):
            try:
                self.invoke(self.trigger_message(message_id, body, count))
            except Exception:  # the host abandons; Service Bus delivers again until maxDeliveryCount
                continue
            return Delivery(count, dead_lettered=False)
        return Delivery(MAX_DELIVERIES, dead_lettered=True)


@dataclass
class DriveOutcome:
    messages: int = 0
    deliveries: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    queue_drained: float = 0.0  # when the last message was handed to a thread


def drive(
    host: FunctionHost,
    messages: Iterable[tuple[str, bytes]],
    threads: int,
    on_completed: Callable[[int], None] | None = None,
) -> DriveOutcome:
    """Run messages through `threads` concurrent invocations, as the host does up to maxConcurrentSessions.

    on_completed(n) is called (under a lock, in completion order) after the n-th message is settled.
    """
    source: Iterator[tuple[str, bytes]] = iter(messages)
    lock = threading.Lock()
    outcome = DriveOutcome()
    failures: list[BaseException] = []

    def next_message() -> tuple[str, bytes] | None:
        with lock:
            item = next(source, None)
            if item is None and not outcome.queue_drained:
                outcome.queue_drained = time.perf_counter()
            return item

    def work() -> None:
        try:
            while (item := next_message()) is not None:
                delivery = host.deliver(*item)
                with lock:
                    outcome.messages += 1
                    outcome.deliveries += delivery.deliveries
                    if delivery.dead_lettered:
                        outcome.dead_lettered.append(item[0])
                    if on_completed is not None:
                        on_completed(outcome.messages)
        except BaseException as error:  # surfaced after join: a benchmark must not hide a crash
            failures.append(error)

    workers = [threading.Thread(target=work, name=f"invocation-{n}") for n in range(threads)]
    outcome.started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    outcome.finished = time.perf_counter()
    if failures:
        raise failures[0]
    return outcome


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
