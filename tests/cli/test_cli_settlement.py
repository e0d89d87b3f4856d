"""Receiving and peeking so that nothing is lost: a scan stops when it comes round, peeks page and wait."""

from __future__ import annotations

import json

import pytest

from bridgectl.queues import settlement
from tests.cli.fakes import (
    Broker,
    ReceivedStandIn,
    dead_letter,
    result_message,
    run,
)


class LapsingReceiver:
    """Gives the same messages again, as Service Bus does once a held message's lock has lapsed."""

    def __init__(self, messages: list[ReceivedStandIn]) -> None:
        self.messages = messages
        self.receives = 0
        self.abandoned: list[str] = []

    def receive_messages(self, max_message_count: int = 1, max_wait_time: float | None = None) -> list[ReceivedStandIn]:
        self.receives += 1
        return self.messages[:max_message_count]

    def abandon_message(self, message: ReceivedStandIn) -> None:
        self.abandoned.append(message.message_id)


def test_a_scan_that_comes_round_again_stops_and_gives_everything_back() -> None:
    receiver = LapsingReceiver([dead_letter(1), dead_letter(2)])
    outcome = settlement.receive_and_settle(receiver, lambda message: False, pytest.fail, limit=10, wait=1, selective=True)  # type: ignore[arg-type]
    assert receiver.receives == 2
    assert receiver.abandoned == ["booking-1", "booking-2", "booking-1", "booking-2"]
    assert (outcome.handled, outcome.abandoned) == (0, 4)


def test_peek_pages_through_the_queue_by_sequence_number(results: Broker, monkeypatch, capsys) -> None:
    monkeypatch.setattr(settlement, "PEEK_PAGE", 2)
    _, out, _ = run(capsys, "results", "--source", "crm-eu", "--max", "5")
    assert [json.loads(line)["recordId"] for line in out.splitlines()] == ["BK-1", "BK-3", "BK-4"]
    assert [detail for operation, _, detail in results.calls if operation == "peek"] == [1, 3, 5]


def test_peek_with_wait_looks_again_for_new_results_until_the_time_is_up() -> None:
    arrivals = [[], [result_message(7, "created", "crm-eu", "BK-7")]]
    now = [0.0]

    class Receiver:
        def peek_messages(self, max_message_count: int, *, sequence_number: int) -> list[ReceivedStandIn]:
            page = arrivals.pop(0) if arrivals else []
            return [message for message in page if message.sequence_number >= sequence_number]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    found = settlement.peek_all(Receiver(), lambda message: True, limit=2, wait=3, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert [message.message_id for message in found] == ["result-7"]
    assert now[0] == 3
