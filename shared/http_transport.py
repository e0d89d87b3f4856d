"""HTTP to one service through a requests Session: what the Graph and table clients send with.

One Session per service, its HTTPAdapter sized to the invocations that share it; the adapter's pool is
thread-safe and keeps connections alive between bookings. Nothing is retried and no redirect is followed
here: the callers own both. The environment is read once, when the session is made, by requests' own
merge_environment_settings (proxies from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY; the CA bundle
from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's); trust_env is then off, so no request reads it
again, nor .netrc. Cookies are refused: nothing a service sets is sent back.

A response is bounded: each read by the read timeout, the body by MAX_RESPONSE_BYTES and by one read timeout
after its head (checked between reads), never decompressed (identity is asked for), and an interim 1xx
response is not taken for the final one.

A failure is one of two kinds, and the difference decides whether Graph may have applied the request:
NotSent only when the failure proves nothing was written to the service (no connection, through a proxy
too, or a certificate that is not trusted); NoResponse for every failure after the request may have left.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    ProxyError,
    ReadTimeoutError,
)
from urllib3.util import parse_url

from shared.connection_string import is_host
from shared.errors import ConfigurationError

# Graph's largest responses here (a meeting with its invitation, an events page) are tens of KiB and a
# table entity at most 1 MiB: anything far beyond is not a response the bridge can use.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
_CA_BUNDLE = "REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE)"
# OpenSSL's reasons for a handshake the peer refused: said during the handshake only, before any request.
_HANDSHAKE_REFUSALS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
    }
)


class TransportError(Exception):
    """A request that got no complete response: `code` names the kind, the message says it without the URL."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class NotSent(TransportError):
    """Nothing was written to the service: the request cannot have been applied."""


class NoResponse(TransportError):
    """The request may have reached the service, but no complete response came back."""


class ResponseTimedOut(NoResponse):
    """The response (or the rest of it) did not come within the read timeout."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response: status, reason phrase, headers (case-insensitive) and the whole body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class HttpEndpoint:
    """Requests to one service (scheme, host, port and base path); raises only TransportError's kinds."""

    def __init__(self, base_url: str, max_connections: int, headers: Mapping[str, str], *, service: str) -> None:
        self.service = service  # how a failure names it: "Graph", "the state table"
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self.host, self.base_path = split.hostname, split.path
        session = requests.Session()
        environment = session.merge_environment_settings(self.base_url, {}, None, None, None)
        session.trust_env = False
        session.proxies = _usable_proxies(environment["proxies"], split.scheme)
        session.verify = _usable_ca_bundle(environment["verify"])
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.headers.clear()
        session.headers.update({"Accept-Encoding": "identity", **headers})
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_connections, max_retries=0)
        session.mount("https://", self._adapter)
        session.mount("http://", self._adapter)
        self._session = session

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float],
    ) -> HttpResponse:
        """`path` (with its query) below the base URL; `timeout` is (connect, read) in seconds."""
        session = self._session
        try:
            prepared = session.prepare_request(requests.Request(method, self.base_url + path, headers=headers, data=body))
        except (requests.RequestException, ValueError):
            raise NotSent("InvalidRequest", f"the request to {self.service} could not be formed") from None
        try:
            # The adapter, not Session.send: the session would read a 3xx's body whole (no cap, no deadline,
            # decompressed) to prepare the redirect it is told not to follow.
            response = self._adapter.send(prepared, stream=True, timeout=timeout, verify=session.verify, proxies=session.proxies)
        except (requests.RequestException, HTTPError) as error:
            raise _failure(error, self.service) from None
        except OSError:  # requests checks the CA bundle before it connects
            raise NotSent("CertificateBundleUnreadable", f"{_CA_BUNDLE} is no longer readable, so nothing was sent") from None
        with response:
            if response.status_code < 200:
                # http.client passes over 100 Continue only: another interim response (103 Early Hints) is not
                # the final one, which is still to come on this connection.
                raise NoResponse(
                    "InterimResponse", f"an interim {response.status_code} response came where the final one belongs"
                )
            content = _whole_body(response, time.monotonic() + timeout[1], self.service)
        return HttpResponse(response.status_code, response.reason or "", response.headers, content)

    def close(self) -> None:
        self._session.close()


def _whole_body(response: requests.Response, deadline: float, service: str) -> bytes:
    """The body, read as it arrives (read1: one receive at a time), within MAX_RESPONSE_BYTES and `deadline`.

    A failure leaves the connection closed by the response's `with`: one half read is never reused."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise NoResponse("ResponseTooLarge", f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
            if time.monotonic() > deadline:
                raise ResponseTimedOut("ReadTimeout", "the response's body did not arrive whole within the read timeout")
            chunks.append(chunk)
    except (HTTPError, OSError) as error:
        raise _failure(error, service) from None
    return b"".join(chunks)


def _failure(error: Exception, service: str) -> TransportError:
    """The kind of a requests or urllib3 failure, described without its message (which names the URL)."""
    causes = _causes(error)

    def caused_by(*kinds: type[BaseException]) -> bool:
        return any(isinstance(cause, kinds) for cause in causes)

    if caused_by(ssl.SSLCertVerificationError):
        return NotSent(
            "CertificateNotTrusted",
            f"the TLS certificate of {service} (or of the proxy) is not trusted, so nothing was sent: check {_CA_BUNDLE}",
        )
    if any(isinstance(cause, ssl.SSLError) and cause.reason in _HANDSHAKE_REFUSALS for cause in causes):
        return NotSent("TlsHandshakeFailed", f"{service} (or the proxy) refused the TLS handshake, so nothing was sent")
    # http.client's words when a proxy answers CONNECT with anything but 2xx: the tunnel never opened.
    if any(isinstance(cause, OSError) and str(cause).startswith("Tunnel connection failed") for cause in causes):
        return NotSent("ProxyRefused", f"the proxy refused to open a tunnel to {service}: check its rules and credentials")
    if isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema) or caused_by(LocationValueError):
        return NotSent("InvalidRequest", f"the request to {service} could not be formed")
    # Only a failure to connect proves nothing was sent. urllib3's ProxyError does not: it also wraps a
    # response lost after the request went through the proxy (the connection is closed, and with it the
    # record that the proxy was reached), so through a proxy the wrapped failure decides, as it does directly.
    if caused_by(ConnectTimeoutError, ClosedPoolError):  # NewConnectionError (refused, not resolved) is one
        if caused_by(ProxyError):
            return NotSent("ProxyUnreachable", "could not connect to the proxy (refused, not resolved or timed out connecting)")
        return NotSent("ConnectFailed", f"could not connect to {service} (refused, not resolved or timed out connecting)")
    if caused_by(ReadTimeoutError, TimeoutError):
        return ResponseTimedOut("ReadTimeout", f"{service} did not respond within the read timeout")
    return NoResponse(
        "ConnectionDropped", f"the connection to {service} failed or was dropped after the request may have been sent"
    )


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps: requests' and urllib3's exceptions carry their cause in args, `reason`
    or `original_error` (not __context__, which may hold an unrelated failure handled earlier)."""
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending and len(seen) < 16:
        current = pending.pop()
        if isinstance(current, BaseException) and all(current is not known for known in seen):
            seen.append(current)
            wrapped = (getattr(current, "reason", None), getattr(current, "original_error", None), current.__cause__)
            pending.extend((*wrapped, *current.args))
    return seen


def _usable_proxies(proxies: Mapping[str, str], scheme: str) -> dict[str, str]:
    """The proxy for the service's scheme (or ALL_PROXY), HOST:PORT read as http://HOST:PORT (requests would take
    "localhost" for a scheme); other protocols' proxies (FTP_PROXY, socks_proxy) are not the bridge's.

    A proxy URL that cannot be used is a setting to correct, never quoted (its password would be)."""
    usable = {}
    for name in (scheme, "all"):
        proxy = proxies.get(name)
        if not proxy:
            continue
        proxy = proxy if "://" in proxy else f"http://{proxy}"
        try:
            parsed = parse_url(proxy)
            valid = parsed.scheme in ("http", "https") and parsed.port != 0 and is_host(parsed.host or "")
        except (LocationValueError, ValueError):
            valid = False
        if not valid:
            raise ConfigurationError(
                f"{name.upper()}_PROXY",
                "is not a proxy URL the bridge can use: http:// or https://, a host name or address and a port, "
                "user and password percent-encoded",
            )
        usable[name] = proxy
    return usable


def _usable_ca_bundle(verify: bool | str) -> bool | str:
    """True (certifi's bundle), or the bundle the environment names once it has been read: a file of PEM
    certificates or a directory of hashed ones; anything else is a setting to correct."""
    if verify is True or verify is False:
        return verify
    try:
        if os.path.isdir(verify):
            ssl.create_default_context(capath=verify)
        else:
            ssl.create_default_context(cafile=verify)
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        raise ConfigurationError(_CA_BUNDLE, "is not a readable file of PEM certificates or a directory of them") from None
    return verify


class _WithoutRequestTargets(logging.Filter):
    """urllib3 names the request's URL in its log lines, and the URL carries the organizer's id or the
    record's key: its debug lines are dropped, and a warning keeps only its kind."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        if record.exc_info:
            kind = record.exc_info[0].__name__ if record.exc_info[0] is not None else "an error"
            record.msg, record.args = "urllib3: %s (its details are withheld)", (kind,)
            record.exc_info, record.exc_text = None, None
        elif "url=" in str(record.msg):
            record.msg, record.args = "urllib3 warned about a response (its URL is withheld)", None
        return True


# Every urllib3 module that logs (a filter applies to its own logger's records only).
for _module in ("connection", "connectionpool", "poolmanager", "response", "util.retry", "contrib.socks"):
    logging.getLogger(f"urllib3.{_module}").addFilter(_WithoutRequestTargets())
