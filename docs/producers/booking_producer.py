"""A booking producer in Python: each booking message carries its record's externalId as session id.

Needs azure-servicebus and azure-identity (pip install azure-servicebus azure-identity).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from azure.identity import DefaultAzureCredential
from azure.servicebus import ServiceBusClient, ServiceBusMessage

# Fixed for ever by the contract (docs/contract.md, "externalId").
EXTERNAL_ID_NAMESPACE = uuid.UUID("ab4977e4-08f1-46c6-8a72-87cec761415d")


def external_id(source: str, record_id: str) -> str:
    """UUIDv5 of "<source>\\n<recordId>" (UTF-8) in the contract's namespace: lowercase, with hyphens."""
    return str(uuid.uuid5(EXTERNAL_ID_NAMESPACE, f"{source}\n{record_id}"))


def message_id(session_id: str, booking: dict[str, Any], body: bytes) -> str:
    """The same when the same booking is sent again: "<externalId>:<revision>", or for a booking without revision
    "<externalId>:<SHA-256 of the body, hex>"."""
    revision = booking.get("revision")
    return f"{session_id}:{hashlib.sha256(body).hexdigest() if revision is None else revision}"


def booking_message(booking: dict[str, Any]) -> ServiceBusMessage:
    """The Service Bus message for one booking: JSON body, session id = externalId, its message id."""
    session_id = external_id(booking["source"], booking["recordId"])
    body = json.dumps(booking, ensure_ascii=False).encode("utf-8")
    return ServiceBusMessage(
        body,
        session_id=session_id,
        message_id=message_id(session_id, booking, body),
        content_type="application/json",
    )


def send_bookings(namespace: str, bookings: Iterable[dict[str, Any]], queue: str = "bookings") -> None:
    """Send with your identity (Azure Service Bus Data Sender on the queue); no connection string, no key."""
    with (
        ServiceBusClient(namespace, DefaultAzureCredential()) as client,
        client.get_queue_sender(queue) as sender,
    ):
        for booking in bookings:
            sender.send_messages(booking_message(booking))
