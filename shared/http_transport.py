"""HTTP to one remote service over one urllib3 connection pool: what the Graph and table clients send with.

urllib3 is what requests sends with; requests' Session on top of it (merging settings, preparing
the request, cookies, hooks, building its Response) was a third of each call's CPU and gave the
bridge nothing it uses (bench/hotspots.py, issue 12). The pool is thread-safe and keeps
connections alive between bookings. Nothing is retried and no redirect is followed here: the
callers own both. Proxies (HTTPS_PROXY, NO_PROXY...) and the CA bundle (REQUESTS_CA_BUNDLE or
CURL_CA_BUNDLE, else certifi's, as requests would) are read once, when the pool is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError

# A request that got no complete answer: the connection failed, timed out or was dropped.
TransportError = HTTPError
# Of those, the ones raised before a connection existed (refused, unresolvable, timed out connecting):
# the request never left, so it cannot have been applied.
NotSent = ConnectTimeoutError
# Of those, an answer that did not come within the read timeout.
NoAnswerInTime = ReadTimeoutError


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
        proxy = _proxy_for(base_url)
        options: dict[str, Any] = {"maxsize": max_connections, "ca_certs": _ca_bundle(), "retries": False}
        manager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
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
        )
        return HttpReply(response.status, response.reason or "", response.headers, response.data)

    def close(self) -> None:
        self._pool.close()


def _proxy_for(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    if proxy_bypass(host):
        return None
    proxies = getproxies()
    return proxies.get(urlsplit(url).scheme) or proxies.get("all")


def _ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
