"""`simulate`: the function's own pipeline on booking files, with no Azure account.

Graph and the managed-identity endpoint are the project's simulator, started in-process on
loopback; azure-identity fetches its token from it through its real App Service code path.
Two legs differ from Azure: results are printed instead of sent to the queue, in the exact
form (message id, properties, body) the publisher would send, and per-record state (the
ordering guard) is kept in memory for the run instead of in the state table.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from bridgectl.inputs import BookingInput
from shared.credential import GraphToken
from shared.errors import RetryableError
from shared.graph_client import GraphClient
from shared.pipeline import BookingPipeline, InboundMessage
from shared.publisher import to_service_bus_message
from shared.record_state import MemoryRecordStateStore
from shared.result import ResultMessage, ResultStatus
from shared.settings import graph_scope_for

# The simulated tenant's users: the organizers the committed samples use (one sample names
# an organizer outside this list on purpose, to show Graph's 404).
DEMO_ORGANIZERS = ("6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e", "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f")
_PROGRESS_ABOVE = 20


class PrintedResults:
    """A result sink for the terminal: the result message as JSON on stdout, a summary line on stderr."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None:
        message = to_service_bus_message(result, correlation_id, booking_key)
        self._out.write(str(message) + "\n")
        self._err.write(summarize(result, correlation_id) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Nothing to release: the streams belong to the caller."""


def summarize(result: ResultMessage, label: str) -> str:
    """One line a person can read: status, record, externalId, then the join URL or the error."""
    record = f"{result.source or '?'}/{result.record_id or '?'}"
    if result.meeting:
        changed = f" changed={','.join(result.changed_fields)}" if result.changed_fields else ""
        outcome = f"join {result.meeting.join_web_url}{changed}"
    elif result.status is ResultStatus.CANCELLED:
        outcome = "meeting deleted" if result.meeting_existed else "no meeting existed; none left"
    elif result.status is ResultStatus.SUPERSEDED:
        outcome = f"revision {result.applied_revision} already applied; nothing changed"
    else:
        error = result.error
        problems = "; ".join(f"{d.field or 'body'}: {d.reason}" for d in error.details) if error else ""
        outcome = f"{error.code}: {problems or error.message}" if error else ""
    return f"{result.status.value:<10} {record:<40} externalId={result.external_id or '-'}  {outcome}  ({label})"


@contextlib.contextmanager
def graph_endpoint(graph_url: str | None, organizers: tuple[str, ...]) -> Iterator[tuple[str, TokenCredential]]:
    """The Graph base URL and a credential: the embedded simulator by default, or the given endpoint."""
    if graph_url:
        # Any Graph-compatible endpoint; the credential chain picks up IDENTITY_ENDPOINT if set.
        yield graph_url.rstrip("/"), DefaultAzureCredential()
        return
    from simulator import GraphSimulator  # only this command needs it; the function app never imports it

    with GraphSimulator(known_organizers=organizers) as simulator:
        os.environ["IDENTITY_ENDPOINT"] = simulator.identity_endpoint
        os.environ["IDENTITY_HEADER"] = simulator.identity_header
        yield simulator.graph_base_url, ManagedIdentityCredential()


def run_simulation(
    inputs: list[BookingInput],
    *,
    graph_url: str | None = None,
    organizers: tuple[str, ...] = DEMO_ORGANIZERS,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Feed each input through BookingPipeline.handle; exit status 1 if any would be redelivered."""
    redelivered = 0
    step = max(1, len(inputs) // 10)
    with graph_endpoint(graph_url, organizers) as (base_url, credential):
        graph = GraphClient(base_url, GraphToken(credential, graph_scope_for(base_url)).bearer)
        # Calendar mode on: the simulator (or a test tenant behind --graph-url) is where it is tried out.
        pipeline = BookingPipeline(graph, PrintedResults(out, err), MemoryRecordStateStore(), calendar_events=True)
        try:
            for number, booking in enumerate(inputs, 1):
                try:
                    pipeline.handle(InboundMessage(body=booking.body, message_id=booking.label, delivery_count=1))
                except RetryableError as error:
                    redelivered += 1
                    err.write(f"{'redeliver':<10} {booking.label}: {error}\n")
                if len(inputs) > _PROGRESS_ABOVE and (number % step == 0 or number == len(inputs)):
                    err.write(f"progress {number}/{len(inputs)}\n")
        finally:
            pipeline.close()
    err.write(f"{len(inputs)} message(s), {len(inputs) - redelivered} answered, {redelivered} left for redelivery\n")
    return 1 if redelivered else 0
