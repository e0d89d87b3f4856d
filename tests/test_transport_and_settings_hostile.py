"""The requests transport, the maybe-applied classification and the settings against hostile inputs.

Graph, a proxy and the environment are untrusted: a redirect, a malformed Location, a compressed or oversized
3xx, a tunnel the proxy refuses, a CA bundle that is not one, a proxy or endpoint URL that cannot be used, a
token that fails on the retry. Each test names the promise it keeps.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import shared.pipeline as pipeline_module
from shared.credential import GraphToken
from shared.errors import ConfigurationError, GraphError, TokenError
from shared.graph_client import GraphClient
from shared.http_transport import MAX_RESPONSE_BYTES, HttpEndpoint, NoResponse, NotSent, TransportError
from shared.retry_policy import RetryPolicy
from shared.settings import (
    FUNCTIONS_ENVIRONMENT,
    GRAPH_BASE_URL,
    GRAPH_CREDENTIAL,
    GRAPH_IDENTITY_ENDPOINT,
    GRAPH_IDENTITY_HEADER,
    RECORD_STATE_CONNECTION,
    RECORD_STATE_TABLE_SERVICE_URI,
    SERVICE_BUS_CONNECTION,
    SERVICE_BUS_NAMESPACE,
    check_graph_base_url,
    load_settings,
)
from shared.table_client import TableClient
from simulator import Fault, GraphSimulator
from tests.bookings import ORGANIZER_ID, booking, cancel_booking
from tests.conftest import HostInvoker
from tests.loopback_http import accept_each, answered_with, closed_port, read_request, scripted_server, self_signed

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")

ORGANIZER = "5f1c4f39-2d1e-4b8e-9a43-7f0f5b6f2c11"
BODY = json.dumps(
    {"externalId": "ext-1", "startDateTime": "2026-12-01T09:00:00Z", "endDateTime": "2026-12-01T09:30:00Z", "subject": "Call"}
).encode()
TWO_ATTEMPTS = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=2)
ONE_ATTEMPT = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)
SECRET = "S3cretPassw0rdZq7"
NAMESPACE = {SERVICE_BUS_NAMESPACE: "contoso-bookings.servicebus.windows.net"}
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def hangs_up_without_an_answer(connection: socket.socket) -> bool:
    """The request was read whole; the connection is closed with no response (a lost answer)."""
    return True


def redirect(location: bytes, status: bytes = b"302 Found") -> bytes:
    return b"HTTP/1.1 %s\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (status, location)


def graph_client(port: int, bearer: Callable[[], str] = lambda: "token", **options: object) -> GraphClient:
    return GraphClient(f"http://127.0.0.1:{port}/v1.0", bearer, **options)  # type: ignore[arg-type]


# 1. Maybe applied survives whatever ends the call: a later attempt's token failure or 3xx does not carry the
#    earlier attempt's lost response away, so the record state still learns a meeting may exist.


def test_a_token_failure_on_the_retry_keeps_that_the_first_attempt_may_have_been_applied(sim: GraphSimulator, token: str) -> None:
    """Attempt 1's createOrGet is applied by Graph and its answer lost (maybe applied); attempt 2 fetches its
    bearer token first (the cached token is refreshed) and the identity endpoint fails: TokenError escapes
    GraphClient._send as is, so the pipeline sees maybe_applied False and the record state never learns that
    a meeting may exist (a later move or cancel leaves it live)."""
    sim.inject(Fault(drop_after_processing=True))
    tokens = iter([token])

    def bearer() -> str:
        try:
            return next(tokens)
        except StopIteration:
            raise TokenError("the managed identity could not issue a token (refresh failed)") from None

    client = GraphClient(sim.graph_base_url, bearer, retry_policy=TWO_ATTEMPTS, read_timeout_seconds=2.0)
    try:
        with pytest.raises(Exception) as raised:
            client.create_or_get(ORGANIZER, BODY)
    finally:
        client.close()
    assert len(sim.meetings()) == 1, "Graph applied attempt 1"
    assert pipeline_module._maybe_applied(raised.value), (
        f"{type(raised.value).__name__} escaped: the pipeline reads it as 'not applied' though Graph holds the meeting"
    )


SECOND_ORGANIZER = "2b9d4c1e-5f3a-4e8b-9c7d-1a2b3c4d5e6f"


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    """Two organizers, so that a booking can move from one to the other (the host fixture's Graph)."""
    with GraphSimulator(known_organizers=[ORGANIZER_ID, SECOND_ORGANIZER]) as simulator:
        yield simulator


def test_a_meeting_whose_answer_was_lost_before_a_token_refresh_failed_is_retired_by_a_move_and_a_cancel(
    host: HostInvoker, graph: GraphSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: revision 1's last delivery sends createOrGet, Graph applies it and
    the answer is lost; the retry's token refresh fails (TokenError). The delivery gives up (a `failed` result,
    dead-lettered) without the record state learning that a meeting may exist, so revision 2 (a move to another
    organizer) retires nothing and revision 3's cancel deletes only the new meeting: revision 1's stays live."""
    real_bearer = GraphToken.bearer
    calls = [0]

    def bearer(self: GraphToken) -> str:
        calls[0] += 1
        if calls[0] == 2:  # the retry of revision 1's createOrGet
            raise TokenError("the managed identity could not issue a token (refresh failed)")
        return real_bearer(self)

    monkeypatch.setattr(GraphToken, "bearer", bearer)
    graph.inject(Fault(drop_after_processing=True))
    with contextlib.suppress(TokenError):
        host.deliver(booking(revision=1), message_id="upsert-1", delivery_count=10)
    assert len(graph.meetings()) == 1, "Graph applied revision 1's createOrGet"

    host.deliver(booking(revision=2, organizerId=SECOND_ORGANIZER), message_id="move-2")
    host.deliver(cancel_booking(revision=3, organizerId=SECOND_ORGANIZER), message_id="cancel-3")

    assert graph.meetings() == [], "revision 1's meeting is still live under a cancelled record"


def test_a_redirect_with_a_malformed_location_on_the_retry_keeps_that_the_first_attempt_may_have_been_applied() -> None:
    """Attempt 1 is read by the service and its connection closed without a response (maybe applied); attempt 2
    is answered 302 with a Location requests cannot parse (`http://[::1/`). requests parses the Location even
    with allow_redirects=False (Session.send prepares `_next`), and the ValueError it raises is not a
    RequestException: it escapes HttpEndpoint and GraphClient bare, and attempt 1's maybe-applied is lost."""
    with scripted_server(hangs_up_without_an_answer, answered_with(redirect(b"http://[::1/x"))) as port:
        client = graph_client(port, retry_policy=TWO_ATTEMPTS, read_timeout_seconds=2.0)
        try:
            with pytest.raises(Exception) as raised:
                client.create_or_get(ORGANIZER, BODY)
        finally:
            client.close()
    assert isinstance(raised.value, GraphError), f"{type(raised.value).__name__}: {raised.value}"
    assert raised.value.maybe_applied is True


# 2. A 3xx is a response like any other: never followed, its body held to the same bounds, and a malformed
#    Location is only a header.


@pytest.mark.parametrize(
    "location",
    [b"http://[::1/x", b"/\xff", b"http://127.0.0.1:99999/x"],
    ids=["unparsable-ipv6", "not-utf-8", "port-out-of-range"],
)
def test_a_response_with_any_location_is_a_response_or_a_transport_error(location: bytes) -> None:
    """A 3xx response's Location is parsed by requests (get_redirect_target, urlparse, should_strip_auth's
    `.port`) though no redirect is followed; a bad one raises ValueError or UnicodeDecodeError out of
    HttpEndpoint.request, after the request was sent, instead of a response or a TransportError."""
    with scripted_server(answered_with(redirect(location, b"307 Temporary Redirect"))) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        try:
            endpoint.request(
                "POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", headers={"Authorization": "Bearer t"}, timeout=(2, 2)
            )
        except TransportError:
            pass
        except Exception as error:
            pytest.fail(f"{type(error).__name__} escaped HttpEndpoint.request: {error}")
        finally:
            endpoint.close()


def test_a_redirect_response_body_is_held_to_the_size_cap() -> None:
    """requests reads a 3xx body whole (`resp.content` in resolve_redirects, called even with allow_redirects=False)
    before HttpEndpoint sees it: an 8 MiB body is read into memory past MAX_RESPONSE_BYTES and the response comes
    back with an empty body instead of ResponseTooLarge. A body of gigabytes (32 threads at once) is all read."""
    size = 2 * MAX_RESPONSE_BYTES
    answer = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: %d\r\n\r\n" % size + b"a" * size
    with scripted_server(answered_with(answer)) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        try:
            with pytest.raises(NoResponse) as raised:
                endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 5))
        finally:
            endpoint.close()
    assert raised.value.code == "ResponseTooLarge"


def test_a_redirect_response_body_is_never_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The promise "Never decompressed (identity is asked for)": a 3xx whose body says Content-Encoding: gzip is inflated by
    requests (`resp.content` decodes) before HttpEndpoint reads it, so a small gzip bomb becomes a large body in
    memory."""
    import urllib3.response

    inflated = [0]
    original = urllib3.response.GzipDecoder.decompress

    def counting(self: urllib3.response.GzipDecoder, data: bytes, max_length: int = -1) -> bytes:
        output = original(self, data, max_length)
        inflated[0] += len(output)
        return output

    monkeypatch.setattr(urllib3.response.GzipDecoder, "decompress", counting)
    bomb = gzip.compress(b"\0" * (2 * MAX_RESPONSE_BYTES))
    answer = (
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    )
    with scripted_server(answered_with(answer)) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        with contextlib.suppress(Exception):  # what it raises is the next test's
            endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 5))
        endpoint.close()
    assert inflated[0] == 0, f"{inflated[0]} bytes inflated from a {len(bomb)}-byte body"


def test_a_redirect_whose_chunked_body_is_cut_short_is_no_response() -> None:
    """The promise "NoResponse for every failure after the request may have left": a 3xx whose chunked body stops mid-chunk is
    read by requests, which swallows the ChunkedEncodingError (resolve_redirects), so HttpEndpoint returns it as a
    complete response with an empty body instead of raising NoResponse, as it does for any other status."""
    answer = b"HTTP/1.1 302 Found\r\nLocation: /x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"
    with scripted_server(answered_with(answer)) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        try:
            with pytest.raises(NoResponse):
                endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 2))
        finally:
            endpoint.close()


def test_a_compressed_redirect_is_a_response_or_a_transport_error() -> None:
    """Any 3xx with a Location and Content-Encoding: gzip (a login or maintenance redirect from a gateway, however
    small): requests has read it decoded, and _whole_body's raw.read1(decode_content=False) then raises urllib3's
    RuntimeError ("Calling read1(decode_content=False) is not supported after read1(decode_content=True) was
    called"), which is neither HTTPError nor OSError: it escapes HttpEndpoint and GraphClient bare."""
    body = gzip.compress(b"<html>moved</html>")
    answer = b"HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with scripted_server(answered_with(answer)) as port:
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        try:
            endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 2))
        except TransportError:
            pass
        except Exception as error:
            pytest.fail(f"{type(error).__name__} escaped HttpEndpoint.request: {error}")
        finally:
            endpoint.close()


def trickle(head: bytes, pieces: list[bytes], gap: float) -> Callable[[socket.socket], bool]:
    def answer(connection: socket.socket) -> bool:
        connection.sendall(head)
        for piece in pieces:
            time.sleep(gap)
            connection.sendall(piece)
        return True

    return answer


def timed_create_or_get(port: int) -> float:
    """One createOrGet with a 1.5 s retry budget and a 1 s read timeout: its time, whatever it ends in."""
    client = graph_client(port, retry_policy=ONE_ATTEMPT, read_timeout_seconds=1.0)
    started = time.monotonic()
    try:
        with contextlib.suppress(Exception):
            client.create_or_get(ORGANIZER, BODY, deadline=time.monotonic() + 1.5)
    finally:
        client.close()
    return time.monotonic() - started


def test_a_redirect_body_that_trickles_in_ends_by_the_deadline() -> None:
    """The promise "The body [is bounded] by one read timeout after its head": a 3xx body is read by requests itself, with only
    the per-read timeout, so a body sent a byte every 0.4 s holds the call for as long as it trickles (here 4 s
    against a 1.5 s budget and a 1 s read timeout; without end if it never stops)."""
    answer = trickle(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 10\r\n\r\n", [b"a"] * 10, 0.4)
    with scripted_server(answer) as port:
        elapsed = timed_create_or_get(port)
    assert elapsed < 3.0, f"the call took {elapsed:.1f} s"


# 3. A request that was certainly not sent says so, and names what to look at.


def one_answer_proxy(answer: bytes) -> Callable[[socket.socket], None]:
    def serve(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            if read_request(connection, b"") is not None:
                connection.sendall(answer)

    return serve


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n',
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["407", "403", "502"],
)
def test_a_proxy_that_refuses_the_tunnel_means_the_request_was_not_sent(answer: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy answers the CONNECT with 407 (credentials missing), 403 or 502: no tunnel, so nothing reached Graph.
    It is reported as NoResponse "the connection to Graph failed or was dropped after the request may have been
    sent" (maybe applied), which sends the operator to Graph instead of to the proxy's credentials or rules."""
    with accept_each(one_answer_proxy(answer)) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        endpoint = HttpEndpoint("https://graph.example.test/v1.0", 1, {}, service="Graph")
        try:
            with pytest.raises(TransportError) as raised:
                endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 2))
        finally:
            endpoint.close()
    assert isinstance(raised.value, NotSent), f"{type(raised.value).__name__} {raised.value.code}: {raised.value}"


def not_tls(connection: socket.socket) -> None:
    """A service on the TLS port that speaks something else (a plain-HTTP or SSH listener): the handshake fails."""
    with connection, contextlib.suppress(OSError):
        connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        connection.recv(65536)


def test_a_tls_handshake_that_fails_on_a_wrong_record_version_counts_as_maybe_applied() -> None:
    """OpenSSL says "wrong version number" for a peer that does not speak TLS at the handshake, but also for a
    record that is not TLS later in a connection, after a request went out: it cannot prove nothing was sent,
    so it counts on the safe side (a retry's createOrGet finds the meeting)."""
    with accept_each(not_tls) as port:
        endpoint = HttpEndpoint(f"https://127.0.0.1:{port}/v1.0", 1, {}, service="Graph")
        try:
            with pytest.raises(TransportError) as raised:
                endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(2, 2))
        finally:
            endpoint.close()
    assert isinstance(raised.value, NoResponse), f"{type(raised.value).__name__} {raised.value.code}: {raised.value}"


@pytest.fixture
def tls_service(tmp_path: Path) -> Iterator[int]:
    certificate, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)

    def serve(connection: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), context.wrap_socket(connection, server_side=True) as tls:
            if read_request(tls, b"") is not None:
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    with accept_each(serve) as port:
        yield port


def test_a_ca_bundle_that_is_not_pem_is_a_configuration_error_naming_the_bundle(
    tls_service: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE names a file that holds no certificate: the operator is sent to the bundle, once, when
    the client is made, not to Graph on every request."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("this is not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with pytest.raises(ConfigurationError) as raised:
        HttpEndpoint(f"https://127.0.0.1:{tls_service}/v1.0", 1, {}, service="Graph")
    assert "REQUESTS_CA_BUNDLE" in str(raised.value)
    assert str(bundle) not in str(raised.value)


def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error_or_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE names a missing file: the environment is "read once, when the session is made", but the
    path is only checked by requests on each request, which raises a bare OSError out of HttpEndpoint.request (not
    a TransportError, not a ConfigurationError): GraphClient lets it through, and no `failed` result names it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/corporate-ca.pem")
    try:
        endpoint = HttpEndpoint(f"https://127.0.0.1:{closed_port()}/v1.0", 1, {}, service="Graph")
    except ConfigurationError:
        return
    try:
        endpoint.request("GET", "/users/x/onlineMeetings", timeout=(2, 2))
    except NotSent:
        pass
    except Exception as error:
        pytest.fail(f"{type(error).__name__} escaped HttpEndpoint.request: {error}")
    finally:
        endpoint.close()


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:99999/v1.0",
        "http://127.0.0.1:notaport/v1.0",
        "http://127.0.0.1 /v1.0",
        "https://graph..microsoft.com/v1.0",
    ],
    ids=["port-out-of-range", "port-not-a-number", "space-in-host", "empty-label"],
)
def test_a_request_that_cannot_even_be_formed_is_not_sent(base_url: str) -> None:
    """A URL requests cannot send (InvalidURL) is reported as NoResponse "ConnectionDropped ... may have been sent",
    i.e. maybe applied, on every call; a host urllib3 cannot IDNA-encode raises a bare LocationParseError."""
    endpoint = HttpEndpoint(base_url, 1, {}, service="Graph")
    try:
        with pytest.raises(Exception) as raised:
            endpoint.request("POST", "/users/x/onlineMeetings/createOrGet", body=b"{}", timeout=(1, 1))
    finally:
        endpoint.close()
    assert isinstance(raised.value, NotSent), f"{type(raised.value).__name__}: {raised.value}"


# 4. Proxies: "a proxy URL that cannot be used is a configuration error naming the variable, never quoting it",
#    and proxies come "from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY".


def endpoint_failure(base_url: str) -> BaseException | None:
    """What making an endpoint and sending one request raises (None if it answered)."""
    try:
        endpoint = HttpEndpoint(base_url, 1, {}, service="Graph")
    except Exception as error:
        return error
    try:
        endpoint.request("GET", "/users/x/onlineMeetings", timeout=(1, 1))
    except Exception as error:
        return error
    finally:
        endpoint.close()
    return None


@pytest.mark.parametrize(
    "separator", ["\uff1a", "\uff0f", "\uff03"], ids=["fullwidth-colon", "fullwidth-slash", "fullwidth-hash"]
)
def test_a_proxy_password_is_never_quoted_whatever_the_proxy_url_holds(separator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY with a character NFKC maps to ':' '/' or '#' (a fullwidth colon typed on a CJK keyboard):
    urlsplit, outside _usable_proxies' try, raises ValueError("netloc 'user:<password>@proxy...' contains invalid
    characters under NFKC normalization"). It escapes as a bare ValueError quoting the password; runtime.handle
    catches only ConfigurationError, so the host logs it on every delivery and no `failed` result is sent."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://bridge:{SECRET}@proxy.corp{separator}3128")
    error = endpoint_failure("https://graph.microsoft.com/v1.0")
    assert error is not None
    assert SECRET not in str(error), str(error)
    assert isinstance(error, ConfigurationError), f"{type(error).__name__}: {error}"


def test_a_proxy_password_in_a_url_with_a_fullwidth_colon_never_reaches_the_host_log_and_the_last_delivery_is_answered(
    host: HostInvoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, as the host invokes the function on the last delivery: urlsplit's own error would quote the
    password; the bridge raises a ConfigurationError naming the variable, and the source gets its `failed` result."""
    monkeypatch.setenv("HTTP_PROXY", f"http://bridge:{SECRET}@proxy.corp\uff1a3128")
    monkeypatch.setenv("HTTPS_PROXY", f"http://bridge:{SECRET}@proxy.corp\uff1a3128")
    with pytest.raises(ConfigurationError) as raised:
        host.deliver(booking(), delivery_count=10)
    assert SECRET not in str(raised.value), str(raised.value)
    assert host.sent.results() and host.last_result().status.value == "failed"


@pytest.mark.parametrize(
    "proxy",
    ["http://[::1:3128", f"http://bridge:{SECRET}@[proxy.corp]:3128", "http://[v1.x]:3128"],
    ids=["open-bracket", "bracketed-name", "ipvfuture"],
)
def test_an_unparsable_proxy_url_is_a_configuration_error_naming_the_variable(
    proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy URL urlsplit refuses raises a bare ValueError out of HttpEndpoint() (GraphClient, TableClient):
    not the ConfigurationError that gets the last delivery its `failed` result. One urlsplit accepts (an IPvFuture
    host, `[v1.x]`) is taken, and every request through it is then NoResponse, "may have been sent"."""
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    error = endpoint_failure("https://graph.microsoft.com/v1.0")
    assert isinstance(error, ConfigurationError), f"{type(error).__name__}: {error}"
    assert "HTTPS_PROXY" in str(error)


def test_a_proxy_host_urllib3_cannot_encode_is_a_configuration_error_or_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY=http://user:pass@proxy..corp:3128 passes _usable_proxies (it has a hostname); each request then
    raises urllib3's LocationParseError bare (not a RequestException): neither a ConfigurationError nor a
    TransportError, so GraphClient lets it through."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://bridge:{SECRET}@proxy..corp:3128")
    error = endpoint_failure("https://graph.microsoft.com/v1.0")
    assert isinstance(error, (ConfigurationError, NotSent)), f"{type(error).__name__}: {error}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FTP_PROXY", "ftp://ftp-proxy.corp:21"),
        ("socks_proxy", "socks://proxy.corp:1080/"),
        ("GOPHER_PROXY", "gopher://x.corp:70"),
    ],
)
def test_a_proxy_variable_for_another_protocol_does_not_stop_the_bridge(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transport reads "proxies from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY", but urllib's getproxies()
    returns every *_proxy variable and _usable_proxies validates them all: a machine with ftp_proxy or socks_proxy
    set (Ubuntu's network settings write both) gets "setting FTP_PROXY (or ALL_PROXY): is not a proxy URL the bridge
    can use" on every delivery, though neither is ever used for Graph or the table."""
    monkeypatch.setenv(variable, value)
    try:
        HttpEndpoint("https://graph.microsoft.com/v1.0", 1, {}, service="Graph").close()
    except ConfigurationError as error:
        pytest.fail(f"an unused {variable} stopped the bridge: {error}")


# 5. Settings: "a missing or malformed setting raises ConfigurationError naming the setting and what it should
#    hold, never its value".


def sign_in_with_simulator(endpoint: str) -> dict[str, str]:
    return {
        FUNCTIONS_ENVIRONMENT: "Development",
        GRAPH_CREDENTIAL: "simulator",
        GRAPH_IDENTITY_ENDPOINT: endpoint,
        GRAPH_IDENTITY_HEADER: "header",
    }


@pytest.mark.parametrize(
    "settings",
    [
        {GRAPH_BASE_URL: f"https://svc:{SECRET}@graph.microsoft.com\uff0fv1.0"},
        {RECORD_STATE_TABLE_SERVICE_URI: f"https://acct:{SECRET}@contosobridge.table.core.windows.net\uff0f"},
        sign_in_with_simulator(f"http://msi:{SECRET}@127.0.0.1\uff1a8010/msi/token"),
        {GRAPH_BASE_URL: f"https://[{SECRET}]/v1.0"},
        {RECORD_STATE_TABLE_SERVICE_URI: f"https://[{SECRET}]"},
    ],
    ids=["graph-url-nfkc", "table-uri-nfkc", "identity-endpoint-nfkc", "graph-url-bracketed", "table-uri-bracketed"],
)
def test_no_url_setting_quotes_its_value_whatever_it_holds(settings: dict[str, str]) -> None:
    """urlsplit's own ValueError quotes the netloc ("netloc 'svc:<password>@graph...' contains invalid characters
    under NFKC normalization") or the bracketed host ("'<value>' does not appear to be an IPv4 or IPv6 address"),
    and _validated passes any ValueError's text on as the problem: the credentials reach the ConfigurationError,
    which the host logs on every delivery and the last delivery publishes in its `failed` result."""
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**NAMESPACE, **settings})
    assert SECRET not in str(raised.value), str(raised.value)


def test_the_cli_graph_url_check_does_not_quote_it_either() -> None:
    """check_graph_base_url (bridgectl's --graph-url) uses the same validator and quotes the password the same way."""
    with pytest.raises(ConfigurationError) as raised:
        check_graph_base_url(f"https://svc:{SECRET}@graph.microsoft.com\uff0fv1.0")
    assert SECRET not in str(raised.value), str(raised.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        (SERVICE_BUS_CONNECTION, "Endpoint=sb://[::1;UseDevelopmentEmulator=true"),
        (SERVICE_BUS_CONNECTION, f"Endpoint=sb://[{SECRET}];SharedAccessKeyName=k;SharedAccessKey=x;UseDevelopmentEmulator=true"),
        (RECORD_STATE_CONNECTION, f"AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};TableEndpoint=http://[::1"),
        (RECORD_STATE_CONNECTION, f"AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};TableEndpoint=http://[{SECRET}]/x"),
    ],
    ids=["service-bus-open-bracket", "service-bus-bracketed", "azurite-open-bracket", "azurite-bracketed"],
)
def test_a_malformed_connection_string_is_named_and_never_quoted(setting: str, value: str) -> None:
    """A connection string whose endpoint urlsplit refuses is named by its own setting, and urlsplit's message,
    which quotes the value, stays out of the error."""
    environment = {setting: value} if setting == SERVICE_BUS_CONNECTION else {**NAMESPACE, setting: value}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environment)
    assert raised.value.setting == setting, str(raised.value)
    assert SECRET not in str(raised.value), str(raised.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        (GRAPH_BASE_URL, "https://graph.microsoft.com:99999/v1.0"),
        (GRAPH_BASE_URL, "https://graph.microsoft.com:notaport/v1.0"),
        (GRAPH_BASE_URL, "https://graph .microsoft.com/v1.0"),
        (GRAPH_BASE_URL, "https://graph..microsoft.com/v1.0"),
        (RECORD_STATE_TABLE_SERVICE_URI, "https://contosobridge.table.core.windows.net:99999"),
        (RECORD_STATE_TABLE_SERVICE_URI, "https://contosobridge.table.core.windows.net#state"),
    ],
    ids=["graph-port-range", "graph-port-text", "graph-space", "graph-empty-label", "table-port-range", "table-fragment"],
)
def test_an_endpoint_no_request_can_be_sent_to_is_refused_when_the_settings_load(setting: str, value: str) -> None:
    """These pass load_settings; then every request fails: as "ConnectionDropped ... may have been sent" (requests'
    InvalidURL, counted maybe applied), as a bare LocationParseError, or (a fragment) silently to the account's root
    path, since the fragment swallows every table path appended to it."""
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**NAMESPACE, setting: value})
    assert raised.value.setting == setting


def test_an_azurite_key_that_is_not_base64_is_a_configuration_error() -> None:
    """RecordStateStorage with AccountName=devstoreaccount1 and a non-base64 AccountKey passes the settings; building
    the table client then raises binascii.Error (a bare ValueError) out of runtime.build_pipeline, so the last
    delivery gets no `failed` result naming the setting."""
    value = "AccountName=devstoreaccount1;AccountKey=not-base64!;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1"
    try:
        load_settings({**NAMESPACE, RECORD_STATE_CONNECTION: value})
    except ConfigurationError as error:
        assert error.setting == RECORD_STATE_CONNECTION
        return
    try:
        TableClient.for_emulator(value, "bookingstate", connect_timeout=1.0, read_timeout=1.0, max_connections=1).close()
    except ConfigurationError:
        return
    except Exception as error:
        pytest.fail(f"{type(error).__name__} escaped: {error}")
    pytest.fail("a key that is not base64 was accepted")


# 6. The docs describe the transport that exists.


def test_the_docs_name_only_modules_that_exist() -> None:
    """docs/lifecycle-and-ordering.md and docs/performance.md still cite shared/answer_head.py (deleted) and describe
    its watchdog and "no session layer", and the lifecycle doc promises that a tunnel or TLS handshake not set up
    within the connect timeout "counts as not sent", which the transport reports as a read timeout (maybe applied)."""
    root = Path(__file__).resolve().parent.parent
    missing = sorted(
        f"{document.name}: {module}"
        for document in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
        for module in set(re.findall(r"shared/[a-z_]+\.py", document.read_text()))
        if not (root / module).exists()
    )
    assert missing == []
