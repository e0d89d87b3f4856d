"""shared.http_transport reads the environment as requests did, which a deployment (an egress proxy, a CA
directory) may rely on (each case, broken, would break every Graph or table call):

- a proxy URL with credentials (HTTPS_PROXY=http://user:pass@proxy:3128): requests sent them as
  Proxy-Authorization on CONNECT (and on a forwarded plain-HTTP request); urllib3's ProxyManager does
  not take them from the URL, so the proxy answers 407 and every Graph call fails (maybe_applied=True);
- a proxy without a scheme (HTTPS_PROXY=proxy:3128, the form many machines set): requests assumed
  http://; ProxyManager raises ProxySchemeUnknown (an AssertionError) from the client's constructor, so
  the pipeline is never built and every delivery, the last included, fails without a result;
- NO_PROXY with a CIDR range (10.0.0.0/8): requests bypassed the proxy for an IP host in it;
  urllib.request.proxy_bypass does not understand CIDR, so the state table at a private IP goes to the proxy;
- REQUESTS_CA_BUNDLE naming a directory (c_rehash layout, e.g. /etc/ssl/certs): requests passed it as
  ca_cert_dir; here it is passed as ca_certs and every TLS request fails with SSLError(EISDIR).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.errors import GraphUnavailable
from shared.graph_client import GraphClient
from shared.http_transport import TransportError
from shared.retry_policy import RetryPolicy
from tests.bookings import ORGANIZER_ID
from tests.loopback_http import closed_port, requested

ONE_ATTEMPT = RetryPolicy(budget_seconds=5, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)
# base64("user:p@ss"): the proxy URL carries the password percent-encoded (p%40ss), as it must.
EXPECTED_PROXY_AUTHORIZATION = "Basic dXNlcjpwQHNz"

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def proxy_authorization(head: str) -> str | None:
    """The Proxy-Authorization value in a request head (header names are case-insensitive)."""
    for line in head.splitlines()[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "proxy-authorization":
            return value.strip()
    return None


class AuthenticatingProxy:
    """A proxy that wants Basic credentials: records each request head, 407 without them, 200 with them."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = data.split(b"\r\n\r\n")[0].decode("latin-1")
                self.heads.append(head)
                if proxy_authorization(head) == EXPECTED_PROXY_AUTHORIZATION:
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                else:
                    connection.sendall(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                    )

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def authenticating_proxy() -> Iterator[AuthenticatingProxy]:
    proxy = AuthenticatingProxy()
    yield proxy
    proxy.close()


def test_graph_over_https_through_a_proxy_sends_the_proxy_credentials_from_https_proxy(
    authenticating_proxy: AuthenticatingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CONNECT carries Proxy-Authorization from the proxy URL's userinfo, as requests sent it."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:p%40ss@127.0.0.1:{authenticating_proxy.port}")
    client = GraphClient("https://graph.invalid/v1.0", lambda: "token", retry_policy=ONE_ATTEMPT)
    with pytest.raises(GraphUnavailable):  # the fake proxy does not really tunnel: TLS then fails
        client.create_or_get(ORGANIZER_ID, b"{}")
    client.close()

    connect = authenticating_proxy.heads[0]
    assert connect.startswith("CONNECT graph.invalid:443 ")
    assert proxy_authorization(connect) == EXPECTED_PROXY_AUTHORIZATION, f"the proxy was not given the credentials: {connect!r}"


def test_a_plain_http_request_through_a_proxy_sends_the_proxy_credentials_from_http_proxy(
    authenticating_proxy: AuthenticatingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forwarded request carries the credentials: the proxy answers 200, not 407."""
    monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{authenticating_proxy.port}")
    reply = requested("http://table.invalid:10002/devstoreaccount1", "/bridgestate()")

    assert reply.status == 200, f"{reply.status} {reply.reason}: {authenticating_proxy.heads[0].splitlines()}"


@pytest.mark.parametrize("proxy", ["127.0.0.1:{port}", "localhost:{port}"])
def test_a_proxy_without_a_scheme_is_an_http_proxy_as_requests_took_it(
    recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    """HOST:PORT is used as http://HOST:PORT (urllib3 alone refuses it with an AssertionError)."""
    monkeypatch.setenv("HTTP_PROXY", proxy.format(port=recorder.server_port))
    reply = requested("http://table.invalid:10002/devstoreaccount1", "/bridgestate()")

    assert reply.body == b"GET http://table.invalid:10002/devstoreaccount1/bridgestate() HTTP/1.1"


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "10.0.0.0/8,127.0.0.1/32"])
def test_an_ip_host_in_a_no_proxy_cidr_range_is_reached_directly(
    recorder: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """Direct, as requests decided (urllib's proxy_bypass ignores ranges)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    try:
        reply = requested(f"http://127.0.0.1:{recorder.server_port}/base", "/path")
    except TransportError as error:
        pytest.fail(f"NO_PROXY={no_proxy} was not honoured: {error!r}")
    assert reply.body == b"GET /base/path HTTP/1.1"


def test_a_ca_bundle_variable_naming_a_directory_is_trusted_as_requests_did(
    tls_recorder: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificates of a hashed directory are trusted, as requests passed it (ca_cert_dir)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to hash the CA directory")
    port, certificate_file = tls_recorder
    directory = tmp_path / "ca-directory"
    directory.mkdir()
    shutil.copy(certificate_file, directory / "bridge.pem")
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(directory))
    try:
        reply = requested(f"https://127.0.0.1:{port}", "/x")
    except TransportError as error:
        pytest.fail(f"REQUESTS_CA_BUNDLE={directory} (a directory) is not usable: {error!r}")
    assert reply.body == b"GET /x HTTP/1.1"
