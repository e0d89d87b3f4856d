"""Where a queue command works and how it talks to Service Bus.

The namespace (or emulator) and queue names come from options or app settings, the client
signs in as the person, and any Service Bus or sign-in failure is worded as what to do next.
Every command needs these, so they live apart from what the commands do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeVar

from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.identity import DefaultAzureCredential
from azure.servicebus import ServiceBusClient, ServiceBusReceiver, ServiceBusSender
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityDisabledError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusQuotaExceededError,
    ServiceBusServerBusyError,
)

from bridgectl.waiting import said_if_slow
from shared.publisher import build_service_bus_client
from shared.settings import (
    BOOKINGS_QUEUE,
    RESULTS_QUEUE,
    SERVICE_BUS_CONNECTION,
    SERVICE_BUS_NAMESPACE,
    ServiceBusTarget,
    load_queue_settings,
)

_EMULATOR_ENDPOINT = re.compile(r"endpoint=sb://([^;/]+)", re.IGNORECASE)


class QueueCommandError(Exception):
    """A failure worded for the person at the terminal: what went wrong and what to do."""


# --- where: namespace, queues and the client ---------------------------------------------


@dataclass(frozen=True)
class QueueEndpoint:
    """The namespace (or emulator) and the two queue names a command works on."""

    target: ServiceBusTarget
    bookings_queue: str
    results_queue: str

    @property
    def namespace(self) -> str:
        """The namespace host, or `emulator at <host>`, for messages to people."""
        if self.target.fully_qualified_namespace:
            return self.target.fully_qualified_namespace
        match = _EMULATOR_ENDPOINT.search(self.target.emulator_connection_string or "")
        return f"emulator at {match.group(1) if match else 'localhost'}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.bookings_queue}/$DeadLetterQueue"


def resolve_endpoint(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> QueueEndpoint:
    """Options first, then the app settings' names in the environment, validated by shared.settings."""
    env = os.environ if environ is None else environ
    chosen = {name: env[name] for name in (BOOKINGS_QUEUE, RESULTS_QUEUE) if env.get(name)}
    if args.bookings_queue:
        chosen[BOOKINGS_QUEUE] = args.bookings_queue
    if args.results_queue:
        chosen[RESULTS_QUEUE] = args.results_queue
    if args.namespace:
        chosen[SERVICE_BUS_NAMESPACE] = args.namespace
    elif args.connection_string:
        chosen[SERVICE_BUS_CONNECTION] = args.connection_string
    else:
        chosen |= {name: env[name] for name in (SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE) if env.get(name)}
    settings = load_queue_settings(chosen)
    return QueueEndpoint(settings.service_bus, settings.bookings_queue, settings.results_queue)


def open_client(endpoint: QueueEndpoint) -> ServiceBusClient:
    """A client for the namespace signed in as the person (az login, VS Code, ...), or for the emulator."""
    # Never a browser window: the CLI runs in scripts and over SSH (excluded by default; said here on purpose).
    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    return build_service_bus_client(endpoint.target, credential)


_Link = TypeVar("_Link", ServiceBusSender, ServiceBusReceiver)


@contextlib.contextmanager
def opened(link: _Link, endpoint: QueueEndpoint, queue: str, err: TextIO) -> Iterator[_Link]:
    """Enter a sender or receiver (that is when the SDK connects and signs in, retrying a host that does not answer
    before it raises), saying what it waits for if that takes long."""
    with contextlib.ExitStack() as stack:
        with said_if_slow(
            err,
            f"{queue} in {endpoint.namespace} (connecting and signing in; the Service Bus client retries a host that does "
            "not answer before it gives up; Ctrl-C stops)",
        ):
            entered = stack.enter_context(link)
        yield entered


# --- errors a person can act on ------------------------------------------------------------


def explain_service_bus_error(error: BaseException, *, namespace: str, queue: str, role: str) -> str:
    """Word an azure-servicebus / azure-identity failure as what happened and what to do about it."""
    causes = list(_causes(error))
    if _any(causes, MessagingEntityNotFoundError):
        return (
            f"queue not found: {queue} in {namespace}. Check --bookings-queue/--results-queue "
            f"(or {BOOKINGS_QUEUE}/{RESULTS_QUEUE}) and the namespace"
        )
    if _permission_denied(causes):
        return (
            f"permission denied: you need Azure Service Bus Data {role} on {queue} in {namespace} "
            f"(az role assignment create --role 'Azure Service Bus Data {role}' --assignee <you> --scope <queue id>); "
            "a new role assignment can take a few minutes to apply"
        )
    if _any(causes, ClientAuthenticationError, ServiceBusAuthenticationError):
        return f"not logged in: run az login (signing in to {namespace} failed: {first_line(error)})"
    if _any(causes, ServiceBusConnectionError, ServiceBusCommunicationError, OperationTimeoutError, OSError):
        return (
            f"cannot reach {namespace}: {first_line(error)}. Check the host name, your network or VPN, and that "
            "outbound AMQP (TCP 5671; 5672 for the emulator) is allowed"
        )
    if _any(causes, ServiceBusServerBusyError, ServiceBusQuotaExceededError):
        return f"{namespace} is throttling or {queue} is full: {first_line(error)}. Wait a minute and run the command again"
    if _any(causes, MessagingEntityDisabledError):
        return (
            f"queue {queue} in {namespace} is disabled: enable it (Azure portal, or az servicebus queue update --status Active)"
        )
    if _any(causes, MessageSizeExceededError):
        return f"a message is larger than {queue} accepts: {first_line(error)}"
    return f"Service Bus failed on {queue} in {namespace}: {type(error).__name__}: {first_line(error)}"


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: azure-servicebus puts the original in inner_exception."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "inner_exception", None), current.__cause__, current.__context__]


def _any(causes: Sequence[BaseException], *kinds: type[BaseException]) -> bool:
    return any(isinstance(cause, kinds) for cause in causes)


def _permission_denied(causes: Sequence[BaseException]) -> bool:
    # A token without the role's claims is refused at CBS put-token with status 401 (pyamqp
    # TokenAuthFailure inside ServiceBusAuthenticationError), or at link attach as
    # amqp:unauthorized-access (ServiceBusAuthorizationError). Sign-in failures are
    # ClientAuthenticationError and mean something else, so they are skipped here.
    for cause in causes:
        if isinstance(cause, ServiceBusAuthorizationError):
            return True
        if isinstance(cause, ClientAuthenticationError):
            continue
        status = getattr(cause, "status_code", None) or getattr(cause, "_status_code", None)
        if str(status) in ("401", "403") or "claim(s) are required" in str(cause):
            return True
    return False


def first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextlib.contextmanager
def talking_to(endpoint: QueueEndpoint, queue: str, role: str) -> Iterator[None]:
    """Turn any Service Bus or sign-in failure inside the block into a QueueCommandError."""
    try:
        yield
    except AzureError as error:
        raise QueueCommandError(explain_service_bus_error(error, namespace=endpoint.namespace, queue=queue, role=role)) from error
