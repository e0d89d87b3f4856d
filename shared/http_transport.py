"""HTTP to one remote service over one urllib3 connection pool: what the Graph and table clients send with.

urllib3 is what requests sends with; requests' Session on top of it (merging settings, preparing
the request, cookies, hooks, building its Response) was a third of each call's CPU and gave the
bridge nothing it uses (bench/hotspots.py, issue 12). The pool is thread-safe and keeps
connections alive between bookings. Nothing is retried and no redirect is followed here: the
callers own both. The environment is read once, when the pool is made, as requests read it:
proxies (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, with credentials and with or without a scheme;
NO_PROXY, with CIDR ranges) and the CA bundle (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, a file or a
hashed directory, else certifi's).

An answer is bounded. urllib3's read timeout bounds each recv, so an answer trickled in a byte at a
time would hold the invocation without end: its head must arrive whole within the read timeout of the
request being sent, and its body within the read timeout of its head, however many reads it takes
(_Watchdog shuts down the socket of an answer that is late; a watch ends before the connection can
carry another request). It may not exceed MAX_ANSWER_BYTES, it is never decompressed (the
bridge asks for none, so a compressed answer is not one it can read: the callers see bytes that are
not JSON), and an interim 1xx answer is not taken for the final one. Its head is read by
shared.answer_head, as HTTP fields rather than through the email package, and refused if it cannot be
read whole.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    ProtocolError,
    ProxyError,
    ProxySchemeUnknown,
    ReadTimeoutError,
)

from shared.answer_head import PlainHeadResponse
from shared.errors import ConfigurationError

# A request that got no complete answer: the connection failed, timed out or was dropped.
TransportError = HTTPError
# Of those, the ones raised before a connection existed (refused, unresolvable, timed out connecting,
# the proxy unreachable, or the client closed): the request never left, so it cannot have been applied.
# (urllib3 raises ProxyError only while connecting to the proxy, before anything is sent through it.)
NotSent = (ConnectTimeoutError, ProxyError, ClosedPoolError)
# Of those, an answer that did not come (whole) in time.
NoAnswerInTime = ReadTimeoutError
# Graph's largest answers here (a meeting with its invitation, an events page) are tens of KiB and a
# table entity at most 1 MiB: anything far beyond is not an answer the bridge can use.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
_BODY_LATE = "the answer's body did not arrive whole within the read timeout"


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
            self._pool = _pool_through(proxy, split.scheme, options, base_url)
        else:
            self._pool = urllib3.PoolManager(**options).connection_from_url(base_url)
        # Through a proxy the pool is the proxy's: its kind, not the service's scheme, says which connection.
        tls = isinstance(self._pool, urllib3.HTTPSConnectionPool)
        self._pool.ConnectionCls = _WatchedHTTPSConnection if tls else _WatchedHTTPConnection
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
        if response.status < 200:
            # http.client passes over 100 Continue only: another interim answer (103 Early Hints) is not
            # the final one, which is still to come on this connection. It cannot be reused.
            response.close()
            response.release_conn()
            raise ProtocolError(f"an interim {response.status} answer came where the final answer belongs")
        return HttpReply(response.status, response.reason or "", response.headers, _whole_body(response, timeout[1], self._pool))

    def close(self) -> None:
        self._pool.close()


def _whole_body(response: urllib3.BaseHTTPResponse, read_timeout: float, pool: urllib3.HTTPConnectionPool) -> bytes:
    """The answer's body within the read timeout of its head and within MAX_ANSWER_BYTES; else the connection is dropped.

    The watchdog bounds the whole body, however many reads it takes (inside one read1, a chunked body's
    size lines and trailers are read line by line); each read is bounded by the read timeout urllib3 set."""
    connection = response.connection
    watch = connection.watch_body(time.monotonic() + read_timeout) if isinstance(connection, _Watched) else None
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.read1(_CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ProtocolError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
        cut_short = watch is not None and _WATCHDOG.disarm(watch)
    except BaseException as error:
        response.close()  # a connection with an answer half read is not reused
        if watch is not None and _WATCHDOG.disarm(watch) and isinstance(error, Exception):
            raise ReadTimeoutError(pool, "", _BODY_LATE) from None  # the failure the watchdog made
        raise
    finally:
        response.release_conn()
    if cut_short:
        # A body read until the connection closes takes the end of stream the watchdog made for its end.
        response.close()
        raise ReadTimeoutError(pool, "", _BODY_LATE)
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


def _pool_through(proxy: str, scheme: str, options: dict[str, Any], base_url: str) -> urllib3.HTTPConnectionPool:
    """The service's pool through the proxy; a proxy URL urllib3 cannot use is a setting to correct, never
    quoted (its password would be), and raised outside the except clause so no exception carries it."""
    try:
        manager = urllib3.ProxyManager(proxy, proxy_headers=_proxy_credentials(proxy), **options)
        return manager.connection_from_url(base_url)
    except (LocationParseError, ProxySchemeUnknown, ValueError):
        pass
    raise ConfigurationError(
        f"{scheme.upper()}_PROXY (or ALL_PROXY)",
        "is not a proxy URL the bridge can use: http:// or https://, host and port, user and password percent-encoded",
    )


def _proxy_credentials(proxy: str) -> dict[str, str] | None:
    """Proxy-Authorization for a proxy URL with user:password (urllib3 does not take them from the URL)."""
    split = urlsplit(proxy)
    if split.username is None:
        return None
    return urllib3.make_headers(proxy_basic_auth=f"{unquote(split.username)}:{unquote(split.password or '')}")


def _ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


class _Watch:
    """One read under watch (an answer's head or body, a CONNECT answer): its socket, shut down if the read is
    not done by the deadline."""

    __slots__ = ("deadline", "done", "fired", "sock")

    def __init__(self, deadline: float, sock: Any) -> None:
        self.deadline, self.sock, self.fired, self.done = deadline, sock, False, False


class _Watchdog:
    """One daemon thread for the process: it sleeps until the earliest deadline of the reads under watch,
    and shuts down the connection of any that is not done by then, which ends the recv waiting on it."""

    def __init__(self) -> None:
        self._afresh()

    def _afresh(self) -> None:
        """No watches and no thread: in a new process, and in a forked child, which has none of its parent's
        threads and may have copied the lock while one of them held it."""
        self._due: list[tuple[float, int, _Watch]] = []
        self._live = 0
        self._order = itertools.count()
        # Reentrant: a signal handler that sends a request may run while its thread holds the lock.
        self._changed = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, sock: Any) -> _Watch:
        watch = _Watch(deadline, sock)
        with self._changed:
            heapq.heappush(self._due, (deadline, next(self._order), watch))
            self._live += 1
            self._keep_running()
            if self._due[0][2] is watch or self._crowded():
                self._changed.notify()
        return watch

    def disarm(self, watch: _Watch) -> bool:
        """End the watch (again, harmlessly); whether it fired."""
        with self._changed:
            if not watch.done:
                watch.done = True  # left in the heap: dropped when it comes first, without waking for it
                self._live -= 1
        return watch.fired

    def _crowded(self) -> bool:
        """Done watches behind a live one wait for it to come first: the thread drops them when they crowd the heap."""
        return len(self._due) > 64 and len(self._due) > 4 * self._live

    def _keep_running(self) -> None:
        """(Re)start the thread if it is not running; a refused start leaves this head unbounded, not failed."""
        if self._thread is not None and self._thread.is_alive():
            return
        thread = threading.Thread(target=self._run, name="http-answer-watchdog", daemon=True)
        with contextlib.suppress(RuntimeError):  # "can't start new thread": the next arm tries again
            thread.start()
            self._thread = thread

    def _run(self) -> None:
        with self._changed:
            while True:
                if self._crowded():
                    # Here, not in arm: a signal handler sending a request may arm a watch while its thread is
                    # inside arm, and would push onto the list being filtered (found by the fifth issue-12 review).
                    self._due = [due for due in self._due if not due[2].done]
                    heapq.heapify(self._due)
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                watch = heapq.heappop(self._due)[2]
                watch.fired, watch.done = True, True
                self._live -= 1
                _shut_down(watch.sock)


def _shut_down(sock: Any) -> None:
    """Shut the raw socket down, under any TLS (an SSLSocket is one; urllib3's TLS-in-TLS wraps one)."""
    while sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing waits on it
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_WATCHDOG._afresh)


class _Watched:
    """Puts the answer's head under the watchdog while it is read, for the read timeout urllib3 just set,
    and its body when the reader asks (watch_body); a CONNECT answer too, for the connect timeout."""

    sock: Any
    timeout: Any
    response_class: type[http.client.HTTPResponse] = PlainHeadResponse  # heads read without the email package
    # The socket the last answer's head came on: http.client lets go of it (sock is None) when the body is
    # to be read until the connection closes.
    _answer_sock: Any = None
    _body_watch: _Watch | None = None

    def watch_body(self, deadline: float) -> _Watch | None:
        """Put the answer's body under the watchdog until `deadline` (None if its head was not watched either)."""
        if self._answer_sock is None:
            return None
        watch = self._body_watch = _WATCHDOG.arm(deadline, self._answer_sock)
        return watch

    @property
    def is_connected(self) -> bool:
        # urllib3 takes the connection back as soon as the body's last byte is read, before the reader
        # can end its watch, and asks this before lending it again: the watch ends here at the latest, so
        # it never cuts the next request short. If it fired, the connection reads as dropped and is replaced.
        if self._body_watch is not None:
            _WATCHDOG.disarm(self._body_watch)
            self._body_watch = None
        return super().is_connected  # type: ignore[misc]

    def getresponse(self) -> Any:
        read = super().getresponse  # type: ignore[misc]
        self._answer_sock = self.sock if self._timed() else None
        if self._answer_sock is None:
            return read()
        return self._within(self.timeout, "the answer's head did not arrive whole within the read timeout", read)

    def connect(self) -> None:
        """Nothing reaches the service before the connection is up (TCP, the proxy's tunnel, TLS): a timeout
        here is a connect timeout, so the request was not sent (urllib3 would call a tunnel or a handshake
        that timed out a read timeout, found by the fifth issue-12 review)."""
        try:
            super().connect()  # type: ignore[misc]
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"the connection was not set up within the connect timeout ({error})") from None

    def _tunnel(self) -> None:
        """A proxy's answer to CONNECT, under the same watch for the connect timeout (nothing is sent yet)."""
        read = super()._tunnel  # type: ignore[misc]
        if not self._timed():
            read()
            return
        self._within(self.timeout, "the proxy's answer to CONNECT did not arrive within the connect timeout", read)

    def _timed(self) -> bool:
        """Whether there is a socket to watch and a timeout to watch it for (urllib3 may leave either out)."""
        return self.sock is not None and isinstance(self.timeout, int | float)

    def _within(self, seconds: float, late: str, read: Callable[[], Any]) -> Any:
        """read() with the socket under the watchdog for `seconds`; TimeoutError(late) if the watchdog ended it,
        even if what it read parsed (http.client stops at the end of stream the watchdog made)."""
        watch = _WATCHDOG.arm(time.monotonic() + seconds, self.sock)
        try:
            answer = read()
        except Exception:
            if _WATCHDOG.disarm(watch):
                raise TimeoutError(late) from None
            raise
        if _WATCHDOG.disarm(watch):
            if answer is not None:
                answer.close()  # a response cut short
            raise TimeoutError(late)
        return answer


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


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
            record.msg, record.args = "urllib3 warned about an answer (its URL is withheld)", None
        return True


# Every urllib3 module that logs (a filter applies to its own logger's records only).
for _module in ("connection", "connectionpool", "poolmanager", "response", "util.retry", "contrib.socks"):
    logging.getLogger(f"urllib3.{_module}").addFilter(_WithoutRequestTargets())
