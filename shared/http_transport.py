"""HTTP to one remote service over one urllib3 connection pool: what the Graph and table clients send with.

urllib3 is what requests sends with; requests' Session on top of it (merging settings, preparing
the request, cookies, hooks, building its Response) was a third of each call's CPU and gave the
bridge nothing it uses (bench/hotspots.py, issue 12). The pool is thread-safe and keeps
connections alive between bookings. Nothing is retried and no redirect is followed here: the
callers own both. The environment is read once, when the pool is made, as requests read it:
proxies (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, with credentials and with or without a scheme;
NO_PROXY, with CIDR ranges) and the CA bundle (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, a file or a
hashed directory, else certifi's).

An answer is bounded: its body must arrive whole within the read timeout of its head (a read
timeout alone bounds each recv, and a body trickled a byte at a time would hold the invocation),
it may not exceed MAX_ANSWER_BYTES, and it is never decompressed (the bridge asks for none, so a
compressed answer is not one it can read: the callers see bytes that are not JSON).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.exceptions import ClosedPoolError, ConnectTimeoutError, HTTPError, ProtocolError, ReadTimeoutError

# A request that got no complete answer: the connection failed, timed out or was dropped.
TransportError = HTTPError
# Of those, the ones raised before a connection existed (refused, unresolvable, timed out connecting,
# or the client closed): the request never left, so it cannot have been applied.
NotSent = (ConnectTimeoutError, ClosedPoolError)
# Of those, an answer that did not come (whole) in time.
NoAnswerInTime = ReadTimeoutError
# Graph's largest answers here (a meeting with its invitation, an events page) are tens of KiB and a
# table entity at most 1 MiB: anything far beyond is not an answer the bridge can use.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete answer: status, reason phrase, headers (case-insensitive) and the whole body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class HttpEndpoint:
    """Requests to one service (scheme, host, port and base path); raises only TransportError's kinds."""

    def __init__(self, base_url: str, max_connections: int, headers: Mapping[str, str]) -> None:
        split = urlsplit(base_url.rstrip("/"))
        self.host = split.hostname
        self.base_path = split.path
        self._headers = dict(headers)
        ca_bundle = _ca_bundle()
        options: dict[str, Any] = {"maxsize": max_connections, "retries": False}
        options["ca_cert_dir" if os.path.isdir(ca_bundle) else "ca_certs"] = ca_bundle
        proxy = _proxy_for(split.scheme, split.hostname or "", split.port)
        if proxy:
            manager: urllib3.PoolManager = urllib3.ProxyManager(proxy, proxy_headers=_proxy_credentials(proxy), **options)
        else:
            manager = urllib3.PoolManager(**options)
        self._pool = manager.connection_from_url(base_url)
        # A plain-HTTP request through a proxy names the whole URL; any other names only the path.
        self._target_prefix = f"{split.scheme}://{split.netloc}" if proxy and split.scheme == "http" else ""

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float],
    ) -> HttpReply:
        """`path` (with its query) below the base URL; `timeout` is (connect, read) in seconds."""
        response = self._pool.urlopen(
            method,
            self._target_prefix + self.base_path + path,
            body=body,
            headers={**self._headers, **headers} if headers else self._headers,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
        )
        # The head came within the read timeout (urllib3 bounds each recv); the body gets as long again, in all.
        body = _whole_body(response, time.monotonic() + timeout[1], self._pool)
        return HttpReply(response.status, response.reason or "", response.headers, body)

    def close(self) -> None:
        self._pool.close()


def _whole_body(response: urllib3.BaseHTTPResponse, deadline: float, pool: urllib3.HTTPConnectionPool) -> bytes:
    """The answer's body, read by the deadline and within MAX_ANSWER_BYTES; else the connection is dropped."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.read1(_CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ProtocolError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
            if time.monotonic() > deadline:
                raise ReadTimeoutError(pool, "", "the answer did not arrive whole in time")
            chunks.append(chunk)
    except BaseException:
        response.close()  # a connection with an answer half read is not reused
        raise
    finally:
        response.release_conn()
    return b"".join(chunks)


def _proxy_for(scheme: str, host: str, port: int | None) -> str | None:
    if _bypasses_proxy(host, port):
        return None
    proxies = getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"  # "proxy:3128", as requests read it
    return proxy


def _bypasses_proxy(host: str, port: int | None) -> bool:
    """NO_PROXY's names and suffixes (urllib's reading), and its CIDR ranges for an IP host (which urllib ignores)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        for entry in getproxies().get("no", "").split(","):
            try:
                if "/" in entry and address in ipaddress.ip_network(entry.strip(), strict=False):
                    return True
            except ValueError:
                continue
    return bool(proxy_bypass(f"{host}:{port}" if port else host))


def _proxy_credentials(proxy: str) -> dict[str, str] | None:
    """Proxy-Authorization for a proxy URL with user:password (urllib3 does not take them from the URL)."""
    split = urlsplit(proxy)
    if split.username is None:
        return None
    return urllib3.make_headers(proxy_basic_auth=f"{unquote(split.username)}:{unquote(split.password or '')}")


def _ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


class _WithoutRequestTargets(logging.Filter):
    """urllib3 names the request's URL in its log lines, and the URL carries the organizer's id or the
    record's key: its debug lines are dropped, and a warning keeps only its kind."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        if record.exc_info is not None:
            kind = record.exc_info[0].__name__ if record.exc_info[0] is not None else "an error"
            record.msg, record.args = "urllib3: %s (its details are withheld)", (kind,)
            record.exc_info, record.exc_text = None, None
        elif "url=" in str(record.msg):
            record.msg, record.args = "urllib3 warned about an answer (its URL is withheld)", None
        return True


# Every urllib3 module that logs (a filter applies to its own logger's records only).
for _module in ("connection", "connectionpool", "poolmanager", "response", "util.retry", "contrib.socks"):
    logging.getLogger(f"urllib3.{_module}").addFilter(_WithoutRequestTargets())
