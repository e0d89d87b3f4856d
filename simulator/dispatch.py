"""One request's path through the simulator: record it, apply the next fault, then answer.

The identity endpoint lives under /msi/, everything else is the Graph side; each has its
own fault queue (and its own chaos faults), so a test can throttle token requests without touching Graph calls. Load
shaping (simulator.throttle: the tenant's rate, a mailbox's concurrency, latency) applies to every Graph request,
as Graph's own latency and throttling do, and never to token requests.
"""

from __future__ import annotations

import threading

from simulator.faults import Fault, FaultQueue, FaultTarget
from simulator.graph_api import GraphApi
from simulator.graph_errors import fault_error, graph_error_response, throttled_error
from simulator.identity import ManagedIdentityEndpoint, token_fault_response
from simulator.recording import Recorder
from simulator.server import HttpRequest, HttpResponse
from simulator.throttle import GraphLoad, Throttled

IDENTITY_PATH_PREFIX = "/msi/"


class Dispatcher:
    """The HttpApp behind the server: routes to the Graph or identity side, with faults and recording."""

    def __init__(
        self,
        *,
        graph: GraphApi,
        identity: ManagedIdentityEndpoint,
        faults: FaultQueue,
        recorder: Recorder,
        stopping: threading.Event,
        load: GraphLoad,
    ) -> None:
        self._graph = graph
        self._identity = identity
        self._faults = faults
        self._recorder = recorder
        self._stopping = stopping
        self._load = load

    def connection_opened(self) -> None:
        self._recorder.connection()

    def handle(self, request: HttpRequest) -> HttpResponse | None:
        """The response to send, or None to close the connection without one."""
        target: FaultTarget = "token" if request.path.startswith(IDENTITY_PATH_PREFIX) else "graph"
        self._recorder.request(target, request)
        response = self._shaped(request) if target == "graph" else self._answer(target, request, self._faults.take(target))
        if response is not None:
            self._recorder.response(response.status)
        return response

    def _shaped(self, request: HttpRequest) -> HttpResponse | None:
        """A Graph request under the load: throttled at once, or answered after its latency (faults apply then)."""
        with self._load.admitted(request.path) as admitted:
            if isinstance(admitted, Throttled):
                return graph_error_response(throttled_error(admitted.scope, admitted.retry_after_seconds), request)
            if admitted and self._stopping.wait(admitted):
                return None
            return self._answer("graph", request, self._faults.take("graph"))

    def _answer(self, target: FaultTarget, request: HttpRequest, fault: Fault | None) -> HttpResponse | None:
        if fault is None:
            return self._serve(target, request)
        # A delay is cut short when the simulator stops; the request then gets no answer.
        if fault.delay_seconds and self._stopping.wait(fault.delay_seconds):
            return None
        if fault.drops_before_processing:
            return None
        if fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if target == "token":
                return token_fault_response(fault.status, headers)
            error = fault_error(fault.status)
            error.headers.update(headers)
            return graph_error_response(error, request)
        response = self._serve(target, request)
        return None if fault.drop_after_processing else response

    def _serve(self, target: FaultTarget, request: HttpRequest) -> HttpResponse:
        return self._identity.handle(request) if target == "token" else self._graph.handle(request)
