"""Whether a failed request may have been applied, directly and through a proxy.

Only a failure that proves nothing was written to Graph is "not sent" (maybe_applied False): a refused or
unresolvable connection, a proxy that cannot be reached, a certificate that is not trusted. Every failure
after the request may have left is "maybe applied", through a proxy as well as directly: the record state
then learns that a meeting may exist, so a move or a cancel later retires it instead of leaving it live.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import GraphUnavailable
from shared.graph_client import GraphClient
from shared.retry_policy import RetryPolicy
from simulator import Fault, GraphSimulator
from tests.loopback_http import accept_each, closed_port, read_request, relaying_proxy, self_signed

ONE_ATTEMPT = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)
ORGANIZER = "5f1c4f39-2d1e-4b8e-9a43-7f0f5b6f2c11"
BODY = json.dumps(
    {"externalId": "ext-1", "startDateTime": "2026-12-01T09:00:00Z", "endDateTime": "2026-12-01T09:30:00Z", "subject": "Call"}
).encode()

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def lost_create_or_get(base_url: str, token: str) -> GraphUnavailable:
    client = GraphClient(base_url, lambda: token, retry_policy=ONE_ATTEMPT, read_timeout_seconds=1.0)
    try:
        with pytest.raises(GraphUnavailable) as raised:
            client.create_or_get(ORGANIZER, BODY)
    finally:
        client.close()
    return raised.value


def meetings_once_applied(sim: GraphSimulator) -> int:
    """The meetings, once a late request had its delay (the simulator applies it after the client gave up)."""
    for _ in range(40):
        if sim.meetings():
            break
        time.sleep(0.05)
    return len(sim.meetings())


@pytest.fixture
def through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    with relaying_proxy() as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        yield port


@pytest.mark.parametrize("fault", [Fault(drop_after_processing=True), Fault(delay_seconds=1.5)], ids=["dropped", "late"])
def test_a_create_or_get_graph_applied_whose_response_was_lost_through_a_proxy_may_have_been_applied(
    sim: GraphSimulator, token: str, through_a_proxy: int, fault: Fault
) -> None:
    sim.inject(fault)
    lost = lost_create_or_get(sim.graph_base_url, token)
    assert lost.maybe_applied is True, lost.info
    assert meetings_once_applied(sim) == 1, "the simulator applied the request behind the proxy"


@pytest.mark.parametrize("fault", [Fault(drop_after_processing=True), Fault(delay_seconds=1.5)], ids=["dropped", "late"])
def test_a_create_or_get_graph_applied_whose_response_was_lost_directly_may_have_been_applied(
    sim: GraphSimulator, token: str, fault: Fault
) -> None:
    sim.inject(fault)
    assert lost_create_or_get(sim.graph_base_url, token).maybe_applied is True
    assert meetings_once_applied(sim) == 1


def test_a_request_a_proxy_could_not_even_connect_for_was_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    lost = lost_create_or_get("https://graph.example.test/v1.0", "token")
    assert lost.maybe_applied is False
    assert lost.info.code == "ProxyUnreachable"


def test_a_refused_connection_was_not_sent() -> None:
    lost = lost_create_or_get(f"http://127.0.0.1:{closed_port()}/v1.0", "token")
    assert lost.maybe_applied is False
    assert lost.info.code == "ConnectFailed"


@pytest.fixture
def tls_service_that_reads_and_hangs_up(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS service (a self-signed certificate for 127.0.0.1) that reads a request and closes without a response."""
    certificate, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    received = threading.Event()

    def serve(connection: object) -> None:
        try:
            with context.wrap_socket(connection, server_side=True) as tls:  # type: ignore[arg-type]
                if read_request(tls, b"") is not None:
                    received.set()
        except (OSError, ssl.SSLError):
            return

    with accept_each(serve) as port:
        yield port, certificate


def test_a_request_dropped_after_it_went_through_a_proxys_tunnel_may_have_been_applied(
    tls_service_that_reads_and_hangs_up: tuple[int, Path], through_a_proxy: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, certificate = tls_service_that_reads_and_hangs_up
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    lost = lost_create_or_get(f"https://127.0.0.1:{port}/v1.0", "token")
    assert lost.maybe_applied is True, lost.info
    assert lost.info.code == "ConnectionDropped"


def test_an_untrusted_certificate_means_not_sent_and_says_to_look_at_the_ca_bundle(
    tls_service_that_reads_and_hangs_up: tuple[int, Path],
) -> None:
    port, _ = tls_service_that_reads_and_hangs_up
    lost = lost_create_or_get(f"https://127.0.0.1:{port}/v1.0", "token")
    assert lost.maybe_applied is False
    assert lost.info.code == "CertificateNotTrusted"
    assert "REQUESTS_CA_BUNDLE" in lost.info.message


def test_an_untrusted_certificate_behind_a_proxy_means_not_sent(
    tls_service_that_reads_and_hangs_up: tuple[int, Path], through_a_proxy: int
) -> None:
    port, _ = tls_service_that_reads_and_hangs_up
    lost = lost_create_or_get(f"https://127.0.0.1:{port}/v1.0", "token")
    assert lost.maybe_applied is False
    assert lost.info.code == "CertificateNotTrusted"
