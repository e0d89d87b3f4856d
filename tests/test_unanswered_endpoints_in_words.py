"""An identity endpoint or a Graph that does not answer, and Graph's errors, are said in words.

Never urllib3's class repr, Python's errno or Python's None; a Graph error names Graph's status and code, and its
request-id only when Graph sent one.
"""

from __future__ import annotations

import io

import pytest

from shared.errors import GraphAccessDenied, GraphErrorInfo, GraphRefused, GraphUnavailable
from simulator import GraphSimulator
from tests.bookings import booking, encode


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_identity_endpoint_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """`simulate --graph-url` with an IDENTITY_ENDPOINT nobody listens on says the endpoint could not be reached, in
    words: not urllib3's class repr ("HTTPConnection(host=...)") and Python's errno."""
    from bridgectl.inputs import BookingInput
    from bridgectl.simulate import SimulationSetupError, run_simulation

    port = _closed_port()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "x")

    with pytest.raises(SimulationSetupError) as raised:
        run_simulation(
            [BookingInput("b.json", encode(booking()))],
            graph_url=f"http://127.0.0.1:{port}/v1.0",
            out=io.StringIO(),
            err=io.StringIO(),
        )

    said = str(raised.value)
    assert "HTTPConnection(" not in said and "[Errno" not in said, said
    assert said.startswith(
        "IDENTITY_ENDPOINT issued no Graph token: could not connect to it (refused, not resolved or timed out connecting)."
    )


def test_a_graph_that_does_not_answer_is_said_in_words_not_as_python_none(
    sim: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`simulate --graph-url` against a Graph that refuses connections says what happened in the transport's own
    sentence, with no status, code or request-id that does not exist (never Python's None)."""
    from bridgectl.inputs import BookingInput
    from bridgectl.simulate import run_simulation

    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)
    out, err = io.StringIO(), io.StringIO()

    run_simulation(
        [BookingInput("b.json", encode(booking()))],
        graph_url=f"http://127.0.0.1:{_closed_port()}/v1.0",
        out=out,
        err=err,
    )

    [line] = [line for line in out.getvalue().splitlines() if line.startswith("redeliver")]
    assert line == (
        "redeliver  b.json: Graph call failed after 6 attempt(s): could not connect to Graph (refused, not resolved or "
        "timed out connecting)"
    )


@pytest.mark.parametrize("request_id", ["0d1c2b3a-4f5e-6d7c-8b9a-0f1e2d3c4b5a", None])
def test_graph_errors_name_a_request_id_only_when_graph_sent_one(request_id: str | None) -> None:
    """A raised Graph error (it reaches the host's log) names Graph's status and code, and its request-id only
    when there is one."""
    info = GraphErrorInfo(503, "ServiceUnavailable", "Graph's own text, never quoted here", request_id)

    said = [str(GraphUnavailable(info, 6)), str(GraphRefused(info)), str(GraphAccessDenied(info)).split(". To fix:")[0]]

    expected = "Graph answered 503 ServiceUnavailable" + (f" (request-id {request_id})" if request_id else "")
    assert said == [f"Graph call failed after 6 attempt(s): {expected}", expected, expected]
