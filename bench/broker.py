"""The burst model's Service Bus: the bookings queue with sessions, and the results queue, served to instance processes.

Modelled as Service Bus behaves with the queues infra/modules/servicebus.bicep creates:
- sessions: a receiver accepts the next session that has a message available (here: the one whose head was
  enqueued first) and holds the session's lock until it releases it; only that receiver receives the session's
  messages, one at a time (maxConcurrentCallsPerSession 1), so one message of a session is in flight across
  every instance;
- peek-lock: a received message stays in flight until it is completed or abandoned. Abandoned, its delivery
  count goes up and it is the head of its session again, received again by the receiver that holds the session;
  a failed delivery whose count had reached maxDeliveryCount is dead-lettered instead;
- scheduled messages: invisible until their scheduled enqueue time, then at the tail of their session;
- the results queue keeps the first message of each message id (duplicate detection), the bookings queue all;
- every operation a client makes costs `round_trip_seconds` (an AMQP round trip), spent outside the broker's lock.

Not modelled: lock expiry and renewal (the host renews locks for longer than any invocation here takes), time to
live, prefetch, Service Bus's own throttling, and the cost of opening links beyond one round trip.

BrokerServer serves one Broker on loopback to other processes (multiprocessing.connection, with an authkey);
BrokerClient is their side, one connection per thread.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from types import TracebackType
from typing import Any

# Broker methods another process may call.
_REMOTE = frozenset(
    {"send", "accept_next_session", "receive", "complete", "abandon", "release", "instance_ready", "instance_done"}
)


@dataclass
class Message:
    """A message as a sender hands it over and as the broker delivers it (sequence number, time, delivery count)."""

    body: bytes
    message_id: str
    session_id: str | None = None
    correlation_id: str | None = None
    content_type: str | None = None
    application_properties: dict[str, Any] = field(default_factory=dict)
    scheduled_at: float | None = None  # time.time() when it becomes available
    sequence_number: int = 0
    enqueued_at: float = 0.0
    delivery_count: int = 0


@dataclass(frozen=True)
class Result:
    """A message the results queue kept: its status property, the booking it answers, and when it arrived."""

    message_id: str
    correlation_id: str | None
    status: str
    at: float


@dataclass
class Tally:
    """What happened on the bookings queue, and the instances' own reports."""

    deliveries: int = 0
    sessions_accepted: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    bookings_sent: int = 0  # every send to the bookings queue: the producer's and the function's own (re-enqueued copies)
    ready_instances: set[str] = field(default_factory=set)
    instance_cpu_seconds: dict[str, float] = field(default_factory=dict)
    instance_busy_periods: dict[str, list[float]] = field(default_factory=dict)


class Broker:
    """The two queues of one namespace. Thread-safe; every wait ends when stop() is called."""

    def __init__(self, *, bookings_queue: str, results_queue: str, max_delivery_count: int, round_trip_seconds: float) -> None:
        self.bookings_queue = bookings_queue
        self.results_queue = results_queue
        self._max_delivery_count = max_delivery_count
        self._round_trip = round_trip_seconds
        self._condition = threading.Condition()
        self._sequence = itertools.count(1)
        self._sessions: dict[str, deque[Message]] = {}
        self._owners: dict[str, str] = {}  # session id -> the receiver holding its lock
        self._in_flight: dict[str, Message] = {}  # session id -> its message being handled
        self._scheduled: list[tuple[float, int, Message]] = []
        self._stopping = False
        self.results: dict[str, Result] = {}
        self.tally = Tally()

    # Senders

    def send(self, queue: str, message: Message) -> None:
        """A sender's send: to the bookings queue (by session, or scheduled) or to the results queue."""
        self._travel()
        with self._condition:
            if queue == self.results_queue:
                status = str(message.application_properties.get("status", ""))
                result = Result(message.message_id, message.correlation_id, status, time.time())
                self.results.setdefault(message.message_id, result)
                return
            if queue != self.bookings_queue:
                raise LookupError(f"the messaging entity {queue!r} could not be found")
            if not message.session_id:
                raise ValueError("a message without a session id cannot be sent to a queue that requires sessions")
            message.sequence_number = next(self._sequence)
            message.enqueued_at = time.time()
            self.tally.bookings_sent += 1
            if message.scheduled_at is not None and message.scheduled_at > time.time():
                heapq.heappush(self._scheduled, (message.scheduled_at, message.sequence_number, message))
            else:
                self._sessions.setdefault(message.session_id, deque()).append(message)
            self._condition.notify_all()

    # Receivers (the host's session processor)

    def accept_next_session(self, receiver: str) -> str | None:
        """Lock the free session whose available head was enqueued first; wait for one. None once stopping."""
        self._travel()
        with self._condition:
            while not self._stopping:
                self._release_due()
                heads = [queue[0] for session, queue in self._sessions.items() if queue and session not in self._owners]
                if heads:
                    session_id = str(min(heads, key=lambda head: head.sequence_number).session_id)
                    self._owners[session_id] = receiver
                    self.tally.sessions_accepted += 1
                    return session_id
                self._condition.wait(self._next_due())
            return None

    def receive(self, session_id: str, receiver: str, wait_seconds: float) -> Message | None:
        """The session's next message, peek-locked; None when none arrives within `wait_seconds` or once stopping."""
        self._travel()
        deadline = time.monotonic() + wait_seconds
        with self._condition:
            self._check_owner(session_id, receiver)
            while not self._stopping:
                self._release_due()
                queue = self._sessions.get(session_id)
                if queue:
                    message = queue.popleft()
                    message.delivery_count += 1
                    self._in_flight[session_id] = message
                    self.tally.deliveries += 1
                    return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                due = self._next_due()
                self._condition.wait(remaining if due is None else min(remaining, due))
            return None

    def complete(self, session_id: str, receiver: str) -> None:
        self._travel()
        with self._condition:
            self._check_owner(session_id, receiver)
            del self._in_flight[session_id]

    def abandon(self, session_id: str, receiver: str) -> None:
        """Back to the head of its session, or dead-lettered when that was the last delivery allowed."""
        self._travel()
        with self._condition:
            self._check_owner(session_id, receiver)
            message = self._in_flight.pop(session_id)
            if message.delivery_count >= self._max_delivery_count:
                self.tally.dead_lettered.append(message.message_id)
            else:
                self._sessions[session_id].appendleft(message)
            self._condition.notify_all()

    def release(self, session_id: str, receiver: str) -> None:
        """Close the session: its lock is free for any receiver."""
        self._travel()
        with self._condition:
            self._check_owner(session_id, receiver)
            if session_id in self._in_flight:
                raise RuntimeError(f"session {session_id} released with a message in flight")
            del self._owners[session_id]
            if not self._sessions.get(session_id):
                self._sessions.pop(session_id, None)
            self._condition.notify_all()

    # Instances and the run

    def instance_ready(self, name: str) -> None:
        with self._condition:
            self.tally.ready_instances.add(name)
            self._condition.notify_all()

    def instance_done(self, name: str, cpu_seconds: float, busy_periods: list[float] | None = None) -> None:
        """An instance's CPU seconds and the lengths of its periods with an invocation in progress."""
        with self._condition:
            self.tally.instance_cpu_seconds[name] = cpu_seconds
            self.tally.instance_busy_periods[name] = list(busy_periods or [])

    def kept_results(self) -> list[Result]:
        with self._condition:
            return list(self.results.values())

    def idle(self) -> bool:
        """Nothing available, scheduled or in flight."""
        with self._condition:
            return not self._in_flight and not self._scheduled and not any(self._sessions.values())

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()

    def _travel(self) -> None:
        if self._round_trip:
            time.sleep(self._round_trip)

    def _check_owner(self, session_id: str, receiver: str) -> None:
        if self._owners.get(session_id) != receiver:
            raise RuntimeError(f"{receiver} does not hold the lock of session {session_id}")

    def _release_due(self) -> None:
        now = time.time()
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, message = heapq.heappop(self._scheduled)
            self._sessions.setdefault(str(message.session_id), deque()).append(message)

    def _next_due(self) -> float | None:
        """How long until the next scheduled message is due (None: nothing scheduled, wait for a notify)."""
        return max(0.0, self._scheduled[0][0] - time.time()) if self._scheduled else None


class BrokerServer:
    """Serves a Broker's remote methods on 127.0.0.1, one thread per client connection."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.authkey = secrets.token_bytes(32)
        # Every receiver of every instance connects at once: Listener's default backlog of 1 would leave most of them
        # connected at the TCP level but never accepted, waiting for the handshake for ever.
        self._listener = Listener(("127.0.0.1", 0), backlog=256, authkey=self.authkey)
        self._accepting = threading.Thread(target=self._accept, name="broker-accept", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        address: tuple[str, int] = self._listener.address  # type: ignore[assignment]  # an AF_INET listener's (host, port)
        return address

    def __enter__(self) -> BrokerServer:
        self._accepting.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.broker.stop()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection = self._listener.accept()
            except OSError:  # the listener was closed: the run is over
                return
            except (EOFError, AuthenticationError):  # a client that went away or had the wrong key: not one of ours
                continue
            threading.Thread(target=self._serve, args=(connection,), name="broker-connection", daemon=True).start()

    def _serve(self, connection: Connection) -> None:
        with connection:
            while True:
                try:
                    method, arguments = connection.recv()
                except (EOFError, OSError):
                    return
                if method not in _REMOTE:
                    connection.send((False, f"no remote method {method!r}"))
                    continue
                try:
                    connection.send((True, getattr(self.broker, method)(*arguments)))
                except Exception as error:  # the caller raises it: a model error must not pass unseen
                    connection.send((False, f"{type(error).__name__}: {error}"))


class BrokerClient:
    """A process's way to the broker: each thread calls over its own connection, as each receiver has its own link."""

    def __init__(self, address: tuple[str, int], authkey: bytes) -> None:
        self._address = address
        self._authkey = authkey
        self._local = threading.local()

    def call(self, method: str, *arguments: Any) -> Any:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = Client(self._address, authkey=self._authkey)
        connection.send((method, arguments))
        succeeded, value = connection.recv()
        if not succeeded:
            raise RuntimeError(f"broker.{method}: {value}")
        return value
