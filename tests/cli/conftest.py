"""Fixtures of the queue CLI tests: the faked broker, with results or dead letters on it, and no real token ever."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridgectl.queues import connection
from shared.settings import (
    DEFAULT_RESULTS_QUEUE,
    SERVICE_BUS_NAMESPACE,
)
from tests.cli.fakes import (
    DLQ,
    NAMESPACE,
    QUEUE_SETTINGS,
    Broker,
    FakeClient,
    dead_letter,
    result_message,
)


@pytest.fixture(autouse=True)
def _no_real_credential_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DefaultAzureCredential is built but never asked for a token; make sure of it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test asked for a real token")

    monkeypatch.setattr("azure.identity.DefaultAzureCredential.get_token", refuse)
    yield


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    """The namespace the CLI reaches, from settings as an operator's shell has them."""
    for name in QUEUE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(SERVICE_BUS_NAMESPACE, NAMESPACE)
    fake = Broker()

    def build(target: Any, credential: Any) -> FakeClient:
        assert target.fully_qualified_namespace == NAMESPACE
        fake.clients_built += 1
        return FakeClient(fake)

    monkeypatch.setattr(connection, "build_service_bus_client", build)
    return fake


@pytest.fixture
def results(broker: Broker) -> Broker:
    broker.queues[DEFAULT_RESULTS_QUEUE] = [
        result_message(1, "created", "crm-eu", "BK-1", meeting={"id": "m1", "joinWebUrl": "https://teams.example/l/1"}),
        result_message(2, "failed", "lms", "C-7", error={"code": "NotFound", "message": "no such user"}),
        result_message(3, "rejected", "crm-eu", "BK-3", error={"code": "invalid_booking", "message": "bad"}),
        result_message(4, "failed", "crm-eu", "BK-4", error={"code": "BadRequest", "message": "bad"}),
    ]
    return broker


@pytest.fixture
def dead_letters(broker: Broker) -> Broker:
    broker.queues[DLQ] = [
        dead_letter(11),
        dead_letter(12, source="lms", reason="TTLExpiredException", properties={"replayCount": 1}),
        dead_letter(13, session_id="session-13"),
    ]
    return broker
