"""Proxy paths of shared/http_transport.py:

1. a refused TLS proxy (HTTP_PROXY=https://...) for an http:// service is a transport error of its kind;
2. a proxy URL without a host is a ConfigurationError, like any proxy URL requests cannot use;
3. a CONNECT or a TLS handshake that never completes is a failure that may have been applied: urllib3 reports
   it as a read timeout, which cannot be told from a response that never came, so the bridge counts it on
   the safe side (a retry's createOrGet finds the meeting; a later cancel looks for it).
"""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from shared.errors import ConfigurationError
from shared.http_transport import HttpEndpoint, NoResponse, NotSent, TransportError
from shared.retry_policy import RetryPolicy
from tests.loopback_http import accept_each, closed_port, requested

ONE_ATTEMPT = RetryPolicy(budget_seconds=10, base_delay_seconds=0.01, max_delay_seconds=0.02, max_attempts=1)

pytestmark = pytest.mark.usefixtures("no_transport_settings_from_the_machine")


def test_an_https_proxy_for_an_http_service_fails_as_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy's port is closed: a refused proxy was never sent anything."""
    monkeypatch.setenv("HTTP_PROXY", f"https://127.0.0.1:{closed_port()}")
    endpoint = HttpEndpoint("http://state.example.test/devstoreaccount1", 1, {}, service="the service")
    try:
        endpoint.request("GET", "/Tables", timeout=(1.0, 1.0))
        raised: BaseException | None = None
    except BaseException as error:
        raised = error
    finally:
        endpoint.close()
    assert isinstance(raised, NotSent), f"request() raised {raised!r}, not NotSent"


def test_a_proxy_url_without_a_host_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@:3128")
    try:
        HttpEndpoint("http://state.example.test/devstoreaccount1", 1, {}, service="the service").close()
        raised: BaseException | None = None
    except BaseException as error:
        raised = error
    assert isinstance(raised, ConfigurationError), f"HttpEndpoint() raised {raised!r}"


def silent_after_the_first_bytes(connection: socket.socket) -> None:
    """Reads what comes (a CONNECT, a TLS ClientHello) and never answers."""
    with connection, contextlib.suppress(OSError):
        connection.recv(65536)
        time.sleep(5)


def test_a_connect_answer_that_never_comes_counts_as_maybe_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    with accept_each(silent_after_the_first_bytes) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        with pytest.raises(TransportError) as raised:
            requested("https://graph.example.test/v1.0", "/users/x/onlineMeetings", (0.5, 5.0), method="POST", body=b"{}")
    assert isinstance(raised.value, NoResponse), f"{type(raised.value).__name__}: {raised.value}"


def test_a_tls_handshake_that_never_completes_counts_as_maybe_applied() -> None:
    with accept_each(silent_after_the_first_bytes) as port, pytest.raises(TransportError) as raised:
        requested(f"https://127.0.0.1:{port}/v1.0", "/users/x/onlineMeetings", (0.5, 5.0), method="POST", body=b"{}")
    assert isinstance(raised.value, NoResponse), f"{type(raised.value).__name__}: {raised.value}"
    assert "onlineMeetings" not in str(raised.value)
