"""The burst model's Service Bus behaves as Service Bus does with the project's queues: sessions, peek-lock,
abandon and redelivery, dead-lettering at maxDeliveryCount, scheduled messages, duplicate detection on results;
and the model reads the host's settings from host.json and infra.

No duration is asserted: a wait that must end empty is short, one that must end with a message is long.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from bench.broker import Broker, BrokerClient, BrokerServer, Message
from bench.host_settings import read_host_settings, timespan_seconds

BOOKINGS, RESULTS = "bookings", "meeting-results"
LONG_WAIT = 20.0


@pytest.fixture
def broker() -> Broker:
    return Broker(bookings_queue=BOOKINGS, results_queue=RESULTS, max_delivery_count=3, round_trip_seconds=0.0)


def booking(message_id: str, session_id: str, **fields: object) -> Message:
    return Message(b"{}", message_id, session_id, **fields)  # type: ignore[arg-type]


def test_a_session_is_held_by_one_receiver_and_its_messages_come_one_at_a_time_in_order(broker: Broker) -> None:
    for number in range(3):
        broker.send(BOOKINGS, booking(f"m{number}", "record-a"))
    broker.send(BOOKINGS, booking("other", "record-b"))

    first = broker.accept_next_session("instance-0/0")
    second = broker.accept_next_session("instance-1/0")
    received = broker.receive("record-a", "instance-0/0", 0)

    assert (first, second) == ("record-a", "record-b")
    assert received is not None and received.message_id == "m0"
    with pytest.raises(RuntimeError, match="does not hold the lock"):
        broker.receive("record-a", "instance-1/0", 0)
    broker.complete("record-a", "instance-0/0")
    following = broker.receive("record-a", "instance-0/0", 0)
    assert following is not None and following.message_id == "m1"


def test_a_session_with_no_message_within_the_wait_gives_none_and_its_release_frees_it_for_any_receiver(broker: Broker) -> None:
    broker.send(BOOKINGS, booking("m0", "record-a"))
    broker.accept_next_session("instance-0/0")
    broker.receive("record-a", "instance-0/0", 0)
    broker.complete("record-a", "instance-0/0")

    nothing = broker.receive("record-a", "instance-0/0", 0.05)
    broker.release("record-a", "instance-0/0")
    broker.send(BOOKINGS, booking("m1", "record-a"))

    assert nothing is None
    assert broker.accept_next_session("instance-1/3") == "record-a"
    assert broker.idle() is False


def test_an_abandoned_message_is_delivered_again_first_and_the_last_allowed_delivery_dead_letters_it(broker: Broker) -> None:
    broker.send(BOOKINGS, booking("m0", "record-a"))
    broker.send(BOOKINGS, booking("m1", "record-a"))
    broker.accept_next_session("instance-0/0")

    counts = []
    for _ in range(3):  # max_delivery_count is 3
        message = broker.receive("record-a", "instance-0/0", 0)
        assert message is not None and message.message_id == "m0"
        counts.append(message.delivery_count)
        broker.abandon("record-a", "instance-0/0")
    after = broker.receive("record-a", "instance-0/0", 0)

    assert counts == [1, 2, 3]
    assert broker.tally.dead_lettered == ["m0"]
    assert after is not None and after.message_id == "m1"
    assert broker.tally.deliveries == 4


def test_a_scheduled_message_is_invisible_until_due_then_at_the_tail_of_its_session(broker: Broker) -> None:
    broker.send(BOOKINGS, booking("later", "record-a", scheduled_at=time.time() + 0.5))
    broker.send(BOOKINGS, booking("now", "record-b"))

    first = broker.accept_next_session("instance-0/0")
    second = broker.accept_next_session("instance-0/1")  # waits until the scheduled message is due
    message = broker.receive("record-a", "instance-0/1", 0)

    assert (first, second) == ("record-b", "record-a"), "the scheduled message, sent first, was available before its time"
    assert message is not None and message.message_id == "later"


def test_the_results_queue_keeps_the_first_message_of_each_id(broker: Broker) -> None:
    for status in ("created", "existing"):
        broker.send(RESULTS, Message(b"{}", "result-1", None, "booking-1", application_properties={"status": status}))

    results = broker.kept_results()

    assert [(result.message_id, result.correlation_id, result.status) for result in results] == [
        ("result-1", "booking-1", "created")
    ]


def test_an_unknown_queue_and_a_booking_without_a_session_are_refused(broker: Broker) -> None:
    with pytest.raises(LookupError, match="could not be found"):
        broker.send("bookings-typo", booking("m0", "record-a"))
    with pytest.raises(ValueError, match="requires sessions"):
        broker.send(BOOKINGS, booking("m0", ""))


def test_stop_ends_every_wait(broker: Broker) -> None:
    outcome: list[str | None] = []
    waiting = threading.Thread(target=lambda: outcome.append(broker.accept_next_session("instance-0/0")))
    waiting.start()

    broker.stop()
    waiting.join(LONG_WAIT)

    assert outcome == [None]


def _receive_in_another_process(address: tuple[str, int], authkey: bytes, receivers: int) -> None:
    client = BrokerClient(address, authkey)

    def receive() -> None:
        receiver = threading.current_thread().name
        while (session_id := client.call("accept_next_session", receiver)) is not None:
            while client.call("receive", session_id, receiver, 0.01) is not None:
                client.call("complete", session_id, receiver)
            client.call("release", session_id, receiver)

    threads = [threading.Thread(target=receive, name=f"child/{number}") for number in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.call("instance_done", "child", 0.0)


def test_receivers_in_another_process_drain_the_queue_over_loopback_each_thread_on_its_own_connection(broker: Broker) -> None:
    with BrokerServer(broker) as server:
        for number in range(40):
            broker.send(BOOKINGS, booking(f"m{number}", f"record-{number % 10}"))
        child = multiprocessing.get_context("spawn").Process(
            target=_receive_in_another_process, args=(server.address, server.authkey, 16)
        )
        child.start()
        deadline = time.monotonic() + LONG_WAIT
        while not broker.idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        broker.stop()
        child.join(LONG_WAIT)

    assert broker.idle()
    assert child.exitcode == 0
    assert broker.tally.deliveries == 40
    assert broker.tally.instance_cpu_seconds == {"child": 0.0}


def test_the_model_reads_the_host_settings_as_deployed(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "host.json").write_text(
        '{"extensions": {"serviceBus": {"maxConcurrentSessions": 8, "sessionIdleTimeout": "00:00:00.250"}}}', encoding="utf-8"
    )
    (tmp_path / "infra" / "main.bicepparam").write_text(
        "param workerThreadCount = 12\nparam bookingsMaxDeliveryCount = 7\n", encoding="utf-8"
    )

    settings = read_host_settings(tmp_path)

    assert (settings.max_concurrent_sessions, settings.max_concurrent_calls_per_session) == (8, 1)
    assert (settings.session_idle_timeout_seconds, settings.worker_threads, settings.max_delivery_count) == (0.25, 12, 7)
    assert read_host_settings().max_delivery_count == 10  # the project's own infra


@pytest.mark.parametrize(("text", "seconds"), [("00:00:05", 5.0), ("00:01:00.5", 60.5), ("1.00:00:00", 86400.0)])
def test_a_timespan_is_read_as_dotnet_writes_it(text: str, seconds: float) -> None:
    assert timespan_seconds(text) == seconds


def test_a_timespan_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="TimeSpan"):
        timespan_seconds("5s")
