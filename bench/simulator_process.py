"""The Graph simulator in a process of its own, so the CPU a measurement reads is the bridge's alone.

The simulator's server threads would otherwise share the bridge's process (and its CPU clock and
GIL). The parent asks the child for its counters and its own CPU time over a pipe. Azurite's Table
service runs beside it (its own Node process), so the per-record state is the real table too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from devtools.azurite import azurite_table_service
from simulator.environment import STEERING_VARIABLES

# A namespace that never resolves: the benchmark captures results before they would leave for it.
BENCH_NAMESPACE = "bridge-bench.servicebus.windows.net"
_START_TIMEOUT_SECONDS = 30


class SimulatorProcess:
    """GraphSimulator (every GUID is a known organizer) served from a spawned child process."""

    def __init__(self, **shape: Any) -> None:
        """`shape`: GraphSimulator's load keywords (latency_seconds, latency_p99_seconds, rate_limit_per_second,
        mailbox_concurrency, mailbox_retry_after_seconds, seed)."""
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, shape), name="graph-simulator", daemon=True)
        self.urls: dict[str, str] = {}
        self._azurite = ExitStack()
        self._state_connection = ""

    def __enter__(self) -> SimulatorProcess:
        self._state_connection = self._azurite.enter_context(azurite_table_service())
        self._process.start()
        try:
            if not self._pipe.poll(_START_TIMEOUT_SECONDS):
                raise EOFError
            self.urls = self._pipe.recv()
        except EOFError:
            self._process.kill()
            raise RuntimeError("the simulator process did not start (see its traceback above)") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._ask("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
        self._azurite.close()

    @property
    def graph_base_url(self) -> str:
        return self.urls["graph_base_url"]

    def function_environment(self) -> dict[str, str]:
        """The environment a process running the function app gets: infra's settings, Graph and identity on loopback."""
        environment = {name: value for name, value in os.environ.items() if name not in STEERING_VARIABLES}
        environment.update(
            {
                "IDENTITY_ENDPOINT": self.urls["identity_endpoint"],
                "IDENTITY_HEADER": self.urls["identity_header"],
                "GRAPH_BASE_URL": self.urls["graph_base_url"],
                "ServiceBusConnection__fullyQualifiedNamespace": BENCH_NAMESPACE,
                "RecordStateStorage": self._state_connection,
                "RECORD_STATE_TABLE": f"bench{uuid.uuid4().hex}",
            }
        )
        return environment

    def stats(self) -> dict[str, Any]:
        """The simulator's counters since the last reset, and the simulator process's CPU seconds so far."""
        return self._ask("stats")

    def reset(self) -> None:
        """Forget meetings, recorded requests and counters (between measurements)."""
        self._ask("reset")

    def inventory(self) -> dict[str, Any]:
        """Live meetings and events, and how many of them are a second one for the same record (none may be)."""
        return self._ask("inventory")

    def _ask(self, command: str) -> Any:
        self._pipe.send(command)
        return self._pipe.recv()


def _serve(pipe: Connection, shape: dict[str, Any]) -> None:
    from simulator import GraphSimulator

    with GraphSimulator(**shape) as simulator:
        pipe.send(
            {
                "graph_base_url": simulator.graph_base_url,
                "identity_endpoint": simulator.identity_endpoint,
                "identity_header": simulator.identity_header,
            }
        )
        while True:
            try:
                command = pipe.recv()
            except EOFError:
                return
            if command == "stats":
                stats = asdict(simulator.stats)
                stats["responses_by_status"] = {str(status): count for status, count in stats["responses_by_status"].items()}
                pipe.send({**stats, "cpu_seconds": time.process_time()})
            elif command == "reset":
                simulator.reset()
                pipe.send(None)
            elif command == "inventory":
                pipe.send(_inventory(simulator))
            else:
                pipe.send(None)
                return


def _inventory(simulator: Any) -> dict[str, Any]:
    """Standalone meetings by organizer and externalId, events by organizer and the externalId property they carry
    (an event's own Teams meeting has no externalId: it is counted with its event)."""
    meetings = Counter(
        (meeting["participants"]["organizer"]["identity"]["user"]["id"], meeting["externalId"])
        for meeting in simulator.meetings()
        if meeting["externalId"] is not None
    )
    events = Counter((event["_organizerId"], tuple(sorted(event["_properties"].items()))) for event in simulator.events())
    return {
        "live_meetings": sum(meetings.values()),
        "live_events": sum(events.values()),
        "duplicate_meetings": sum(count - 1 for count in meetings.values()),
        "duplicate_events": sum(count - 1 for count in events.values()),
    }
