"""`dlq list`, `dlq show` and `dlq replay`: the bookings queue's dead letters.

Kept apart because replaying is the one place a message is copied from one queue to another,
and the copy's rules (what is kept, what is dropped, when the original goes) belong together.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
from dataclasses import dataclass
from typing import Any, TextIO

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiver, ServiceBusSender, ServiceBusSubQueue

from bridgectl.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bridgectl.queues.connection import (
    QueueCommandError,
    QueueEndpoint,
    first_line,
    open_client,
    opened,
    resolve_endpoint,
    talking_to,
)
from bridgectl.queues.messages import (
    decoded,
    json_object,
    message_body,
    message_properties,
    render_table,
    string_field,
    terminal_json,
)
from bridgectl.queues.settlement import SCAN_LIMIT, peek_all, receive_and_settle, report_settlement
from shared.log_text import escaped

REPLAYED_FROM = "replayedFrom"
REPLAY_COUNT = "replayCount"
# Service Bus keeps the dead-letter reason in these application properties; a replayed copy
# is a fresh delivery, so it does not carry them.
_DEAD_LETTER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})
# Digits 0-9 only: str.isdigit is also true of "²", which int() refuses, and of other scripts' digits.
_COUNT = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class DeadLetterRow:
    """A dead-lettered booking as an operator needs to see it before replaying it."""

    sequence_number: int | None
    message_id: str | None
    enqueued_time: str | None
    delivery_count: int | None
    reason: str | None
    description: str | None
    source: str | None
    record_id: str | None

    @property
    def record(self) -> str:
        return f"{self.source or '?'}/{self.record_id or '?'}"


def read_dead_letter(message: Any) -> DeadLetterRow:
    """Dead-letter facts from the message; source and recordId from the body, else its properties."""
    document = json_object(message_body(message))
    properties = message_properties(message)
    enqueued = message.enqueued_time_utc
    return DeadLetterRow(
        sequence_number=message.sequence_number,
        message_id=decoded(message.message_id),
        enqueued_time=enqueued.isoformat() if enqueued else None,
        delivery_count=message.delivery_count,
        reason=message.dead_letter_reason,
        description=message.dead_letter_error_description,
        source=string_field(document, "source") or string_field(properties, "source"),
        record_id=string_field(document, "recordId") or string_field(properties, "recordId"),
    )


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: any of the message ids, any of the sources, any of the reasons (all if empty)."""

    message_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()

    def matches(self, row: DeadLetterRow) -> bool:
        return (
            (not self.message_ids or row.message_id in self.message_ids)
            and (not self.sources or row.source in self.sources)
            and (not self.reasons or (row.reason or "").lower() in self.reasons)
        )

    @property
    def is_empty(self) -> bool:
        return not (self.message_ids or self.sources or self.reasons)


def dead_letter_filter_from(args: argparse.Namespace) -> DeadLetterFilter:
    return DeadLetterFilter(
        message_ids=frozenset(getattr(args, "message_id", None) or ()),
        sources=frozenset(args.source),
        reasons=frozenset(reason.lower() for reason in args.reason),
    )


DEAD_LETTER_TABLE_HEADERS = ("SEQ", "MESSAGE ID", "ENQUEUED (UTC)", "DELIVERIES", "SOURCE/RECORD", "REASON", "DESCRIPTION")


def dead_letter_table_row(row: DeadLetterRow) -> list[str]:
    return [
        str(row.sequence_number),
        row.message_id or "-",
        row.enqueued_time or "-",
        "-" if row.delivery_count is None else str(row.delivery_count),
        row.record,
        row.reason or "-",
        row.description or "-",
    ]


def dead_letter_json(row: DeadLetterRow) -> dict[str, Any]:
    return {
        "sequenceNumber": row.sequence_number,
        "messageId": row.message_id,
        "enqueuedTimeUtc": row.enqueued_time,
        "deliveryCount": row.delivery_count,
        "deadLetterReason": row.reason,
        "deadLetterErrorDescription": row.description,
        "source": row.source,
        "recordId": row.record_id,
    }


def dead_letter_details(message: Any) -> dict[str, Any]:
    """Everything `dlq show` prints: the listing's facts, every property, and the full body."""
    body = message_body(message)
    document = json_object(body)
    return {
        **dead_letter_json(read_dead_letter(message)),
        "correlationId": decoded(message.correlation_id),
        "sessionId": message.session_id,
        "contentType": message.content_type,
        "subject": message.subject,
        "applicationProperties": message_properties(message),
        "body": document if document is not None else body.decode("utf-8", errors="replace"),
    }


def replay_copy(original: Any) -> ServiceBusMessage:
    """The message to send back to the bookings queue for a dead-lettered one.

    Same body, message id, correlation id, session id, content type and subject, so the
    result correlates as the first attempt would have; replayedFrom names the dead-letter
    sequence number and replayCount goes up by one. The time-to-live is not copied: an
    expired time-to-live may be why it was dead-lettered, so the copy takes the queue's default.
    """
    properties: dict[str | bytes, Any] = {
        name: value for name, value in message_properties(original).items() if name not in _DEAD_LETTER_PROPERTIES
    }
    properties[REPLAYED_FROM] = original.sequence_number
    properties[REPLAY_COUNT] = _replay_count(properties.get(REPLAY_COUNT)) + 1
    return ServiceBusMessage(
        message_body(original),
        message_id=decoded(original.message_id),
        correlation_id=decoded(original.correlation_id),
        session_id=original.session_id,
        content_type=original.content_type,
        subject=original.subject,
        application_properties=properties,
    )


def _replay_count(value: Any) -> int:
    """The replayCount a dead letter carries; anything else than a count (a producer can set any property) is 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    if isinstance(value, str) and _COUNT.fullmatch(value):
        return int(value)
    return 0


def _dead_letter_receiver(client: ServiceBusClient, endpoint: QueueEndpoint) -> ServiceBusReceiver:
    return client.get_queue_receiver(endpoint.bookings_queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER)


def run_dlq_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Peek the bookings queue's dead letters, filtered, as a table or JSON lines."""
    endpoint = resolve_endpoint(args)
    wanted = dead_letter_filter_from(args)
    queue = endpoint.dead_letter_queue
    with (
        talking_to(endpoint, queue, "Receiver"),
        open_client(endpoint) as client,
        opened(_dead_letter_receiver(client, endpoint), endpoint, queue, err) as receiver,
    ):
        messages = peek_all(receiver, lambda message: wanted.matches(read_dead_letter(message)), limit=args.max)
    rows = [read_dead_letter(message) for message in messages]
    if args.format == "jsonl":
        out.writelines(terminal_json(dead_letter_json(row)) + "\n" for row in rows)
    elif rows:
        out.write(render_table(DEAD_LETTER_TABLE_HEADERS, [dead_letter_table_row(row) for row in rows]) + "\n")
    err.write(f"{len(rows)} dead-lettered message(s) in {queue} (peeked; nothing was removed)\n")
    return EXIT_OK


def shows(key: str, message: Any) -> bool:
    """`dlq show` takes a sequence number or a message id."""
    return str(message.sequence_number) == key or decoded(message.message_id) == key


def run_dlq_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the full body and properties of the dead letters with this sequence number or message id."""
    endpoint = resolve_endpoint(args)
    queue = endpoint.dead_letter_queue
    with (
        talking_to(endpoint, queue, "Receiver"),
        open_client(endpoint) as client,
        opened(_dead_letter_receiver(client, endpoint), endpoint, queue, err) as receiver,
    ):
        messages = peek_all(receiver, functools.partial(shows, args.key), limit=SCAN_LIMIT)
    if not messages:
        err.write(f"error: no dead-lettered message with sequence number or message id {args.key!r} in {queue}\n")
        return EXIT_FAILED
    for message in messages:
        out.write(terminal_json(dead_letter_details(message), indent=2) + "\n")
    return EXIT_OK


def run_dlq_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Send copies of the chosen dead letters back to the bookings queue; remove each original only after."""
    wanted = dead_letter_filter_from(args)
    if wanted.is_empty and not args.all:
        err.write("error: choose what to replay: --message-id ID, --source SOURCE, --reason REASON, or --all\n")
        return EXIT_USAGE
    endpoint = resolve_endpoint(args)
    if args.dry_run:
        return _preview_replay(endpoint, wanted, args.max, out, err)
    return _replay(endpoint, wanted, args, out, err)


def _preview_replay(endpoint: QueueEndpoint, wanted: DeadLetterFilter, limit: int, out: TextIO, err: TextIO) -> int:
    queue = endpoint.dead_letter_queue
    with (
        talking_to(endpoint, queue, "Receiver"),
        open_client(endpoint) as client,
        opened(_dead_letter_receiver(client, endpoint), endpoint, queue, err) as receiver,
    ):
        messages = peek_all(receiver, lambda message: wanted.matches(read_dead_letter(message)), limit=limit)
    for message in messages:
        copy = replay_copy(message)
        line = {**dead_letter_json(read_dead_letter(message)), "replayAs": message_properties(copy)}
        out.write(terminal_json(line) + "\n")
    err.write(
        f"dry run: would replay {len(messages)} message(s) from {queue} to {endpoint.bookings_queue}; nothing was touched\n"
    )
    return EXIT_OK


def _replay(endpoint: QueueEndpoint, wanted: DeadLetterFilter, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    dead_letters = endpoint.dead_letter_queue
    with talking_to(endpoint, dead_letters, "Receiver"), contextlib.ExitStack() as stack:
        client = stack.enter_context(open_client(endpoint))
        receiver = stack.enter_context(opened(_dead_letter_receiver(client, endpoint), endpoint, dead_letters, err))
        # Opened before anything is received, so a missing Data Sender role stops the replay with nothing locked.
        with talking_to(endpoint, endpoint.bookings_queue, "Sender"):
            sender = stack.enter_context(
                opened(client.get_queue_sender(endpoint.bookings_queue), endpoint, endpoint.bookings_queue, err)
            )
        replay_one = functools.partial(_replay_one, endpoint, receiver, sender, out)
        # Each id is replayed once: stopping when all were found spares the rest of the queue a lock.
        limit = min(args.max, len(wanted.message_ids)) if wanted.message_ids else args.max
        outcome = receive_and_settle(
            receiver,
            lambda message: wanted.matches(read_dead_letter(message)),
            replay_one,
            limit=limit,
            wait=args.wait,
            selective=not wanted.is_empty,
        )
    report_settlement(outcome, dead_letters, err)
    err.write(f"replayed {outcome.handled} message(s) from {dead_letters} to {endpoint.bookings_queue}\n")
    return EXIT_OK


def _replay_one(
    endpoint: QueueEndpoint, receiver: ServiceBusReceiver, sender: ServiceBusSender, out: TextIO, original: Any
) -> None:
    """Send the copy; only once it is on the bookings queue, complete the dead-lettered original."""
    copy = replay_copy(original)
    named = escaped(decoded(original.message_id))  # the producer's message id, for the operator's terminal
    try:
        with talking_to(endpoint, endpoint.bookings_queue, "Sender"):
            sender.send_messages(copy)
    except QueueCommandError as error:
        _abandon_quietly(receiver, original)
        raise QueueCommandError(
            f"{error}\nmessage {named} (dead-letter sequence number {original.sequence_number}) was not "
            "replayed and stays in the dead-letter queue"
        ) from error
    try:
        receiver.complete_message(original)
    except (AzureError, ValueError) as error:
        raise QueueCommandError(
            f"the copy of message {named} was sent to {endpoint.bookings_queue}, but the original could not "
            f"be removed from the dead-letter queue ({first_line(error)}): it is still there, so do not replay it again"
        ) from error
    line = {**dead_letter_json(read_dead_letter(original)), "replayAs": message_properties(copy)}
    out.write(terminal_json(line) + "\n")
    out.flush()


def _abandon_quietly(receiver: ServiceBusReceiver, message: Any) -> None:
    with contextlib.suppress(AzureError, ValueError):
        receiver.abandon_message(message)
