"""What the simulator saw: every request as received, and counters a test can assert on.

Tests check what a client did on the wire (headers sent, bodies, how many connections
it opened, how often it asked for a token), not only what it concluded.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from simulator.server import HttpRequest
from simulator.throttle import LoadCounters


class Headers(dict[str, str]):
    """Header names are case-insensitive: headers["Authorization"] and headers["authorization"] are the same."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. `json` is the parsed body, or None when the body is not JSON."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    json: Any


@dataclass(frozen=True)
class SimulatorStats:
    """A snapshot of the counters at one moment; later traffic does not change it."""

    graph_requests: int
    token_requests: int
    connections_opened: int
    responses_by_status: dict[int, int]
    # How many distinct connections carried requests for each target ("graph", "token").
    connections_by_target: dict[str, int] = field(default_factory=dict)
    # Throttled requests by limit, the mailboxes' admitted requests and the latency served (simulator.throttle).
    load: LoadCounters | None = None


class Recorder:
    """Thread-safe log of requests and counters; reset() starts over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, list[RecordedRequest]] = {"graph": [], "token": []}
        self._connections = 0
        self._statuses: Counter[int] = Counter()
        self._connections_used: dict[str, set[int]] = {"graph": set(), "token": set()}

    def request(self, target: str, request: HttpRequest) -> None:
        """Record a request on `target` ("graph" or "token") as soon as it arrives."""
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query={name: values[0] for name, values in request.query.items()},
            headers=Headers(request.headers),
            body=request.body,
            json=_json_or_none(request.body),
        )
        with self._lock:
            self._requests[target].append(recorded)
            self._connections_used[target].add(request.connection_id)

    def connection(self) -> None:
        with self._lock:
            self._connections += 1

    def response(self, status: int) -> None:
        """Count a response; called before it is written, so a client that has it sees it counted."""
        with self._lock:
            self._statuses[status] += 1

    def requests(self, target: str) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests[target])

    def stats(self, load: LoadCounters | None = None) -> SimulatorStats:
        with self._lock:
            return SimulatorStats(
                graph_requests=len(self._requests["graph"]),
                token_requests=len(self._requests["token"]),
                connections_opened=self._connections,
                responses_by_status=dict(self._statuses),
                connections_by_target={target: len(ids) for target, ids in self._connections_used.items()},
                load=load,
            )

    def reset(self) -> None:
        with self._lock:
            for requests in self._requests.values():
                requests.clear()
            for connections in self._connections_used.values():
                connections.clear()
            self._connections = 0
            self._statuses.clear()


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return None
