"""`send`: validate booking files locally, then put them on the bookings queue.

Kept apart because it is the only command that writes new bookings, and its message ids are
what duplicate detection relies on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from azure.servicebus import ServiceBusMessage, ServiceBusSender
from azure.servicebus.exceptions import MessageSizeExceededError

from bridgectl.exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from bridgectl.inputs import BookingInput, NoBookingMessages, read_inputs
from bridgectl.queues.connection import QueueCommandError, QueueEndpoint, open_client, opened, resolve_endpoint, talking_to
from bridgectl.queues.messages import message_body, message_properties
from shared.booking import Booking, parse_booking
from shared.errors import InvalidBooking
from shared.external_id import derive_external_id
from shared.log_text import MAX_LOGGED_ERROR_LENGTH, escaped
from shared.publisher import CONTENT_TYPE

# Fixed for ever: booking message ids derived from it are what duplicate detection compares.
BOOKING_MESSAGE_NAMESPACE = uuid.UUID("f09112c9-e5cc-475d-9af0-b6b1dbe889b2")
BOOKING_SUBJECT = "booking"
_AGAIN_IS_SAFE = "sending the same inputs again is safe (same message ids, and createOrGet returns the meeting already made)"


@dataclass(frozen=True)
class ValidBooking:
    """One input that passed the booking contract: its original bytes are what is sent."""

    label: str
    body: bytes
    booking: Booking


def validate_inputs(inputs: Iterable[BookingInput]) -> tuple[list[ValidBooking], list[str]]:
    """Parse every input with the function's own parser; return the valid ones and one line per problem."""
    valid: list[ValidBooking] = []
    problems: list[str] = []
    for item in inputs:
        try:
            valid.append(ValidBooking(item.label, item.body, parse_booking(item.body)))
        except InvalidBooking as error:
            problems += describe_invalid(item.label, error)
    return valid, problems


def describe_invalid(label: str, error: InvalidBooking) -> list[str]:
    """`<file>: <field path>: <reason>` for each problem, or the message-level reason."""
    if not error.problems:
        return [f"{label}: {error.code}: {error.message}"]
    return [f"{label}: {problem.field or '(whole message)'}: {problem.reason}" for problem in error.problems]


def booking_message_id(booking: Booking, body: bytes) -> str:
    """UUIDv5 over "<source>\\n<recordId>\\n<revision or empty>\\n<sha256 of the body bytes, hex>".

    The same file always gets the same id, so sending it twice is dropped where duplicate
    detection is on, and the result's id (derived from this one) is dropped on the results
    queue. A changed body or a new revision is a new message.
    """
    revision = "" if booking.revision is None else str(booking.revision)
    digest = hashlib.sha256(body).hexdigest()
    return str(uuid.uuid5(BOOKING_MESSAGE_NAMESPACE, f"{booking.source}\n{booking.record_id}\n{revision}\n{digest}"))


def to_booking_message(item: ValidBooking, *, correlation_id: str | None = None) -> ServiceBusMessage:
    """The wire form of a booking: the original bytes, a deterministic id, filterable properties, and the
    externalId as session id (the bookings queue requires sessions; one record, one session, in order)."""
    message_id = booking_message_id(item.booking, item.body)
    return ServiceBusMessage(
        item.body,
        message_id=message_id,
        correlation_id=correlation_id or message_id,
        content_type=CONTENT_TYPE,
        subject=BOOKING_SUBJECT,
        application_properties={"source": item.booking.source, "recordId": item.booking.record_id},
        session_id=derive_external_id(item.booking.source, item.booking.record_id),
    )


def describe_outgoing(label: str, message: ServiceBusMessage, *, with_body: bool = False) -> dict[str, Any]:
    """What a sent (or, in a dry run, unsent) message carries, as one JSON-ready object."""
    properties = message_properties(message)
    description = {
        "input": label,
        "messageId": message.message_id,
        "correlationId": message.correlation_id,
        "sessionId": message.session_id,
        "subject": message.subject,
        "contentType": message.content_type,
        "applicationProperties": properties,
        "externalId": derive_external_id(properties["source"], properties["recordId"]),
    }
    if with_body:
        description["body"] = message_body(message).decode("utf-8")
    return description


def send_in_batches(
    sender: ServiceBusSender, messages: Sequence[ServiceBusMessage], on_sent: Callable[[list[ServiceBusMessage]], None]
) -> None:
    """Send in as few batches as the link's size limit allows; call on_sent after each batch went."""
    batch = sender.create_message_batch()
    pending: list[ServiceBusMessage] = []
    for message in messages:
        try:
            batch.add_message(message)
        except MessageSizeExceededError:
            if not pending:
                raise
            sender.send_messages(batch)
            on_sent(pending)
            batch, pending = sender.create_message_batch(), []
            batch.add_message(message)
        pending.append(message)
    if pending:
        sender.send_messages(batch)
        on_sent(pending)


def run_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate every input, then send the valid ones (all of them, unless --skip-invalid)."""
    try:
        inputs = read_inputs(args.inputs, err=err)
    except (OSError, NoBookingMessages) as error:
        err.write(f"error: {escaped(error, MAX_LOGGED_ERROR_LENGTH)}\n")  # a path is anyone's text
        return EXIT_USAGE
    valid, problems = validate_inputs(inputs)
    for problem in problems:  # a field's name is the booking's own key, as it spelt it
        err.write(f"invalid: {escaped(problem, MAX_LOGGED_ERROR_LENGTH)}\n")
    if problems and not args.skip_invalid:
        err.write(
            f"nothing sent: {len(inputs) - len(valid)} of {len(inputs)} message(s) are invalid (--skip-invalid sends the rest)\n"
        )
        return EXIT_FAILED
    if not valid:
        err.write("nothing sent: no valid booking message\n")
        return EXIT_FAILED
    labelled = [(item.label, to_booking_message(item, correlation_id=args.correlation_id)) for item in valid]
    if args.dry_run:
        for label, message in labelled:
            out.write(json.dumps(describe_outgoing(label, message, with_body=True)) + "\n")
        err.write(f"dry run: would send {len(labelled)} message(s); nothing was sent\n")
        return EXIT_OK
    return _send_to_queue(resolve_endpoint(args), labelled, out, err)


def _send_to_queue(endpoint: QueueEndpoint, labelled: list[tuple[str, ServiceBusMessage]], out: TextIO, err: TextIO) -> int:
    labels = {id(message): label for label, message in labelled}
    sent: list[ServiceBusMessage] = []

    def report(batch: list[ServiceBusMessage]) -> None:
        sent.extend(batch)
        for message in batch:
            out.write(json.dumps(describe_outgoing(labels[id(message)], message)) + "\n")
        out.flush()

    queue = endpoint.bookings_queue
    try:
        with (
            talking_to(endpoint, queue, "Sender"),
            open_client(endpoint) as client,
            opened(client.get_queue_sender(queue), endpoint, queue, err) as sender,
        ):
            send_in_batches(sender, [message for _, message in labelled], report)
    except QueueCommandError:
        err.write(f"{len(sent)} of {len(labelled)} message(s) were sent before the failure; {_AGAIN_IS_SAFE}\n")
        raise
    except KeyboardInterrupt:
        err.write(f"interrupted: {len(sent)} of {len(labelled)} message(s) were sent; {_AGAIN_IS_SAFE}\n")
        return EXIT_INTERRUPTED
    err.write(f"sent {len(sent)} message(s) to {queue} in {endpoint.namespace}\n")
    return EXIT_OK
