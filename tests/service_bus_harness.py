"""A Service Bus stand-in for whole-run tests: the bookings queue with sessions, redelivery, dead-lettering
and scheduled messages, and the results queue with duplicate detection.

It takes over where tests/conftest.py intercepts Service Bus, at ServiceBusSender.send_messages, so the
app's own ServiceBusClient, senders and ServiceBusMessages are the real SDK's; and it invokes the indexed
function with the azure.functions ServiceBusMessage the host builds, as tests.conftest.HostInvoker does.

Modelled, as Service Bus and the Functions trigger behave with the queues infra/ creates:
- a sequence number per queue, given when a message is sent (a scheduled one too);
- sessions: at most one message of a session in flight; a session's messages in the order they became
  available; different sessions in parallel on `workers` threads (the host's maxConcurrentSessions);
- the function returns: the message is completed. It raises: the message is abandoned, its delivery
  count goes up by one and it is again the head of its session, available at once; when the failed
  delivery's count had reached maxDeliveryCount it is dead-lettered instead, with the reason
  MaxDeliveryCountExceeded (the description here also names the last exception, which Service Bus's
  does not: there it is only in the function's log);
- scheduled_enqueue_time_utc: invisible until that moment (real clock), then at the tail of its session;
- duplicate detection on the results queue (by message id), none on the bookings queue;
- results-queue sends that fail at a seeded rate, half of them after the queue accepted the message
  (a lost acknowledgement, which duplicate detection then absorbs).

A lost lock is modelled only on request (deliver_without_lock). Not modelled: lock duration and renewal,
session state and idle timeouts, time to live and expiry, prefetch, batches, transactions, the
message size limit, and the host's own retries of a failed send.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage as TriggerMessage
from azure.servicebus import ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import MessagingEntityNotFoundError, ServiceBusConnectionError

from devtools.invocation import HostContext
from devtools.service_bus_sends import body_bytes, routed_send_messages
from shared.settings import DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT, DEFAULT_BOOKINGS_QUEUE, DEFAULT_RESULTS_QUEUE

DEAD_LETTER_REASON = "MaxDeliveryCountExceeded"
# How often an idle worker looks again for due scheduled messages.
_POLL_SECONDS = 0.05


@dataclass
class QueuedMessage:
    """A message on the bookings queue, as the broker holds it."""

    body: bytes
    message_id: str
    session_id: str
    sequence_number: int
    enqueued_time_utc: datetime
    correlation_id: str | None = None
    content_type: str | None = None
    application_properties: dict[str, Any] = field(default_factory=dict)
    delivery_count: int = 1


@dataclass(frozen=True)
class DeadLetter:
    message: QueuedMessage
    reason: str
    description: str


@dataclass(frozen=True)
class FailedSend:
    """A results-queue send that raised; `accepted` when the queue had taken the message (lost acknowledgement)."""

    message_id: str
    accepted: bool


@dataclass(frozen=True)
class EscapedError:
    """An exception the function raised for one delivery."""

    message_id: str
    delivery_count: int
    error_type: type[BaseException]


class ServiceBusBroker:
    """The bookings and results queues of one namespace, and the host's invocation loop over the bookings queue."""

    def __init__(
        self,
        function: Callable[[TriggerMessage], None],
        *,
        max_delivery_count: int = DEFAULT_BOOKINGS_MAX_DELIVERY_COUNT,
        workers: int = 6,
        results_send_failure_rate: float = 0.0,
        seed: int = 0,
        bookings_queue: str = DEFAULT_BOOKINGS_QUEUE,
        results_queue: str = DEFAULT_RESULTS_QUEUE,
    ) -> None:
        self._function = function
        self._max_delivery_count = max_delivery_count
        self._workers = workers
        self._failure_rate = results_send_failure_rate
        self._random = random.Random(seed)
        self.bookings_queue = bookings_queue
        self.results_queue = results_queue
        self._condition = threading.Condition()
        self._sequence = itertools.count(1)
        self._sessions: dict[str, deque[QueuedMessage]] = {}
        self._in_flight: dict[str, tuple[QueuedMessage, float]] = {}
        self._scheduled: list[tuple[float, int, QueuedMessage]] = []
        self._stopping = False
        self._result_ids: set[str] = set()
        # What happened, for the test to read once run_until_idle has returned.
        self.results: list[ServiceBusMessage] = []  # accepted by the results queue, duplicates dropped
        self.result_sends: list[ServiceBusMessage] = []  # every send that reached the results queue
        self.failed_result_sends: list[FailedSend] = []
        self.requeued: list[ServiceBusMessage] = []  # the app's own sends to the bookings queue
        self.completed: list[QueuedMessage] = []
        self.dead_letters: list[DeadLetter] = []
        self.escaped: list[EscapedError] = []
        self.deliveries = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Route every ServiceBusSender.send_messages in the process to this broker, by the sender's entity."""
        monkeypatch.setattr(ServiceBusSender, "send_messages", routed_send_messages(self._app_send))

    # Producers

    def send(
        self,
        body: bytes,
        *,
        message_id: str,
        session_id: str,
        correlation_id: str | None = None,
        application_properties: dict[str, Any] | None = None,
    ) -> int:
        """A producer's send to the bookings queue; the message's sequence number."""
        with self._condition:
            message = self._new_message(
                body, message_id, session_id, correlation_id, "application/json", application_properties or {}
            )
            self._sessions.setdefault(session_id, deque()).append(message)
            self._condition.notify_all()
            return message.sequence_number

    # Running

    def run_until_idle(self, timeout: float) -> None:
        """Deliver on `workers` threads until nothing is queued, scheduled or in flight; AssertionError on timeout."""
        threads = [
            threading.Thread(target=self._work, name=f"service-bus-session-{number}", daemon=True)
            for number in range(self._workers)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._stopping = True
                    self._condition.notify_all()
                    raise AssertionError(f"the queues did not drain within {timeout:.0f} s:\n{self._stuck()}")
                self._condition.wait(min(remaining, _POLL_SECONDS))
            self._stopping = True
            self._condition.notify_all()
        for thread in threads:
            thread.join()
        with self._condition:
            self._stopping = False

    @property
    def redeliveries(self) -> int:
        """Deliveries after the first of the same message (abandoned, then delivered again)."""
        return self.deliveries - len(self.completed) - len(self.dead_letters)

    # The app's sends

    def _app_send(self, entity: str, message: ServiceBusMessage) -> None:
        if entity == self.results_queue:
            self._send_result(message)
        elif entity == self.bookings_queue:
            self._send_booking(message)
        else:
            raise MessagingEntityNotFoundError(message=f"the messaging entity {entity!r} could not be found")

    def _send_result(self, message: ServiceBusMessage) -> None:
        message_id = str(message.message_id)
        with self._condition:
            fails = self._random.random() < self._failure_rate
            acknowledgement_lost = fails and self._random.random() < 0.5
            if fails and not acknowledgement_lost:
                self.failed_result_sends.append(FailedSend(message_id, accepted=False))
                raise ServiceBusConnectionError(message="injected: the AMQP link was lost before the transfer")
            self.result_sends.append(message)
            if message_id not in self._result_ids:
                self._result_ids.add(message_id)
                self.results.append(message)
            if acknowledgement_lost:
                self.failed_result_sends.append(FailedSend(message_id, accepted=True))
                raise ServiceBusConnectionError(message="injected: the AMQP link was lost before the acknowledgement")

    def _send_booking(self, message: ServiceBusMessage) -> None:
        if not message.session_id:
            # What Service Bus answers for a session-enabled queue; a harness error, not a transient one.
            raise ValueError("a message without a session id cannot be sent to a queue that requires sessions")
        body = body_bytes(message)
        with self._condition:
            queued = self._new_message(
                body,
                str(message.message_id),
                str(message.session_id),
                message.correlation_id,
                message.content_type,
                dict(message.application_properties or {}),
            )
            self.requeued.append(message)
            scheduled = message.scheduled_enqueue_time_utc
            delay = (scheduled - datetime.now(UTC)).total_seconds() if scheduled is not None else 0.0
            if delay > 0:
                heapq.heappush(self._scheduled, (time.monotonic() + delay, queued.sequence_number, queued))
            else:
                self._sessions.setdefault(queued.session_id, deque()).append(queued)
            self._condition.notify_all()

    def _new_message(
        self,
        body: bytes,
        message_id: str,
        session_id: str,
        correlation_id: str | None,
        content_type: str | None,
        properties: dict[str, Any],
    ) -> QueuedMessage:
        return QueuedMessage(
            body=body,
            message_id=message_id,
            session_id=session_id,
            sequence_number=next(self._sequence),
            enqueued_time_utc=datetime.now(UTC),
            correlation_id=correlation_id,
            content_type=content_type,
            application_properties=properties,
        )

    # The host's side

    def _work(self) -> None:
        while (message := self._next()) is not None:
            try:
                self._function(_trigger(message), HostContext())
            except Exception as error:
                self._abandon(message, error)
            else:
                self._complete(message)

    def deliver_without_lock(self, body: bytes, *, message_id: str, session_id: str) -> None:
        """Deliver one message on the calling thread whatever else of its session is in flight, as after a lost
        session lock, and redeliver it until it completes or is dead-lettered (the bookkeeping is the broker's)."""
        with self._condition:
            message = self._new_message(body, message_id, session_id, None, "application/json", {})
        while True:
            with self._condition:
                self.deliveries += 1
            try:
                self._function(_trigger(message), HostContext())
            except Exception as error:
                with self._condition:
                    self.escaped.append(EscapedError(message.message_id, message.delivery_count, type(error)))
                    if message.delivery_count >= self._max_delivery_count:
                        self.dead_letters.append(DeadLetter(message, DEAD_LETTER_REASON, f"{type(error).__name__}: {error}"))
                        return
                    message.delivery_count += 1
                continue
            with self._condition:
                self.completed.append(message)
            return

    def _next(self) -> QueuedMessage | None:
        """Lock the available session whose head was sent first, and take that head; None once stopping."""
        with self._condition:
            while not self._stopping:
                self._release_due()
                candidates = [queue[0] for session, queue in self._sessions.items() if queue and session not in self._in_flight]
                if candidates:
                    message = min(candidates, key=lambda candidate: candidate.sequence_number)
                    self._sessions[message.session_id].popleft()
                    self._in_flight[message.session_id] = (message, time.monotonic())
                    self.deliveries += 1
                    return message
                self._condition.wait(_POLL_SECONDS)
            return None

    def _release_due(self) -> None:
        now = time.monotonic()
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, message = heapq.heappop(self._scheduled)
            self._sessions.setdefault(message.session_id, deque()).append(message)

    def _complete(self, message: QueuedMessage) -> None:
        with self._condition:
            del self._in_flight[message.session_id]
            self.completed.append(message)
            self._condition.notify_all()

    def _abandon(self, message: QueuedMessage, error: Exception) -> None:
        with self._condition:
            del self._in_flight[message.session_id]
            self.escaped.append(EscapedError(message.message_id, message.delivery_count, type(error)))
            if message.delivery_count >= self._max_delivery_count:
                description = f"{type(error).__name__}: {error}"
                self.dead_letters.append(DeadLetter(message, DEAD_LETTER_REASON, description))
            else:
                message.delivery_count += 1
                self._sessions[message.session_id].appendleft(message)
            self._condition.notify_all()

    def _idle(self) -> bool:
        return not self._in_flight and not self._scheduled and not any(self._sessions.values())

    def _stuck(self) -> str:
        now = time.monotonic()
        lines = [
            f"in flight: {message.message_id} (session {session}, delivery {message.delivery_count}, {now - since:.1f} s)"
            for session, (message, since) in self._in_flight.items()
        ]
        waiting = {session: len(queue) for session, queue in self._sessions.items() if queue}
        lines.append(f"available: {sum(waiting.values())} message(s) in {len(waiting)} session(s)")
        if self._scheduled:
            lines.append(f"scheduled: {len(self._scheduled)}, the next in {self._scheduled[0][0] - now:.1f} s")
        return "\n".join(lines)


def _trigger(message: QueuedMessage) -> TriggerMessage:
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
        enqueued_time_utc=message.enqueued_time_utc,
    )


def escaped_counts(errors: list[EscapedError]) -> Counter[str]:
    """How many deliveries raised each exception type, by type name."""
    return Counter(error.error_type.__name__ for error in errors)
