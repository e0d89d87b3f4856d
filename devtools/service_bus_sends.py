"""The Service Bus transfer replaced for tests and benchmarks: each message a sender sends goes to a stand-in broker.

Everything up to the AMQP transfer stays the SDK's own (ServiceBusClient, its senders, ServiceBusMessage); only
ServiceBusSender.send_messages is replaced, by a function that hands each message of a send, with the sender's
queue name, to the stand-in. The tests install it with pytest's monkeypatch, undone after each test; a benchmark's
instance process installs it for the life of the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.servicebus import ServiceBusMessage, ServiceBusSender

Deliver = Callable[[str, ServiceBusMessage], None]


def routed_send_messages(deliver: Deliver) -> Callable[..., None]:
    """A ServiceBusSender.send_messages that hands `deliver` the sender's queue name and each message of a send.

    A send takes one ServiceBusMessage or a list of them, as the SDK's does; anything else (a batch included,
    which the bridge never sends) is a TypeError naming its type, so a stand-in never drops a send unseen."""

    def send_messages(sender: ServiceBusSender, message: Any, *args: Any, **kwargs: Any) -> None:
        for one in message if isinstance(message, list) else [message]:
            if not isinstance(one, ServiceBusMessage):
                raise TypeError(f"the stand-in broker takes ServiceBusMessage or a list of them, not {type(one).__name__}")
            deliver(sender.entity_name, one)

    return send_messages


def body_bytes(message: ServiceBusMessage) -> bytes:
    """A sent message's body as bytes (the SDK holds it as bytes or as sections of bytes)."""
    body = message.body
    return body if isinstance(body, bytes) else b"".join(body)
