"""Service Bus and sign-in failures, worded as what the person at the terminal should do."""

from __future__ import annotations

import pytest
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.identity import CredentialUnavailableError
from azure.servicebus._pyamqp.error import TokenAuthFailure  # what pyamqp raises when CBS refuses a token
from azure.servicebus.exceptions import (
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusServerBusyError,
)

from bridgectl.exit_codes import EXIT_FAILED
from bridgectl.queues.connection import explain_service_bus_error
from shared.settings import (
    DEFAULT_BOOKINGS_QUEUE,
    DEFAULT_RESULTS_QUEUE,
)
from tests.cli.fakes import (
    NAMESPACE,
    SAMPLES,
    Broker,
    run,
)


def test_missing_queue(results: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    results.failures[("open receiver", DEFAULT_RESULTS_QUEUE)] = MessagingEntityNotFoundError(message="entity not found")
    code, _, err = run(capsys, "results")
    assert code == EXIT_FAILED
    assert f"error: queue not found: meeting-results in {NAMESPACE}" in err


def test_missing_sender_role_stops_replay_before_anything_is_locked(dead_letters: Broker, capsys) -> None:
    dead_letters.failures[("open sender", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusAuthorizationError(message="Unauthorized access")
    code, _, err = run(capsys, "dlq", "replay", "--all")
    assert code == EXIT_FAILED
    assert f"error: permission denied: you need Azure Service Bus Data Sender on bookings in {NAMESPACE}" in err
    assert not [call for call in dead_letters.calls if call[0] == "receive"]


def test_not_logged_in(broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    unavailable = CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token. Please run 'az login'")
    broker.failures[("open sender", DEFAULT_BOOKINGS_QUEUE)] = ServiceBusError("Handler failed.", error=unavailable)
    code, _, err = run(capsys, "send", str(SAMPLES / "01-new-booking.json"))
    assert code == EXIT_FAILED
    assert "error: not logged in: run az login" in err


def _explain(error: BaseException, role: str = "Receiver") -> str:
    return explain_service_bus_error(error, namespace=NAMESPACE, queue="meeting-results", role=role)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MessagingEntityNotFoundError(message="gone"), f"queue not found: meeting-results in {NAMESPACE}"),
        (ServiceBusAuthorizationError(message="Unauthorized"), "permission denied: you need Azure Service Bus Data Receiver on"),
        (
            ServiceBusAuthenticationError(
                error=TokenAuthFailure(401, b"Unauthorized access. 'Listen' claim(s) are required to perform this operation.")
            ),
            "permission denied: you need Azure Service Bus Data Receiver on meeting-results",
        ),
        (ServiceBusError("Handler failed.", error=CredentialUnavailableError("no credential")), "not logged in: run az login"),
        (ServiceBusAuthenticationError(message="token expired"), "not logged in: run az login"),
        (ServiceBusConnectionError(message="Name or service not known"), f"cannot reach {NAMESPACE}: Name or service not known"),
        (ServiceBusError("Handler failed.", error=OSError("Network is unreachable")), f"cannot reach {NAMESPACE}"),
        (ServiceBusServerBusyError(message="busy"), f"{NAMESPACE} is throttling"),
        (AzureError("something new"), "Service Bus failed on meeting-results"),
    ],
)
def test_errors_say_what_to_do(error: BaseException, expected: str) -> None:
    assert expected in _explain(error)


def test_a_sign_in_refusal_is_not_mistaken_for_a_missing_role() -> None:
    refused = ClientAuthenticationError("AADSTS700016: application not found")
    refused.status_code = 401
    assert _explain(ServiceBusError("Handler failed.", error=refused)).startswith("not logged in")
