"""One Functions instance of the burst model: the real function behind the host's Service Bus session receivers.

Each of the host's maxConcurrentSessions slots behaves as the Service Bus extension's session processor does:
accept the next session that has a message; receive its messages one at a time; the function returns: complete,
it raises: abandon (autoCompleteMessages); when no message of the session arrives within sessionIdleTimeout,
close the session and accept another. Invocations run on the Python worker's threads
(PYTHON_THREADPOOL_THREAD_COUNT): the worker runs a sync function on a ThreadPoolExecutor of that many threads, so a
slot whose message finds every thread busy waits for one, its session and message held. The instance also keeps
the periods in which at least one invocation was in progress: what Flex Consumption bills as execution time.

Everything the bridge does runs for real, in this process as in an instance: the indexed function, azure-identity's
managed-identity path, Graph on the simulator, the state table on Azurite, the SDK's ServiceBusClient, senders and
ServiceBusMessage. Only ServiceBusSender.send_messages (the AMQP transfer) is replaced: it hands the message to the
broker in the parent process (devtools.service_bus_sends), as tests/service_bus_harness.py does in one process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime

from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
from azure.servicebus import ServiceBusMessage, ServiceBusSender

from bench.broker import BrokerClient, Message
from bench.harness import HostLogHandler
from devtools.invocation import HostContext
from devtools.service_bus_sends import body_bytes, routed_send_messages


def run(
    address: tuple[str, int],
    authkey: bytes,
    name: str,
    *,
    slots: int,
    worker_threads: int,
    session_idle_timeout_seconds: float,
    environment: dict[str, str],
) -> None:
    """The instance's life: start as the worker does, serve until the broker stops, report its CPU time."""
    os.environ.update(environment)
    broker = BrokerClient(address, authkey)
    _send_to(broker)
    root = logging.getLogger()  # as the worker sets it up: every record at INFO and above formatted and handed on
    root.setLevel(logging.INFO)
    root.addHandler(HostLogHandler())

    import function_app  # after the environment is set, as the worker imports it

    functions = {function.get_function_name(): function for function in function_app.app.get_functions()}
    function = functions["create_meeting"].get_user_function()
    threads = threading.BoundedSemaphore(worker_threads)
    busy = BusyPeriods()
    started_cpu = time.process_time()
    broker.call("instance_ready", name)

    def slot(number: int) -> None:
        receiver = f"{name}/{number}"
        while (session_id := broker.call("accept_next_session", receiver)) is not None:
            while (message := broker.call("receive", session_id, receiver, session_idle_timeout_seconds)) is not None:
                try:
                    with busy, threads:
                        function(_trigger(message), HostContext())
                except Exception:  # the host abandons; Service Bus delivers it again or dead-letters it
                    broker.call("abandon", session_id, receiver)
                else:
                    broker.call("complete", session_id, receiver)
            broker.call("release", session_id, receiver)

    receivers = [threading.Thread(target=slot, args=(number,), name=f"session-{number}") for number in range(slots)]
    for receiver in receivers:
        receiver.start()
    for receiver in receivers:
        receiver.join()
    broker.call("instance_done", name, time.process_time() - started_cpu, busy.periods)


class BusyPeriods:
    """The lengths, in seconds, of the periods in which at least one invocation was in progress on the instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_progress = 0
        self._since = 0.0
        self.periods: list[float] = []

    def __enter__(self) -> None:
        with self._lock:
            if self._in_progress == 0:
                self._since = time.monotonic()
            self._in_progress += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._in_progress -= 1
            if self._in_progress == 0:
                self.periods.append(time.monotonic() - self._since)


def _send_to(broker: BrokerClient) -> None:
    """Route every ServiceBusSender.send_messages of this process to the broker, by the sender's queue."""

    def deliver(queue: str, message: ServiceBusMessage) -> None:
        broker.call("send", queue, _wire(message))

    ServiceBusSender.send_messages = routed_send_messages(deliver)  # type: ignore[method-assign]


def _wire(message: ServiceBusMessage) -> Message:
    scheduled = message.scheduled_enqueue_time_utc
    return Message(
        body=body_bytes(message),
        message_id=str(message.message_id),
        session_id=message.session_id,
        correlation_id=message.correlation_id,
        content_type=message.content_type,
        application_properties={str(key): value for key, value in (message.application_properties or {}).items()},
        scheduled_at=scheduled.timestamp() if scheduled is not None else None,
    )


def _trigger(message: Message) -> TriggerMessage:
    """The azure.functions message the host builds for one delivery."""
    return TriggerMessage(
        body=message.body,
        message_id=message.message_id,
        delivery_count=message.delivery_count,
        correlation_id=message.correlation_id,
        session_id=message.session_id,
        content_type=message.content_type,
        application_properties=dict(message.application_properties),
        user_properties=dict(message.application_properties),
        sequence_number=message.sequence_number,
        enqueued_time_utc=datetime.fromtimestamp(message.enqueued_at, UTC),
    )
