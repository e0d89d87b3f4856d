"""`simulate`: the function's own pipeline on booking files, with no Azure account.

Graph and the managed-identity endpoint are the project's simulator, started in-process on
loopback; azure-identity fetches its token from it through its real App Service code path.
Two legs differ from Azure: results are printed instead of sent to the queue (as one line per
booking, or with --format jsonl in the exact form, message id, properties and body, the
publisher would send), and per-record state (the ordering guard) is kept in memory for the
run instead of in the state table.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.identity import ManagedIdentityCredential

from bridgectl.exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from bridgectl.follow_ups import ScheduledFollowUps
from bridgectl.inputs import BookingInput
from bridgectl.waiting import said_if_slow
from shared.attendance_report import record_count
from shared.credential import GraphToken
from shared.errors import ConfigurationError, RetryableError, TokenError
from shared.graph_client import GraphClient
from shared.log_text import escaped
from shared.meeting import Meeting
from shared.pipeline import BookingPipeline, InboundMessage
from shared.publisher import to_service_bus_message
from shared.record_state import MemoryRecordStateStore
from shared.result import ResultMessage, ResultStatus
from shared.settings import check_graph_base_url, check_identity_endpoint, graph_scope_for

if TYPE_CHECKING:
    from simulator import GraphSimulator

# The simulated tenant's users: the organizers the committed samples use (one sample names
# an organizer outside this list on purpose, to show Graph's 404).
DEMO_ORGANIZERS = ("6f1c3a2e-8d4b-4a57-9e2f-0c1d2b3a4f5e", "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f")
# The simulated tenant's one Teams channel (the class channel the channel sample books into); both
# demo organizers are members, so any other thread is refused as Graph refuses it.
DEMO_CHANNELS = {"19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2": DEMO_ORGANIZERS}
_TAGS = re.compile(r"<[^>]*>")
_INVITATION_PREVIEW = 40
_PROGRESS_ABOVE = 20
# Graph's join URLs are a few hundred characters; anything longer is not Graph's (or the simulator's) answer.
_SUMMARY_LIMIT = 2000
_IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")


class SimulationSetupError(ValueError):
    """The run cannot start: what to fix, in one line."""


class PrintedResults:
    """A result sink for the terminal: a summary line per booking on stdout, or with as_json the result
    message as a JSON line on stdout and the summary on stderr (so that stdout stays machine-readable)."""

    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool = False) -> None:
        self._out = out
        self._as_json = as_json
        self.summaries = err if as_json else out
        self.count = 0

    def publish_result(self, result: ResultMessage, correlation_id: str, booking_key: str) -> None:
        if self._as_json:
            self._out.write(str(to_service_bus_message(result, correlation_id, booking_key)) + "\n")
            self._out.flush()
        self.summaries.write(escaped(summarize(result, correlation_id), _SUMMARY_LIMIT) + "\n")
        self.summaries.flush()
        self.count += 1

    def close(self) -> None:
        """Nothing to release: the streams belong to the caller."""


def summarize(result: ResultMessage, label: str) -> str:
    """One line a person can read: status, record, externalId, then the join URL or the error."""
    record = f"{result.source or '?'}/{result.record_id or '?'}"
    if result.meeting:
        changed = f" changed={','.join(result.changed_fields)}" if result.changed_fields else ""
        outcome = f"join {result.meeting.join_web_url}{changed}{_chat_and_invitation(result.meeting)}"
    elif result.status is ResultStatus.CANCELLED:
        outcome = "meeting deleted" if result.meeting_existed else "no meeting existed; none left"
    elif result.status is ResultStatus.SUPERSEDED:
        outcome = f"revision {result.applied_revision} already applied; nothing changed"
    elif result.attendance is not None and result.error is None:
        # Counts only: the records' addresses are people's.
        attendance = result.attendance
        part = f", part {attendance.part} of {attendance.parts}" if attendance.parts > 1 else ""
        outcome = f"{len(attendance.reports)} report(s), {record_count(attendance)} attendance record(s){part}"
    else:
        error = result.error
        problems = "; ".join(f"{d.field or 'body'}: {d.reason}" for d in error.details) if error else ""
        outcome = f"{error.code}: {problems or error.message}" if error else ""
    return f"{result.status.value:<10} {record:<40} externalId={result.external_id or '-'}  {outcome}  ({label})"


def _chat_and_invitation(meeting: Meeting) -> str:
    """The channel a meeting is in (a meeting's own chat is not shown) and the start of its invitation text."""
    shown = ""
    if meeting.chat_thread_id and not meeting.chat_thread_id.startswith("19:meeting_"):
        shown += f" channel={escaped(meeting.chat_thread_id)}"
    if meeting.join_information:
        text = " ".join(html.unescape(_TAGS.sub(" ", meeting.join_information.content)).split())
        shown += f" invitation={escaped(text, _INVITATION_PREVIEW)!s}"
    return shown


@contextlib.contextmanager
def graph_endpoint(
    graph_url: str | None, organizers: tuple[str, ...]
) -> Iterator[tuple[str, TokenCredential, GraphSimulator | None]]:
    """The Graph base URL, a credential and the embedded simulator (None for another endpoint): the simulator by default,
    or the given endpoint with the managed-identity endpoint that issues its tokens (IDENTITY_ENDPOINT and
    IDENTITY_HEADER, as the simulator prints)."""
    if graph_url:
        yield _checked_graph_url(graph_url), _identity_of_graph_url(), None
        return
    from simulator import GraphSimulator  # only this command needs it; the function app never imports it

    with GraphSimulator(known_organizers=organizers, channels=DEMO_CHANNELS) as simulator:
        os.environ["IDENTITY_ENDPOINT"] = simulator.identity_endpoint
        os.environ["IDENTITY_HEADER"] = simulator.identity_header
        yield simulator.graph_base_url, ManagedIdentityCredential(), simulator


def _checked_graph_url(graph_url: str) -> str:
    try:
        return check_graph_base_url(graph_url)
    except ConfigurationError as error:
        raise SimulationSetupError(f"--graph-url {_problem(error)}") from None


def _identity_of_graph_url() -> TokenCredential:
    missing = [name for name in _IDENTITY_VARIABLES if not os.environ.get(name, "").strip()]
    if missing:
        raise SimulationSetupError(
            f"--graph-url needs the identity endpoint that issues that Graph's tokens: export {' and '.join(missing)} "
            "as `python -m simulator` prints them (IDENTITY_ENDPOINT=http://127.0.0.1:8010/msi/token, IDENTITY_HEADER=...)"
        )
    try:
        check_identity_endpoint("IDENTITY_ENDPOINT", os.environ["IDENTITY_ENDPOINT"].strip())
    except ConfigurationError as error:
        raise SimulationSetupError(f"IDENTITY_ENDPOINT {_problem(error)}") from None
    # The App Service protocol only, as the function uses in Azure: never a developer sign-in or a chain of fallbacks.
    return ManagedIdentityCredential()


def _problem(error: ConfigurationError) -> str:
    """The settings' wording of what is wrong, without "setting NAME:": here the value came from elsewhere."""
    return str(error).removeprefix(f"setting {error.setting}: ")


def _first_token(token: GraphToken, err: TextIO) -> None:
    """Ask for the token once before any booking, so a wrong endpoint is one line, not one failure per booking."""
    try:
        with said_if_slow(
            err,
            f"a Graph token from IDENTITY_ENDPOINT {escaped(os.environ.get('IDENTITY_ENDPOINT', ''), 200)} (azure-identity "
            "retries an endpoint that does not answer before it gives up; Ctrl-C stops)",
        ):
            token.bearer()
    except TokenError as error:
        raise SimulationSetupError(
            f"IDENTITY_ENDPOINT issued no Graph token: {_why_no_token(error)}. "
            "Is the simulator running, and are IDENTITY_ENDPOINT and IDENTITY_HEADER the ones it printed last?"
        ) from None


def _why_no_token(error: TokenError) -> str:
    """The identity endpoint's failure in words: azure-core's text for a connection failure is urllib3's (a class's
    repr and an errno), so the two kinds of no answer are said here; an answer is quoted, escaped."""
    cause = error.__cause__
    if isinstance(cause, ServiceRequestError):
        return "could not connect to it (refused, not resolved or timed out connecting)"
    if isinstance(cause, ServiceResponseError):
        return "it did not answer (the connection was dropped or timed out)"
    said = cause.message if isinstance(cause, AzureError) else str(error)
    return escaped(said.splitlines()[0] if said else "no reason given", 300)


def run_simulation(
    inputs: list[BookingInput],
    *,
    graph_url: str | None = None,
    organizers: tuple[str, ...] = DEMO_ORGANIZERS,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Feed each input through BookingPipeline.handle; exit status 1 if any would be redelivered.

    Raises SimulationSetupError when the Graph endpoint given cannot be used."""
    out, err = out or sys.stdout, err or sys.stderr
    printed = PrintedResults(out, err, as_json=as_json)
    redelivered: list[str] = []
    follow_ups = ScheduledFollowUps()
    try:
        with graph_endpoint(graph_url, organizers) as (base_url, credential, simulator):
            token = GraphToken(credential, graph_scope_for(base_url))
            _first_token(token, err)
            # Calendar mode and attendance reports on: the simulator (or a test tenant behind --graph-url) is where
            # they are tried out.
            pipeline = BookingPipeline(
                GraphClient(base_url, token.bearer),
                printed,
                MemoryRecordStateStore(),
                follow_ups,
                calendar_events=True,
                attendance_reports=True,
                now=follow_ups.now,
            )
            # The embedded simulator answers at once; another endpoint may not answer at all.
            graph = None if graph_url is None else f"Graph at {escaped(urlsplit(base_url).netloc, 200)}"
            try:
                _run_each(pipeline, inputs, printed, redelivered, err, graph)
                ran, follow_ups_left = follow_ups.run_at_once(pipeline, simulator, printed.summaries)
            finally:
                pipeline.close()
    except KeyboardInterrupt:
        # Ctrl-C: what was done, as the summary line says it; a booking cut off midway printed nothing and counts as not run.
        run = printed.count + len(redelivered)
        err.write(
            f"interrupted: {run} of {len(inputs)} message(s) run ({printed.count} answered, {len(redelivered)} left for "
            f"redelivery); the other {len(inputs) - run} were not run\n"
        )
        return EXIT_INTERRUPTED
    ran_line = f"; {ran} attendance follow-up(s) run at once" if ran else ""
    err.write(
        f"{len(inputs)} message(s), {len(inputs) - len(redelivered)} answered, {len(redelivered)} left for redelivery{ran_line}\n"
    )
    return EXIT_FAILED if redelivered or follow_ups_left else EXIT_OK


def _run_each(
    pipeline: BookingPipeline,
    inputs: list[BookingInput],
    printed: PrintedResults,
    redelivered: list[str],
    err: TextIO,
    graph: str | None,
) -> None:
    """Each booking through the pipeline, in order; the labels of those that would be redelivered go to `redelivered`.

    With `graph` (an endpoint that may not answer), a booking that waits long says what it waits for."""
    step = max(1, len(inputs) // 10)
    for number, booking in enumerate(inputs, 1):
        waiting = (
            said_if_slow(
                err,
                f"{graph} ({escaped(booking.label, 300)}): no answer yet; the bridge retries as it does in Azure, then "
                "leaves the booking for redelivery; Ctrl-C stops",
            )
            if graph
            else contextlib.nullcontext()
        )
        try:
            with waiting:
                pipeline.handle(InboundMessage(body=booking.body, message_id=booking.label, delivery_count=1))
        except RetryableError as error:
            redelivered.append(booking.label)
            printed.summaries.write(escaped(f"{'redeliver':<10} {booking.label}: {error}", _SUMMARY_LIMIT) + "\n")
        if len(inputs) > _PROGRESS_ABOVE and (number % step == 0 or number == len(inputs)):
            err.write(f"progress {number}/{len(inputs)}\n")


if __name__ == "__main__":  # python -m bridgectl.simulate: the simulate command, as python -m bridgectl simulate
    from bridgectl.cli import main

    sys.exit(main(["simulate", *sys.argv[1:]]))
