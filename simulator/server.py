"""HTTP plumbing: a quiet, keep-alive HTTP/1.1 server on loopback that hands each request to an app.

Clients keep connections alive (a requests.Session pools them), so the server speaks HTTP/1.1,
always sends Content-Length and never closes a connection it was not asked to close. Each
response goes out in one write with Nagle off: on loopback, a header write followed by a
body write otherwise meets the client's delayed ACK and costs 40 ms per request.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    """One request as the app sees it: header names are lower-cased, the body is fully read."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    request_id: str
    client_request_id: str
    connection_id: int = 0  # which TCP connection carried it: numbered from 1 in the order they were accepted


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON response; Content-Type defaults to application/json unless `headers` sets it."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return HttpResponse(status, json.dumps(payload).encode("utf-8"), all_headers)


class HttpApp(Protocol):
    """What the server needs from the application behind it."""

    def connection_opened(self) -> None:
        """Called once per accepted TCP connection, before its first request is read."""

    def handle(self, request: HttpRequest) -> HttpResponse | None:
        """Answer the request, or return None to close the connection without answering."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops simultaneous connects, and the client's SYN retry costs 1 s.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: HttpApp) -> None:
        self.app = app
        self.connection_ids = itertools.count(1)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a reverse DNS lookup that can stall for seconds.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def close_open_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they end with the server."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up (timed out, or was dropped on purpose) is routine here, not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GraphSimulator"
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # buffered: headers and body leave in one flush after each request
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection_id = next(self.server.connection_ids)
        self.server.track(self.connection)
        self.server.app.connection_opened()

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests and the simulate command own the console, not an access log."""

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        request = self._request(body)
        try:
            response = self.server.app.handle(request)
        except Exception as error:  # a simulator bug must reach the client as a 500, not a hang
            traceback.print_exc()
            response = json_response(
                500,
                {"error": {"code": "InternalServerError", "message": f"Simulator failure: {error!r}"}},
            )
        if response is None:
            self.close_connection = True
            return
        self._write(request, response)

    def _read_body(self) -> bytes | None:
        """Read the whole body, so keep-alive stays in step even when the request is rejected."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.send_error(400, "Invalid Content-Length")
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _request(self, body: bytes) -> HttpRequest:
        target = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        return HttpRequest(
            method=self.command,
            path=target.path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=headers,
            body=body,
            request_id=str(uuid.uuid4()),
            client_request_id=headers.get("client-request-id") or str(uuid.uuid4()),
            connection_id=self.connection_id,
        )

    def _write(self, request: HttpRequest, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("request-id", request.request_id)
        self.send_header("client-request-id", request.client_request_id)
        # RFC 9110: a 204 has no content and carries no Content-Length.
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


# BaseHTTPRequestHandler dispatches on do_<METHOD>; every method goes to the app, which decides
# between an answer and 405 (the base class would answer 501 with an HTML body).
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
    setattr(_Handler, f"do_{_method}", _Handler._dispatch)


class HttpServerThread:
    """Runs the server on a daemon thread; stop() ends it and every connection it holds."""

    def __init__(self, app: HttpApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), app)
        self._thread = threading.Thread(target=self._serve, name=f"graph-simulator:{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_open_connections()
        self._thread.join()

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)
