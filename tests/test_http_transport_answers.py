"""What a response may be, and what a failure says, over shared/http_transport.py:

- a body arrives whole within one read timeout of its head (checked between reads), however slowly it
  trickles in;
- a 2xx answer whose body cannot be read still says Graph applied the request (maybe_applied), and a
  later attempt never clears what an earlier lost answer set;
- an interim 1xx answer (103 Early Hints) is not taken for Graph's final answer;
- a proxy URL urllib3 cannot use is a setting to correct, never quoted (its password would be), and the
  last delivery still gets its `failed` result;
- a refused connection to the proxy was never sent anywhere;
- the log filter never raises into a logging call.
"""

from __future__ import annotations

import gzip
import logging
import socket
import time

import pytest

from shared.errors import ConfigurationError, GraphUnavailable
from shared.graph_client import GraphClient
from shared.http_transport import HttpEndpoint, ResponseTimedOut
from shared.retry_policy import RetryPolicy
from tests.bookings import ORGANIZER_ID
from tests.loopback_http import closed_port, scripted_server

ONE_ATTEMPT = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)
TWO_ATTEMPTS = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=2)

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def graph(port: int, policy: RetryPolicy = ONE_ATTEMPT, read_timeout: float = 1.0) -> GraphClient:
    return GraphClient(f"http://127.0.0.1:{port}/v1.0", lambda: "token", retry_policy=policy, read_timeout_seconds=read_timeout)


# The time bound of a body.


def body_byte_just_before_the_bound(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        time.sleep(0.95)  # just within the 1 s read timeout each time
        connection.sendall(b"x")


def test_a_body_trickled_in_fails_within_about_two_read_timeouts_of_its_head() -> None:
    """Each read is bounded by the read timeout and the deadline (one read timeout after the head) is checked
    between reads: a body trickled in for 95 s fails after about 2 s, as a response that timed out."""
    with scripted_server(body_byte_just_before_the_bound) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}", 1, {}, service="the service")
        started = time.monotonic()
        with pytest.raises(ResponseTimedOut):
            endpoint.request("GET", "/", timeout=(1.0, 1.0))
        elapsed = time.monotonic() - started
        endpoint.close()
    assert elapsed < 3.0, f"the body was waited for {elapsed:.2f} s after its head, with a 1 s read timeout"


# maybe_applied.


def created_but_compressed(connection: socket.socket) -> None:
    body = gzip.compress(b'{"id": "meeting-1", "externalId": "x"}')
    connection.sendall(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


def no_answer(connection: socket.socket) -> bool:
    time.sleep(1.5)  # past the 1 s read timeout: the request was received, its answer is lost
    return True


def ok_but_not_json(connection: socket.socket) -> None:
    body = b"<html>an answer from something in between</html>"
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def test_a_created_answer_that_cannot_be_read_says_graph_may_have_applied_it() -> None:
    """Graph answered 201 Created with a gzip body (never inflated here): the error says Graph may have applied it."""
    with scripted_server(created_but_compressed) as port:
        client = graph(port)
        with pytest.raises(GraphUnavailable) as raised:
            client.create_or_get(ORGANIZER_ID, b"{}")
        client.close()
    assert raised.value.info.code == "InvalidResponse"
    assert raised.value.maybe_applied is True


def test_an_unreadable_success_after_a_lost_answer_keeps_maybe_applied() -> None:
    """Attempt 1's answer is lost (maybe applied), attempt 2's 200 is not JSON: still maybe applied."""
    with scripted_server(no_answer, ok_but_not_json) as port:
        client = graph(port, TWO_ATTEMPTS)
        with pytest.raises(GraphUnavailable) as raised:
            client.create_or_get(ORGANIZER_ID, b"{}")
        client.close()
    assert raised.value.maybe_applied is True


def early_hints_then_created(connection: socket.socket) -> None:
    body = b'{"id": "meeting-1"}'
    connection.sendall(
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def test_an_interim_answer_is_not_taken_as_graphs_final_answer() -> None:
    """103 Early Hints, then 201 Created: the connection is dropped as unusable and the call may have been
    applied (a retry's createOrGet finds the meeting), never GraphRefused(103) and a `failed` result."""
    with scripted_server(early_hints_then_created) as port:
        client = graph(port)
        with pytest.raises(GraphUnavailable) as raised:
            client.create_or_get(ORGANIZER_ID, b"{}")
        client.close()
    assert raised.value.maybe_applied is True
    assert raised.value.info.code == "InterimResponse"


def test_a_refused_connection_to_the_proxy_was_never_sent_so_graph_cannot_have_applied_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing reached the proxy, let alone Graph: not applied, as for a refused direct connection."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    client = GraphClient("http://graph.invalid/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT)
    with pytest.raises(GraphUnavailable) as raised:
        client.create_or_get(ORGANIZER_ID, b"{}")
    client.close()
    assert raised.value.maybe_applied is False, raised.value.info


# A proxy URL requests cannot use.

SECRET = "s3cr/et"  # a password with "/" written as is (as "#" or "?" would be)


def raised_by_a_client_through(proxy: str, monkeypatch: pytest.MonkeyPatch) -> BaseException | None:
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    try:
        client = GraphClient("https://graph.microsoft.com/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT)
    except Exception as error:
        return error
    client.close()
    return None


def test_a_malformed_proxy_url_does_not_put_the_proxy_password_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No error text (which reaches the host's log) carries the password ."""
    error = raised_by_a_client_through(f"http://user:{SECRET}@proxy.invalid:3128", monkeypatch)
    texts = [str(error), repr(error), str(error.__cause__), str(error.__context__)] if error else []
    assert not [text for text in texts if "s3cr" in text], texts


def test_a_malformed_proxy_url_is_a_configuration_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ConfigurationError naming the variable: runtime.handle answers the last delivery with a `failed` result."""
    error = raised_by_a_client_through(f"http://user:{SECRET}@proxy.invalid:3128", monkeypatch)
    assert isinstance(error, ConfigurationError), repr(error)
    assert "HTTPS_PROXY" in str(error)


# The log filter.


def test_the_log_filter_does_not_raise_into_a_logging_call_with_exc_info_false() -> None:
    """logging accepts exc_info=False (no traceback): the record is logged, the filter raises nothing."""
    import shared.http_transport  # noqa: F401 - installs the filter

    logging.getLogger("urllib3.connectionpool").warning("a warning without a traceback", exc_info=False)


def test_a_malformed_proxy_url_still_gets_the_last_delivery_a_failed_result(
    host: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, as the host invokes the function: HTTP_PROXY's password holds a "/" written as is; the last
    delivery raises a ConfigurationError that does not quote it, and publishes a `failed` result."""
    from shared.runtime import reset_pipeline
    from tests.bookings import booking

    monkeypatch.setenv("HTTP_PROXY", f"http://user:{SECRET}@proxy.invalid:3128")
    reset_pipeline()
    with pytest.raises(Exception) as raised:
        host.deliver(booking(), delivery_count=10)  # type: ignore[attr-defined]
    assert "s3cr" not in str(raised.value), str(raised.value)
    assert isinstance(raised.value, ConfigurationError), repr(raised.value)
    assert host.last_result().status.value == "failed"  # type: ignore[attr-defined]
