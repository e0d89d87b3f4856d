"""The stand-in Service Bus transfer of tests and benchmarks hands on every message of a send, and refuses what it cannot.

devtools.service_bus_sends replaces ServiceBusSender.send_messages only: the sender is the SDK's own, and each
message of a send (one, or a list) reaches the stand-in with the sender's queue name.
"""

from __future__ import annotations

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSender

from devtools.service_bus_sends import body_bytes, routed_send_messages

CONNECTION = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=test;SharedAccessKey=dGVzdA=="


def _unopened_sender(queue: str) -> ServiceBusSender:
    """The SDK's sender, never opened: with send_messages replaced, nothing connects."""
    return ServiceBusClient.from_connection_string(CONNECTION).get_queue_sender(queue)


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    received: list[tuple[str, bytes]] = []
    monkeypatch.setattr(
        ServiceBusSender,
        "send_messages",
        routed_send_messages(lambda queue, message: received.append((queue, body_bytes(message)))),
    )
    return received


def test_each_message_of_a_send_reaches_the_stand_in_with_the_senders_queue(delivered: list[tuple[str, bytes]]) -> None:
    sender = _unopened_sender("results")

    sender.send_messages(ServiceBusMessage(b"one"))
    sender.send_messages([ServiceBusMessage("two"), ServiceBusMessage(b"three")])

    assert delivered == [("results", b"one"), ("results", b"two"), ("results", b"three")]


def test_a_send_of_anything_but_messages_is_refused_naming_its_type(delivered: list[tuple[str, bytes]]) -> None:
    sender = _unopened_sender("results")

    with pytest.raises(TypeError, match=r"not str$"):
        sender.send_messages(["a body, not a message"])  # type: ignore[list-item]

    assert delivered == []
