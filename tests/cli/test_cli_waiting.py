"""An endpoint that does not answer: the command says what it waits for while the SDK retries, then fails in one line.

The real SDKs against a closed loopback port: they retry with back-off before they raise, so each of these runs
for several seconds, and a person watching would otherwise see nothing at all until the error.
"""

from __future__ import annotations

import io
import threading

from bridgectl.exit_codes import EXIT_FAILED, EXIT_USAGE
from bridgectl.waiting import said_if_slow
from simulator import GraphSimulator
from tests.cli.command import run_cli

NEW_BOOKING = "samples/01-new-booking.json"
# Port 9 (discard) on loopback: nothing listens there, so every connection is refused.
CLOSED = "127.0.0.1:9"
EMULATOR_ON_A_CLOSED_PORT = (
    "Endpoint=sb://localhost:9;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;"
    "UseDevelopmentEmulator=true;"
)


class _Noticed(io.StringIO):
    """A stream that tells when something was written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.written.set()
        return written


def test_a_wait_that_lasts_says_once_what_it_waits_for() -> None:
    err = _Noticed()

    with said_if_slow(err, "the namespace", after=0.01):
        assert err.written.wait(timeout=30)

    assert err.getvalue() == "waiting for the namespace\n"


def test_a_wait_that_ends_in_time_says_nothing_then_or_later() -> None:
    err = _Noticed()

    with said_if_slow(err, "the namespace", after=0.2):
        pass

    assert not err.written.wait(timeout=0.5)
    assert err.getvalue() == ""


def test_a_queue_command_says_what_it_waits_for_before_it_fails() -> None:
    completed = run_cli("dlq", "list", "--connection-string", EMULATOR_ON_A_CLOSED_PORT)

    assert completed.returncode == EXIT_FAILED
    waiting, error = completed.stderr.splitlines()
    assert waiting == (
        "waiting for bookings/$DeadLetterQueue in emulator at localhost:9 (connecting and signing in; the Service Bus "
        "client retries a host that does not answer before it gives up; Ctrl-C stops)"
    )
    assert error.startswith("error: cannot reach emulator at localhost:9: ")


def test_simulate_says_it_waits_for_a_token_before_it_fails() -> None:
    environment = {"IDENTITY_ENDPOINT": f"http://{CLOSED}/msi/token", "IDENTITY_HEADER": "x"}

    completed = run_cli("simulate", NEW_BOOKING, "--graph-url", f"http://{CLOSED}/v1.0", environment=environment)

    assert completed.returncode == EXIT_USAGE
    waiting, error = completed.stderr.splitlines()
    assert waiting == (
        f"waiting for a Graph token from IDENTITY_ENDPOINT http://{CLOSED}/msi/token (azure-identity retries an "
        "endpoint that does not answer before it gives up; Ctrl-C stops)"
    )
    assert error.startswith("error: IDENTITY_ENDPOINT issued no Graph token: ")


def test_simulate_says_which_booking_waits_for_graph(sim: GraphSimulator) -> None:
    environment = {"IDENTITY_ENDPOINT": sim.identity_endpoint, "IDENTITY_HEADER": sim.identity_header}

    completed = run_cli("simulate", NEW_BOOKING, "--graph-url", f"http://{CLOSED}/v1.0", environment=environment)

    assert completed.returncode == EXIT_FAILED
    waiting, summary = completed.stderr.splitlines()
    assert waiting == (
        f"waiting for Graph at {CLOSED} ({NEW_BOOKING}): no answer yet; the bridge retries as it does in Azure, then "
        "leaves the booking for redelivery; Ctrl-C stops"
    )
    assert summary == "1 message(s), 0 answered, 1 left for redelivery"
    assert completed.stdout.startswith(f"redeliver  {NEW_BOOKING}: ")
