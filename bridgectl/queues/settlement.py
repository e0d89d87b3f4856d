"""Receiving and peeking so that nothing is lost.

`results --receive` and `dlq replay` both lock messages; the rule that only a handled message
is settled and every other one is given back is written once, here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusReceiver

PEEK_PAGE = 100
RECEIVE_BATCH = 50
# At most this many messages are looked at (and, when receiving, held locked) in one run.
SCAN_LIMIT = 1000
MIN_RECEIVE_WAIT_SECONDS = 1.0
_PEEK_POLL_SECONDS = 1.0


@dataclass
class Settlement:
    """What one receiving run did: how many it handled, and what it gave back to the queue."""

    handled: int = 0
    abandoned: int = 0
    not_abandoned: int = 0


def receive_and_settle(
    receiver: ServiceBusReceiver,
    chosen: Callable[[Any], bool],
    handle: Callable[[Any], None],
    *,
    limit: int,
    wait: float,
    selective: bool,
) -> Settlement:
    """Receive (peek-lock) until `limit` chosen messages were handled or the queue has no more.

    `handle` settles each chosen message itself. The others stay locked until the end and are
    then abandoned: abandoning at once would put them back at the head of the queue, where the
    next receive would get them again. A message seen twice means its lock lapsed, so the
    scan has gone round and stops. If `handle` raises, what is held is abandoned first.
    Unless `selective` (a filter may refuse messages), no more than `limit` are received, since
    every receive raises a message's delivery count.
    """
    outcome = Settlement()
    held: list[Any] = []
    seen: set[int] = set()
    try:
        while outcome.handled < limit and len(seen) < SCAN_LIMIT:
            wanted = RECEIVE_BATCH if selective else limit - outcome.handled
            batch = receiver.receive_messages(
                max_message_count=min(RECEIVE_BATCH, wanted, SCAN_LIMIT - len(seen)),
                max_wait_time=max(wait, MIN_RECEIVE_WAIT_SECONDS),
            )
            if not batch or not _take_batch(batch, seen, held, chosen, handle, outcome, limit):
                break
    finally:
        _abandon_all(receiver, held, outcome)
    return outcome


def _take_batch(
    batch: list[Any],
    seen: set[int],
    held: list[Any],
    chosen: Callable[[Any], bool],
    handle: Callable[[Any], None],
    outcome: Settlement,
    limit: int,
) -> bool:
    """Handle the chosen messages of one batch and hold the rest; False when the scan has gone round."""
    # Held until handled, so that if handling fails midway the rest of the batch is given back too.
    held.extend(batch)
    fresh = True
    for message in batch:
        if message.sequence_number in seen:
            fresh = False
            continue
        seen.add(message.sequence_number)
        if outcome.handled < limit and chosen(message):
            held.remove(message)
            handle(message)
            outcome.handled += 1
    return fresh


def _abandon_all(receiver: ServiceBusReceiver, held: list[Any], outcome: Settlement) -> None:
    for message in held:
        try:
            receiver.abandon_message(message)
            outcome.abandoned += 1
        except (AzureError, ValueError):
            # Lock lost or link gone: the message is back in the queue once its lock lapses.
            outcome.not_abandoned += 1
    held.clear()


def peek_all(
    receiver: ServiceBusReceiver,
    chosen: Callable[[Any], bool],
    *,
    limit: int,
    wait: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Any]:
    """Browse from the oldest message, page by page, keeping up to `limit` chosen ones; touches nothing.

    With `wait`, keeps looking for newly arrived messages until the time is up.
    """
    deadline = clock() + wait
    found: list[Any] = []
    next_sequence = 1
    scanned = 0
    while len(found) < limit and scanned < SCAN_LIMIT:
        page = receiver.peek_messages(max_message_count=PEEK_PAGE, sequence_number=next_sequence)
        if page:
            scanned += len(page)
            last = page[-1].sequence_number
            assert last is not None  # a peeked message always carries one (only a message being built has none)
            next_sequence = last + 1
            found += [message for message in page if chosen(message)]
            continue
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(_PEEK_POLL_SECONDS, remaining))
    return found[:limit]


def report_settlement(outcome: Settlement, queue: str, err: TextIO) -> None:
    if outcome.abandoned:
        err.write(f"{outcome.abandoned} message(s) not chosen were abandoned: they stay in {queue}\n")
    if outcome.not_abandoned:
        err.write(
            f"{outcome.not_abandoned} message(s) could not be abandoned (lock lost); they return to {queue} "
            "when their lock expires\n"
        )
