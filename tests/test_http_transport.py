"""shared.http_transport on real sockets: what a failure says about the request, proxies, and the CA bundle.

The Graph and table clients' behaviour over it is tested against the simulator and Azurite; here is
what only the transport decides: whether a failed request can have reached the service (a refused
connection cannot, a dropped one can), how a proxy from the environment is used, and which
certificates a TLS connection trusts.
"""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.errors import GraphUnavailable
from shared.graph_client import GraphClient
from shared.http_transport import HttpEndpoint, NotSent, TransportError
from shared.retry_policy import RetryPolicy
from tests.bookings import ORGANIZER_ID
from tests.loopback_http import closed_port, requested

QUICK = RetryPolicy(budget_seconds=5, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=2)
TIMEOUT = (2.0, 2.0)

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def test_a_refused_connection_was_never_sent_so_graph_cannot_have_applied_it() -> None:
    client = GraphClient(f"http://127.0.0.1:{closed_port()}/v1.0", lambda: "token", retry_policy=QUICK)
    with pytest.raises(GraphUnavailable) as raised:
        client.create_or_get(ORGANIZER_ID, b"{}")
    client.close()
    assert raised.value.maybe_applied is False
    assert raised.value.info.message.startswith("could not connect to Graph")


def test_a_connection_dropped_after_the_request_was_sent_may_have_been_applied() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def read_then_hang_up() -> None:
            for _ in range(QUICK.max_attempts):
                connection, _ = listener.accept()
                connection.recv(65536)
                connection.close()

        threading.Thread(target=read_then_hang_up, daemon=True).start()
        client = GraphClient(f"http://127.0.0.1:{listener.getsockname()[1]}/v1.0", lambda: "token", retry_policy=QUICK)
        with pytest.raises(GraphUnavailable) as raised:
            client.create_or_get(ORGANIZER_ID, b"{}")
        client.close()
    assert raised.value.maybe_applied is True
    assert raised.value.info.message == "the connection to Graph failed or was dropped after the request may have been sent"


def test_a_refused_connection_is_the_not_sent_kind_of_transport_error() -> None:
    endpoint = HttpEndpoint(f"http://127.0.0.1:{closed_port()}", 1, {}, service="the service")
    with pytest.raises(TransportError) as raised:
        endpoint.request("GET", "/", timeout=TIMEOUT)
    assert isinstance(raised.value, NotSent)


def test_a_plain_http_request_through_a_proxy_names_the_whole_url(
    recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{recorder.server_port}")
    reply = requested("http://table.invalid:10002/devstoreaccount1", "/bridgestate()?x=1")

    assert reply.body == b"GET http://table.invalid:10002/devstoreaccount1/bridgestate()?x=1 HTTP/1.1"


def test_a_host_no_proxy_names_is_reached_directly(recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    reply = requested(f"http://127.0.0.1:{recorder.server_port}/base", "/path")

    assert reply.body == b"GET /base/path HTTP/1.1"


def test_tls_trusts_certifi_unless_a_ca_bundle_is_named(tls_recorder: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    port, certificate_file = tls_recorder
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    untrusting = HttpEndpoint(f"https://127.0.0.1:{port}", 1, {}, service="the service")
    with pytest.raises(TransportError):
        untrusting.request("GET", "/", timeout=TIMEOUT)
    untrusting.close()

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate_file))
    trusting = HttpEndpoint(f"https://127.0.0.1:{port}", 1, {}, service="the service")
    assert trusting.request("GET", "/x", timeout=TIMEOUT).body == b"GET /x HTTP/1.1"
    trusting.close()
