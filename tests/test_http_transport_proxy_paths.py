"""Proxy paths of shared/http_transport.py (found by the issue-12 review):

1. through a proxy the pool is the proxy's, so its kind (not the service's scheme) picks the connection
   class: a TLS proxy (HTTP_PROXY=https://...) for an http:// service works, as it did with requests;
2. a proxy URL without a host is a ConfigurationError, like any proxy URL urllib3 cannot use;
3. a proxy's answer to CONNECT is bounded by the connect timeout, as an answer's head is by the read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from shared.errors import ConfigurationError, GraphError
from shared.graph_client import GraphClient
from shared.http_transport import HttpEndpoint, NotSent, TransportError
from shared.retry_policy import RetryPolicy
from tests.loopback_http import accept_each, closed_port, requested

ONE_ATTEMPT = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def test_an_https_proxy_for_an_http_service_fails_as_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy's port is closed: a refused proxy is ProxyError (NotSent), not a TypeError from the pool."""
    monkeypatch.setenv("HTTP_PROXY", f"https://127.0.0.1:{closed_port()}")
    endpoint = HttpEndpoint("http://state.example.test/devstoreaccount1", 1, {})
    try:
        endpoint.request("GET", "/Tables", timeout=(1.0, 1.0))
        raised: BaseException | None = None
    except BaseException as error:
        raised = error
    finally:
        endpoint.close()
    assert isinstance(raised, TransportError), f"request() raised {raised!r}, not a TransportError kind"


def test_a_proxy_url_without_a_host_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@:3128")
    try:
        HttpEndpoint("http://state.example.test/devstoreaccount1", 1, {}).close()
        raised: BaseException | None = None
    except BaseException as error:
        raised = error
    assert isinstance(raised, ConfigurationError), f"HttpEndpoint() raised {raised!r}"


@pytest.fixture
def proxy_trickling_its_connect_answer() -> Iterator[int]:
    def serve(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 Connection established\r\n")
            for _ in range(48):  # 12 s of header lines, each recv well within any timeout
                time.sleep(0.25)
                connection.sendall(b"X-a: b\r\n")
            connection.sendall(b"\r\n")
            time.sleep(10)

    with accept_each(serve) as port:
        yield port


def test_an_attempt_through_a_proxy_trickling_its_connect_answer_ends_by_the_deadline(
    proxy_trickling_its_connect_answer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadline 2 s, read timeout 1 s, connect timeout 3.05 s: the attempt may take about 4 s, not 15."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_trickling_its_connect_answer}")
    client = GraphClient("https://graph.example.test/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT, read_timeout_seconds=1.0)
    started = time.monotonic()
    with contextlib.suppress(GraphError):
        client.create_or_get("organizer", b"{}", deadline=started + 2.0)
    elapsed = time.monotonic() - started
    client.close()
    assert elapsed < 5.0, f"the attempt took {elapsed:.1f} s: the proxy's CONNECT answer is not bounded"


def silent_after_the_first_bytes(connection: socket.socket) -> None:
    """Reads what comes (a CONNECT, a TLS ClientHello) and never answers."""
    with connection, contextlib.suppress(OSError):
        connection.recv(65536)
        time.sleep(5)


def test_a_connect_answer_that_never_comes_means_the_request_was_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the fifth review: urllib3 called it a read timeout, which a caller takes for "maybe applied"."""
    with accept_each(silent_after_the_first_bytes) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        with pytest.raises(TransportError) as raised:
            requested("https://graph.example.test/v1.0", "/users/x/onlineMeetings", (0.5, 5.0), method="POST", body=b"{}")
    assert isinstance(raised.value, NotSent), f"{type(raised.value).__name__}: {raised.value}"


def test_a_tls_handshake_that_never_completes_means_the_request_was_not_sent() -> None:
    with accept_each(silent_after_the_first_bytes) as port, pytest.raises(TransportError) as raised:
        requested(f"https://127.0.0.1:{port}/v1.0", "/users/x/onlineMeetings", (0.5, 5.0), method="POST", body=b"{}")
    assert isinstance(raised.value, NotSent), f"{type(raised.value).__name__}: {raised.value}"
    assert "onlineMeetings" not in str(raised.value)
